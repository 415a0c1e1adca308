"""Process memory setting: keep freed heap memory mapped, so that evaluations do not page-fault it back in.

An evaluation allocates and frees many short-lived numpy arrays of tens to hundreds of KiB (per-sample affinity
tables, per-node columns). With glibc's defaults, freeing them shrinks the heap and the next evaluation faults the
same pages back in: on a 5,000-node cluster that was several hundred minor page faults per evaluation, a quarter
of its time (``bench/engine_matrix.py`` reports both). Padding the heap top keeps the pages: the resident size
may stay up to the pad above what is in use.

The ``planner`` command applies it at start-up (every subcommand: ``serve``, ``worker``, ``evaluate``...), sized
by ``PLANNER_HEAP_PAD_MIB`` (default 64; ``0`` leaves the allocator alone). Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import os
import sys

DEFAULT_HEAP_PAD_MIB = 64
_M_TOP_PAD = -2
"""``mallopt`` parameter: extra bytes kept when the heap grows, and left when it shrinks (glibc malloc.h)."""
_M_MMAP_THRESHOLD = -3
"""``mallopt`` parameter: requests of at least this size get their own mapping (glibc malloc.h)."""
_MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
"""Arrays below this come from the (padded) heap instead of a fresh mapping each time."""


def heap_pad_mib(env: dict[str, str] | None = None) -> int:
    """``PLANNER_HEAP_PAD_MIB`` (MiB, default 64; 0 disables); raises ValueError for a non-integer or negative."""
    value = (os.environ if env is None else env).get("PLANNER_HEAP_PAD_MIB", "").strip()
    if not value:
        return DEFAULT_HEAP_PAD_MIB
    if not value.isdigit():
        msg = f"PLANNER_HEAP_PAD_MIB must be a whole number of MiB (0 disables), not {value!r}"
        raise ValueError(msg)
    return int(value)


def tune_allocator(pad_mib: int | None = None) -> bool:
    """Pad glibc's heap by ``pad_mib`` MiB (default: :func:`heap_pad_mib`); True when the setting took effect."""
    pad = heap_pad_mib() if pad_mib is None else pad_mib
    if pad <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_TOP_PAD, pad * 1024 * 1024)) and bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES))
