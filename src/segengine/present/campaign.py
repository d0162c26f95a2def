"""Campaign audiences and their expected return (design §13): pure functions.

Audience filter grammar (`segengine export --audience`, the app's campaign builder):
    filter  := clause ("," clause)*          clauses are ANDed; an empty filter is everyone
    clause  := key "=" value ("|" value)*    the values of one key are ORed
    key     := segment | rfm_segment | cluster | lifecycle | churn_band | eligible
e.g. `segment=Declining|Budget-Conscious,churn_band=High Risk,eligible=retention`.
Values of fixed vocabularies are matched case-insensitively and checked (a typo is an error,
not an empty audience); cluster names vary by run and are taken as written. The filter becomes
SQL over customer_360_profile with column names from a fixed table and every value bound as a
parameter, never formatted into the text.

ROI of a campaign on an audience of N customers whose last-90-day spend totals S:
    responders      = N × r                     r = expected response rate
    revenue         = r × u × S                 u = uplift in spend of a responder, as a share
                                                    of their spend over the next 90 days
                                                    (taken equal to their last 90 days)
    cost            = N × c                     c = offer cost per targeted customer
    net             = revenue − cost
    ROI             = net / cost                (none when cost = 0)
    break-even rate = cost / (u × S)            the r at which revenue = cost (none when u×S = 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from segengine.errors import ConfigError
from segengine.models.rfm import SEGMENTS as RFM_SEGMENTS
from segengine.models.segments import SEGMENT_NAMES

LIFECYCLE_STAGES = ("New", "Active", "Cooling", "Lapsing", "Lost")
CHURN_BANDS = ("High Risk", "Medium Risk", "Low Risk", "Not Scored")
ELIGIBILITY = {"retention": "eligible_for_retention_campaign",
               "onboarding": "eligible_for_onboarding_campaign",
               "premium": "eligible_for_premium_campaign"}

KEYS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "segment": ("customer_segment", SEGMENT_NAMES),
    "rfm_segment": ("rfm_segment", RFM_SEGMENTS),
    "cluster": ("cluster_name", None),
    "lifecycle": ("lifecycle_stage", LIFECYCLE_STAGES),
    "churn_band": ("churn_risk_category", CHURN_BANDS),
    "eligible": ("", tuple(ELIGIBILITY)),
}
"""Filter key -> (customer_360_profile column, accepted values or None for any text)."""

EXPORT_COLUMNS = (
    "customer_id", "customer_key", "full_name", "email", "customer_segment", "rfm_segment",
    "cluster_name", "lifecycle_stage", "churn_risk_category", "churn_risk_score",
    "lifetime_value", "spend_last_90_days", "avg_monthly_spend", "days_since_last_transaction",
    "eligible_for_retention_campaign", "eligible_for_onboarding_campaign",
    "eligible_for_premium_campaign", "as_of_date",
)
"""Columns of an exported audience (those the warehouse has, in this order)."""


@dataclass(frozen=True)
class Audience:
    """Chosen values per filter key (ANDed across keys, ORed within one)."""

    clauses: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def describe(self) -> str:
        """The filter in the grammar above (round-trips through `parse_audience`)."""
        return ",".join(f"{k}={'|'.join(v)}" for k, v in self.clauses) or "(everyone)"


def _error(text: str, what: str) -> ConfigError:
    return ConfigError(f"audience filter {text!r}: {what}. Write key=value[|value],... with keys "
                       f"{', '.join(KEYS)}, e.g. \"segment=Declining,churn_band=High Risk\"")


def parse_audience(text: str) -> Audience:
    """Parse the filter grammar; raise ConfigError naming the bad part and the accepted values."""
    clauses: dict[str, tuple[str, ...]] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, raw = part.partition("=")
        key = key.strip().lower()
        if not sep:
            raise _error(text, f"{part!r} has no '='")
        if key not in KEYS:
            raise _error(text, f"unknown key {key!r}")
        if key in clauses:
            raise _error(text, f"key {key!r} appears twice (use {key}=a|b for either)")
        values = [v.strip() for v in raw.split("|")]
        if not all(values):
            raise _error(text, f"{key} has an empty value")
        clauses[key] = tuple(_canonical(text, key, v) for v in values)
    return Audience(tuple(clauses.items()))


def _canonical(text: str, key: str, value: str) -> str:
    accepted = KEYS[key][1]
    if accepted is None:
        return value
    for name in accepted:
        if name.lower() == value.lower():
            return name
    raise _error(text, f"{key} {value!r} is not one of: {', '.join(accepted)}")


def audience_where(audience: Audience, columns: set[str] | list[str]) -> tuple[str, list[Any]]:
    """(WHERE condition, bound values) over customer_360_profile for the audience; `columns`
    are the table's columns, so a filter on a column this warehouse lacks is a clear error."""
    conditions: list[str] = ["TRUE"]
    params: list[Any] = []
    for key, values in audience.clauses:
        if key == "eligible":
            conditions.append("(" + " OR ".join(f"{ELIGIBILITY[v]} = TRUE" for v in values) + ")")
            continue
        column = KEYS[key][0]
        if column not in columns:
            raise ConfigError(f"the published customer_360_profile has no {column} column, so "
                              f"{key}= cannot be used. Re-run `segengine run` with a segengine "
                              "that computes it, or drop that filter")
        conditions.append(f"{column} IN ({', '.join('?' for _ in values)})")
        params.extend(values)
    return " AND ".join(conditions), params


CENT = Decimal("0.01")


def _pct(value: Decimal) -> Decimal:
    return (value * 100).quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class CampaignOutcome:
    """Expected outcome; money in cents, rates in % (2 dp, half-up); None when undefined."""

    customers: int
    responders: Decimal
    revenue: Decimal
    cost: Decimal
    net: Decimal
    roi_pct: Decimal | None
    break_even_response_pct: Decimal | None


def campaign_roi(*, customers: int, baseline_spend: Decimal, cost_per_customer: Decimal,
                 response_rate_pct: Decimal, uplift_pct: Decimal) -> CampaignOutcome:
    """The module's ROI formula on exact decimals (rates given in %, e.g. 10 for 10%)."""
    if customers < 0 or baseline_spend < 0 or cost_per_customer < 0:
        raise ConfigError("customers, spend and cost per customer must not be negative")
    if not (0 <= response_rate_pct <= 100) or uplift_pct < 0:
        raise ConfigError("the response rate must be within 0..100% and the uplift at least 0%")
    r, u = Decimal(response_rate_pct) / 100, Decimal(uplift_pct) / 100
    revenue = r * u * Decimal(baseline_spend)
    cost = customers * Decimal(cost_per_customer)
    net = revenue - cost
    return CampaignOutcome(
        customers=customers,
        responders=(customers * r).quantize(CENT, ROUND_HALF_UP),
        revenue=revenue.quantize(CENT, ROUND_HALF_UP),
        cost=cost.quantize(CENT, ROUND_HALF_UP),
        net=net.quantize(CENT, ROUND_HALF_UP),
        roi_pct=_pct(net / cost) if cost else None,
        break_even_response_pct=_pct(cost / (u * baseline_spend)) if u * baseline_spend else None,
    )
