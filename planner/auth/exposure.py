"""Refuse to serve beyond loopback without authentication, unless told explicitly that it is insecure."""

from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or name to listen on) only accepts connections from this machine."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # another host name: it may resolve to any interface


def exposure_error(host: str, *, auth: str, insecure: bool) -> str | None:
    """Why serving on ``host`` must not start, or ``None`` when it may."""
    if auth == "required" or insecure or is_loopback(host):
        return None
    return (
        f"refusing to listen on {host} with authentication disabled: anyone who can reach this address could read "
        "and change every namespace. Set PLANNER_AUTH=required and create tokens with `planner token create`, "
        "or pass --insecure (PLANNER_INSECURE=1) to accept that risk."
    )
