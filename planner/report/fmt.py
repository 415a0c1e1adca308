"""Number formatting shared by the renderers (one place, so every format prints the same figures)."""

from __future__ import annotations

from planner.engine.results import PolicyKey


def pct(value: float | None, digits: int = 0) -> str:
    """``0.1666`` -> ``17%``; ``None`` -> ``n/a``."""
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def ratio(value: float) -> str:
    """Hottest-Pod load over the mean: ``1.40x``."""
    return f"{value:.2f}x"


def rate(value: float) -> str:
    """Connections per second, compact: ``1200``, ``0.33``."""
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def policy_label(policy: PolicyKey) -> str:
    """Short policy label for tables: ``ETP=Local ITP=Cluster aff=ClientIP topo=PreferSameZone``."""
    parts = []
    if policy.external_traffic_policy is not None:
        parts.append(f"ETP={policy.external_traffic_policy}")
    if policy.internal_traffic_policy is not None:
        parts.append(f"ITP={policy.internal_traffic_policy}")
    parts.append(f"affinity={policy.session_affinity}")
    if policy.topology != "none":
        parts.append(f"topology={policy.topology}")
    return " ".join(parts)


__all__ = ["pct", "policy_label", "rate", "ratio"]
