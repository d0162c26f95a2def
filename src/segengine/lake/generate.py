"""Synthetic card portfolio (design §6): a customers table and monthly transaction partitions.

Each customer gets a latent behaviour profile (segment archetype, daily rate, spend level,
category mix, open/stop/drop dates); months are sampled from it with NumPy, one seed, no row loops.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl
import pyarrow as pa

from segengine.lake.layout import month_key
from segengine.lake.schemas import CUSTOMERS, TRANSACTIONS

EPOCH = date(1970, 1, 1)
BINS = 256  # resolution of categorical draws (one random byte each)
APPROVED_SHARE = 0.97
DECLINE_CUTOFF = round((1 - APPROVED_SHARE) * 2**16)  # declined: random 16-bit value below this
DAYS_PER_MONTH = 30.44
WEEKDAY_FACTOR = np.array([0.94, 0.94, 0.96, 1.0, 1.1, 1.12, 0.94], dtype=np.float32)  # Mon..Sun

CATEGORIES = ("Travel", "Airlines", "Hotels", "Grocery", "Gas", "Utilities",
              "Dining", "Retail", "Entertainment", "Healthcare")
MEDIAN_AMOUNT = np.array([250, 420, 300, 55, 42, 110, 38, 70, 45, 90], dtype=np.float32)
AMOUNT_SIGMA = np.array([0.5, 0.4, 0.45, 0.45, 0.3, 0.3, 0.5, 0.6, 0.5, 0.55], dtype=np.float32)
MERCHANTS = (
    "Expedia|Booking.com|Kayak|Priceline|Amtrak|Hertz",
    "Delta Air Lines|United Airlines|American Airlines|Southwest Airlines|JetBlue|Alaska Airlines",
    "Marriott|Hilton|Hyatt|IHG Hotels|Airbnb|Best Western",
    "Kroger|Safeway|Whole Foods|Trader Joe's|Publix|Aldi",
    "Shell|Chevron|ExxonMobil|BP|Speedway|Circle K",
    "Duke Energy|PG&E|Con Edison|Comcast|Verizon|AT&T",
    "Starbucks|Chipotle|McDonald's|Olive Garden|Panera Bread|DoorDash",
    "Amazon|Target|Walmart|Costco|Best Buy|Home Depot",
    "Netflix|Spotify|AMC Theatres|Ticketmaster|Steam|Disney+",
    "CVS Pharmacy|Walgreens|Kaiser Permanente|Quest Diagnostics|LabCorp|Rite Aid",
)
MERCHANT_NAMES = tuple(name for group in MERCHANTS for name in group.split("|"))
CHANNELS = ("Online", "In-Store", "Mobile")
CHANNEL_MIX = np.array([  # per category: Online, In-Store, Mobile
    [0.7, 0.1, 0.2], [0.75, 0.05, 0.2], [0.65, 0.15, 0.2], [0.1, 0.75, 0.15], [0.02, 0.9, 0.08],
    [0.6, 0.05, 0.35], [0.1, 0.65, 0.25], [0.4, 0.45, 0.15], [0.45, 0.3, 0.25], [0.15, 0.75, 0.1],
])

# Archetypes: name, share, monthly spend range, daily rate range, category count mix,
# mean age, premium-card probability. Rows per customer follow the rate (Budget: many small).
ARCHETYPES = ("hvt", "declining", "new", "budget", "stable", "lapsing", "dormant")
SHARE = np.array([0.125, 0.062, 0.125, 0.225, 0.408, 0.025, 0.030])
SPEND = np.array([[9000, 18000], [1400, 4000], [1500, 4200], [350, 1100], [800, 4300],
                  [150, 550], [300, 2500]], dtype=float)
RATE = 0.91 * np.array([[0.45, 0.8], [0.4, 0.7], [0.8, 1.3], [0.6, 1.0], [0.45, 0.8],
                        [0.2, 0.4], [0.2, 0.5]])
_BALANCED = [0.01, 0.006, 0.006, 0.20, 0.10, 0.05, 0.25, 0.21, 0.10, 0.068]
MIX = np.array([
    [0.12, 0.10, 0.10, 0.10, 0.06, 0.04, 0.20, 0.14, 0.08, 0.06],
    _BALANCED, _BALANCED,
    [0.0, 0.0, 0.0, 0.45, 0.22, 0.10, 0.12, 0.06, 0.04, 0.01],
    _BALANCED, _BALANCED, _BALANCED,
])
MEAN_AGE = np.array([48.0, 45.0, 32.0, 40.0, 44.0, 50.0, 52.0])
PREMIUM = np.array([0.85, 0.3, 0.2, 0.05, 0.3, 0.1, 0.15])

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Carlos", "Karen", "Daniel", "Lisa", "Wei", "Nancy", "Matthew", "Priya", "Anthony", "Sandra",
    "Mark", "Ashley", "Ahmed", "Maria", "Kevin", "Emily"
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Chen", "Patel", "Nguyen", "Kim"
)
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "example.com")
EMPLOYMENT = ("Employed", "Self-Employed", "Retired", "Student", "Unemployed")
EMPLOYMENT_MIX = np.array([  # by age band: < 26, 26-61, >= 62
    [0.50, 0.05, 0.0, 0.35, 0.10], [0.72, 0.16, 0.02, 0.03, 0.07], [0.25, 0.10, 0.65, 0.0, 0.0],
])
# state, population tier (sampling weight), cities
STATES = """AL 1 Birmingham,Montgomery|AK 1 Anchorage,Fairbanks|AZ 2 Phoenix,Tucson|AR 1 Little Rock
|CA 3 Los Angeles,San Diego,San Francisco|CO 2 Denver,Boulder|CT 1 Hartford,Stamford|DE 1 Wilmington
|DC 1 Washington|FL 3 Miami,Orlando,Tampa|GA 2 Atlanta,Savannah|HI 1 Honolulu|ID 1 Boise
|IL 2 Chicago,Springfield|IN 2 Indianapolis,Fort Wayne|IA 1 Des Moines|KS 1 Wichita,Topeka
|KY 1 Louisville,Lexington|LA 1 New Orleans,Baton Rouge|ME 1 Portland|MD 2 Baltimore
|MA 2 Boston,Worcester|MI 2 Detroit,Grand Rapids|MN 2 Minneapolis,Saint Paul|MS 1 Jackson
|MO 2 Kansas City,St. Louis|MT 1 Billings|NE 1 Omaha,Lincoln|NV 1 Las Vegas,Reno|NH 1 Manchester
|NJ 2 Newark,Jersey City|NM 1 Albuquerque|NY 3 New York,Buffalo,Rochester|NC 2 Charlotte,Raleigh
|ND 1 Fargo|OH 2 Columbus,Cleveland,Cincinnati|OK 1 Oklahoma City,Tulsa|OR 1 Portland,Eugene
|PA 2 Philadelphia,Pittsburgh|RI 1 Providence|SC 1 Charleston,Columbia|SD 1 Sioux Falls
|TN 2 Nashville,Memphis|TX 3 Houston,Dallas,Austin,San Antonio|UT 1 Salt Lake City|VT 1 Burlington
|VA 2 Virginia Beach,Richmond|WA 2 Seattle,Spokane|WV 1 Charleston|WI 2 Milwaukee,Madison
|WY 1 Cheyenne"""
_STATE_ROWS = [row.strip().split(" ", 2) for row in STATES.replace("\n", "").split("|")]
STATE_CODES = tuple(code for code, _, _ in _STATE_ROWS)
STATE_WEIGHT = np.array([float(tier) for _, tier, _ in _STATE_ROWS])
STATE_CITIES = tuple(tuple(cities.split(",")) for _, _, cities in _STATE_ROWS)


@dataclass(frozen=True)
class Profile:
    """Latent behaviour of every customer (arrays indexed by customer position)."""

    archetype: np.ndarray
    open_day: np.ndarray
    stop_day: np.ndarray
    drop_day: np.ndarray
    drop_mult: np.ndarray
    ramp_floor: np.ndarray
    rate: np.ndarray
    amount_mult: np.ndarray
    category_table: np.ndarray
    monthly_spend: np.ndarray


def _day(d: date) -> int:
    """Days since 1970-01-01."""
    return (d - EPOCH).days


def exact_counts(n: int, shares: np.ndarray) -> np.ndarray:
    """Split n into integer counts proportional to shares (largest remainder)."""
    raw = shares / shares.sum() * n
    counts = np.floor(raw).astype(np.int64)
    counts[np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]] += 1
    return counts


def lookup_table(probabilities: np.ndarray) -> np.ndarray:
    """Per row, the category of each of BINS equal quantiles: a draw is table[row, random bin]."""
    rows, width = probabilities.shape
    cum = np.cumsum(probabilities, axis=1, dtype=np.float64)
    scale = BINS / np.where(cum[:, -1:] > 0, cum[:, -1:], 1.0)
    edges = np.rint(cum * scale).astype(np.int32)
    edges[:, -1] = BINS
    edges[:, 1:] -= edges[:, :-1].copy()
    return np.repeat(np.tile(np.arange(width, dtype=np.uint8), rows), edges.ravel()).reshape(
        rows, BINS)


def sorted_uniforms(group: np.ndarray, sizes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniforms in [0, 1), ascending within each run of `group` (order statistics from spacings)."""
    spacing = np.cumsum(rng.standard_exponential(len(group) + len(sizes), dtype=np.float32),
                        dtype=np.float64)
    block_end = np.cumsum(sizes + 1) - 1  # each group owns sizes + 1 spacings
    base = np.concatenate(([0.0], spacing[block_end[:-1]]))
    total = spacing[block_end] - base
    return (spacing[np.arange(len(group)) + group] - base[group]) / total[group]


CHANNEL_TABLE = lookup_table(CHANNEL_MIX)
EMPLOYMENT_TABLE = lookup_table(EMPLOYMENT_MIX)


def profile(n: int, *, months: int, end: date, seed: int) -> Profile:
    """Draw the latent behaviour of n customers; deterministic in its arguments."""
    rng = np.random.default_rng((seed, 0))
    arch = rng.permutation(np.repeat(np.arange(len(ARCHETYPES)), exact_counts(n, SHARE)))
    is_ = {name: arch == i for i, name in enumerate(ARCHETYPES)}
    end_day, never = _day(end), _day(end) + 1
    in_window = rng.integers(215, max(216, int(months * DAYS_PER_MONTH)), n)
    days_ago = np.where(rng.random(n) < 0.15, in_window, rng.integers(560, 5500, n))
    days_ago = np.where(is_["lapsing"] | is_["dormant"], rng.integers(560, 5500, n), days_ago)
    days_ago = np.where(is_["new"], rng.integers(120, 173, n), days_ago)
    stop_ago = np.where(is_["lapsing"], rng.integers(60, 151, n), rng.integers(200, 451, n))
    drop_mult = np.where(rng.random(n) < 0.4, 0.0, rng.uniform(0.1, 0.4, n))  # 40% churn
    spend = np.exp(rng.uniform(np.log(SPEND[arch, 0]), np.log(SPEND[arch, 1])))
    rate = rng.uniform(RATE[arch, 0], RATE[arch, 1])
    mix = MIX[arch] * rng.uniform(0.75, 1.25, (n, len(CATEGORIES)))
    mean_amount = (mix / mix.sum(1, keepdims=True)) @ (MEDIAN_AMOUNT * np.exp(AMOUNT_SIGMA**2 / 2))
    return Profile(
        archetype=arch,
        open_day=end_day - days_ago,
        stop_day=np.where(is_["lapsing"] | is_["dormant"], end_day - stop_ago, never),
        drop_day=np.where(is_["declining"], end_day - 91 - rng.integers(0, 21, n), never),
        drop_mult=drop_mult.astype(np.float32),
        ramp_floor=np.where(is_["new"], rng.uniform(0.25, 0.4, n), np.nan).astype(np.float32),
        rate=rate.astype(np.float32),
        amount_mult=(spend / (rate * DAYS_PER_MONTH * APPROVED_SHARE * mean_amount)).astype(
            np.float32),
        category_table=lookup_table(mix),
        monthly_spend=spend,
    )


def numbered_ids(prefix: str, count: int) -> pl.Series:
    """`<prefix>00000001` … built straight into an Arrow string buffer (prefix: 4k bytes)."""
    if len(prefix) % 4 or count >= 10**8:
        raise ValueError("prefix must be a multiple of 4 bytes and count < 1e8")
    d = np.arange(10_000)
    digits = (np.stack([d // 1000, d // 100 % 10, d // 10 % 10, d % 10], 1) + 48).astype(np.uint8)
    table = digits.view(np.uint32).ravel()
    head = np.frombuffer(prefix.encode(), dtype=np.uint32)
    blocks = count // 10_000 + 1
    words = np.empty((count, len(head) + 2), dtype=np.uint32)
    words[:, : len(head)] = head
    words[:, -2] = np.repeat(table[:blocks], 10_000)[1 : count + 1]
    words[:, -1] = np.tile(table, blocks)[1 : count + 1]
    width = words.shape[1] * 4
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(words)]
    return pl.Series(pl.from_arrow(pa.Array.from_buffers(pa.string(), count, buffers)))


def customer_ids(n: int) -> pl.Series:
    """CUST00000001 … in order."""
    return numbered_ids("CUST", n).alias("customer_id")


def cents_to_decimal(cents: np.ndarray) -> pl.Series:
    """Exact Decimal(12,2) from int64 cents via an int128 (low word, sign word) buffer."""
    words = np.zeros((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    if len(cents) and cents.min() < 0:
        words[:, 1] = words[:, 0] >> 63
    arrow = pa.Array.from_buffers(pa.decimal128(12, 2), len(cents), [None, pa.py_buffer(words)])
    return pl.Series(pl.from_arrow(arrow))


def _pick(labels: tuple[str, ...], index: np.ndarray) -> pl.Series:
    """Strings from a small label table by index."""
    return pl.Series(labels, dtype=pl.String).gather(index.astype(np.uint32))


def generate_customers(*, customers: int, months: int, end: date, seed: int) -> pl.DataFrame:
    """The customers table (schema CUSTOMERS) of a portfolio."""
    n, prof = customers, profile(customers, months=months, end=end, seed=seed)
    rng = np.random.default_rng((seed, 1))
    first = _pick(FIRST_NAMES, rng.integers(0, len(FIRST_NAMES), n))
    last = _pick(LAST_NAMES, rng.integers(0, len(LAST_NAMES), n))
    ids = customer_ids(n)
    age = np.clip(np.rint(rng.normal(MEAN_AGE[prof.archetype], 11.0)), 22, 75).astype(np.int32)
    band = np.where(age < 26, 0, np.where(age < 62, 1, 2))
    state = rng.choice(len(STATE_CODES), n, p=STATE_WEIGHT / STATE_WEIGHT.sum())
    n_cities = np.array([len(c) for c in STATE_CITIES])
    city = np.cumsum(n_cities)[state] - 1 - (rng.random(n) * n_cities[state]).astype(np.int64)
    premium = rng.random(n) < PREMIUM[prof.archetype]
    limit = np.clip(np.rint(prof.monthly_spend * rng.uniform(2.2, 4.0, n) / 500) * 500, 5000, 50000)
    return pl.DataFrame({
        "customer_id": ids,
        "first_name": first,
        "last_name": last,
        "email": _emails(first, last, ids, rng),
        "age": age,
        "state": _pick(STATE_CODES, state),
        "city": _pick(tuple(c for cities in STATE_CITIES for c in cities), city),
        "employment_status": _pick(EMPLOYMENT, EMPLOYMENT_TABLE[band, rng.integers(0, BINS, n)]),
        "card_type": _pick(("Standard", "Premium"), premium),
        "credit_limit": cents_to_decimal(limit.astype(np.int64) * 100),
        "account_open_date": pl.Series(prof.open_day.astype(np.int32)).cast(pl.Date),
    }, schema=CUSTOMERS)


def _emails(first: pl.Series, last: pl.Series, ids: pl.Series,
            rng: np.random.Generator) -> pl.Series:
    """first.last<customer number>@domain, lower case."""
    domain = _pick(DOMAINS, rng.integers(0, len(DOMAINS), len(ids)))
    return pl.DataFrame({"f": first, "l": last, "i": ids, "d": domain}).select(
        pl.concat_str([pl.col("f").str.to_lowercase(), pl.lit("."), pl.col("l").str.to_lowercase(),
                       pl.col("i").str.slice(4).str.strip_chars_start("0"), pl.lit("@"),
                       pl.col("d")])
    ).to_series().alias("email")


def month_spans(end: date, months: int) -> list[tuple[date, date]]:
    """(first day, last day) of each calendar month, oldest first; the last one stops at end."""
    spans = []
    year, month = end.year, end.month
    for _ in range(months):
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        spans.append((first, min(following - timedelta(days=1), end)))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return spans[::-1]


def daily_rates(prof: Profile, open_day: np.ndarray, days: np.ndarray, end_day: int) -> np.ndarray:
    """Expected transactions per customer (rows) and day (columns)."""
    day = days[None, :]
    rates = prof.rate[:, None] * WEEKDAY_FACTOR[(day + 3) % 7]
    rates *= (day >= open_day[:, None]) & (day < prof.stop_day[:, None])
    rates *= np.where(day >= prof.drop_day[:, None], prof.drop_mult[:, None], np.float32(1.0))
    new = np.flatnonzero(~np.isnan(prof.ramp_floor))
    if len(new):  # New & Growing: convex ramp from the open date to the end date
        span = np.maximum(end_day - open_day[new], 1)[:, None]
        frac = np.clip((day - open_day[new, None]) / span, 0.0, 1.0).astype(np.float32)
        floor = prof.ramp_floor[new, None]
        rates[new] *= (floor + frac**2) / (floor + 1)
    return rates


def month_transactions(prof: Profile, ids: pl.Series, open_day: np.ndarray,
                       span: tuple[date, date], *, end: date, seed: int) -> pl.DataFrame:
    """One calendar month of transactions (schema TRANSACTIONS), ordered by customer, date."""
    first, last = span
    rng = np.random.default_rng((seed, 2, first.year, first.month))
    days = np.arange(_day(first), _day(last) + 1)
    rates = daily_rates(prof, open_day, days, _day(end))
    # Randomised rounding, not Poisson: habitual card use is regular month to month.
    counts = (rates.sum(axis=1) + rng.random(len(rates), dtype=np.float32)).astype(np.int64)
    cust = np.repeat(np.arange(len(rates)), counts)
    quantile = np.minimum(sorted_uniforms(cust, counts, rng) * BINS, BINS - 1).astype(np.int64)
    day = lookup_table(rates).ravel()[(cust << 8) | quantile]  # ascending within customer
    bits = rng.bit_generator.random_raw(len(cust))  # one 64-bit word per row: four draws
    category = prof.category_table.ravel()[(cust << 8) | (bits & 0xFF).astype(np.int64)]
    channel = CHANNEL_TABLE.ravel()[
        (category.astype(np.int64) << 8) | ((bits >> 8) & 0xFF).astype(np.int64)]
    merchant = category * np.uint32(6) + (((bits >> 16) & 0xFFFF) * 6 >> 16).astype(np.uint32)
    declined = ((bits >> 32) & 0xFFFF) < DECLINE_CUTOFF
    noise = rng.standard_normal(len(cust), dtype=np.float32)
    amount = prof.amount_mult[cust] * MEDIAN_AMOUNT[category]
    amount *= np.exp(AMOUNT_SIGMA[category] * noise)
    return pl.DataFrame({
        "transaction_id": numbered_ids(f"TX{first:%Y%m}", len(cust)),
        "customer_id": ids.gather(cust.astype(np.uint32)),
        "transaction_date": pl.Series((days[0] + day).astype(np.int32)).cast(pl.Date),
        "transaction_amount": cents_to_decimal(np.maximum(np.rint(amount * 100), 100)),
        "merchant_name": _pick(MERCHANT_NAMES, merchant),
        "merchant_category": _pick(CATEGORIES, category),
        "channel": _pick(CHANNELS, channel),
        "status": _pick(("approved", "declined"), declined),
    }, schema=TRANSACTIONS)


def generate_transactions(customers: pl.DataFrame, *, months: int, end: date,
                          seed: int) -> Iterator[tuple[str, pl.DataFrame]]:
    """Yield (YYYY-MM, partition) per calendar month, oldest first; no row after `end` or before
    a customer's account_open_date."""
    prof = profile(customers.height, months=months, end=end, seed=seed)
    opened = customers["account_open_date"].cast(pl.Int32).fill_null(np.iinfo(np.int32).min)
    open_day = opened.to_numpy().astype(np.int64)
    ids = customers["customer_id"]
    for span in month_spans(end, months):
        yield month_key(span[0]), month_transactions(prof, ids, open_day, span, end=end, seed=seed)
