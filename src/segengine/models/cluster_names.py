"""Cluster names that keep their promise (design §5.6): a documented rule on each centroid's
position against the whole population.

Position of a cluster (centroid = the mean of its members' log1p(R, F, M), back in days,
purchases and money), against the population of all clustered customers:
- recent: centroid recency <= the population's median recency;
- frequent / spender: centroid frequency / monetary > the population's median;
- quiet: every member's recency is beyond the portfolio's typical purchase gap (§5.9), so an
  inactivity name can never cover someone who bought within the usual gap;
- oldest: its centroid recency is the largest of all clusters (only it can be Dormant, so a
  quieter cluster is never named more mildly than a livelier one);
- share: the cluster's share of customers.
Clusters are named from the most valuable centroid down (cluster_id order); each takes the first
name in NAME_RULES that is still free and whose promise its position keeps. A cluster holding
more than half of the customers keeps no promise of standing out: it takes a neutral name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Position:
    """Where a cluster's centroid stands against the population (see module docstring)."""

    recent: bool
    frequent: bool
    spender: bool
    quiet: bool
    share: float
    oldest: bool = False


def _small(p: Position, limit: float = 0.5) -> bool:
    return p.share <= limit


NAME_RULES: tuple[tuple[str, Callable[[Position], bool]], ...] = (
    ("Champions", lambda p: p.recent and p.frequent and p.spender and _small(p, 0.35)),
    ("Loyal Customers", lambda p: p.recent and p.frequent and _small(p)),
    ("Big Spenders", lambda p: p.recent and p.spender and _small(p)),
    ("Occasional Shoppers", lambda p: p.recent and _small(p)),
    ("At-Risk (Lapsing)", lambda p: not p.recent and p.quiet and p.frequent and _small(p)),
    ("Dormant", lambda p: not p.recent and p.quiet and p.oldest and not p.frequent
     and not p.spender and _small(p)),
    ("Fading Regulars", lambda p: not p.recent and p.quiet and _small(p)),
    # neutral names: a majority cluster, or a cluster whose promising names are taken
    ("Core Regulars", lambda p: p.recent),
    ("Inactive Majority", lambda p: p.quiet),
    ("Mainstream Customers", lambda p: True),
)
"""(name, promise) in the order names are tried; the first free name whose promise holds wins."""

INACTIVITY_NAMES = ("At-Risk (Lapsing)", "Dormant", "Fading Regulars", "Inactive Majority")
"""Names that say a customer has stopped buying (never given to a cluster that is not quiet)."""


def name_clusters(positions: list[Position]) -> list[str]:
    """One unique name per cluster; positions must be in value order (most valuable first)."""
    names: list[str] = []
    for p in positions:
        name = next((n for n, promise in NAME_RULES if n not in names and promise(p)), None)
        names.append(name or f"Mixed Customers {len(names)}")
    return names
