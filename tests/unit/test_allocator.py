"""The heap pad of the ``planner`` process (planner.allocator)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from planner.allocator import DEFAULT_HEAP_PAD_MIB, heap_pad_mib, tune_allocator
from planner.cli.main import main


def test_pad_setting_defaults_and_parses() -> None:
    assert heap_pad_mib({}) == DEFAULT_HEAP_PAD_MIB == 64
    assert heap_pad_mib({"PLANNER_HEAP_PAD_MIB": " 16 "}) == 16
    assert heap_pad_mib({"PLANNER_HEAP_PAD_MIB": "0"}) == 0


@pytest.mark.parametrize("value", ["-1", "1.5", "lots"])
def test_pad_setting_rejects_what_is_not_a_whole_number(value: str) -> None:
    with pytest.raises(ValueError, match="PLANNER_HEAP_PAD_MIB"):
        heap_pad_mib({"PLANNER_HEAP_PAD_MIB": value})


def test_zero_leaves_the_allocator_alone() -> None:
    assert tune_allocator(0) is False


_FAULTS = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from planner.allocator import tune_allocator
    if sys.argv[1] == "tuned":
        assert tune_allocator(64)
    def churn():
        # what an evaluation does: short-lived arrays of a few hundred KiB (480,000 bytes each), several alive at once
        for _ in range(20):
            a = np.ones((400, 150))
            arrays = [a, a * 2.0, a + 1.0, np.ones(60_000, dtype=object)]
            del a, arrays
    churn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        churn()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


def _faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


def test_the_pad_keeps_freed_arrays_mapped() -> None:
    # Untuned, glibc returns the freed arrays' pages and faults them back in on every round: after the first free
    # of a mapped 480,000-byte array its dynamic thresholds become about that size for mappings and twice it for
    # trimming, so the four arrays (about 470 pages) come from the heap top and, freed together (1.9 MB, above the
    # trim threshold), are given back each time. Two freed together would sit at the trim threshold itself, which
    # made the count depend on the heap's layout. Padded, the pages stay mapped after the first round.
    untuned, tuned = _faults("default"), _faults("tuned")
    assert untuned > 1000
    assert tuned < untuned / 20


def test_the_planner_command_rejects_a_bad_pad_setting_with_exit_2() -> None:
    # A subcommand that does nothing else (help): the group's start-up reads PLANNER_HEAP_PAD_MIB first.
    result = CliRunner().invoke(main, ["db", "--help"], env={"PLANNER_HEAP_PAD_MIB": "lots"})
    assert result.exit_code == 2
    assert "PLANNER_HEAP_PAD_MIB must be a whole number of MiB" in result.output
    assert CliRunner().invoke(main, ["db", "--help"], env={"PLANNER_HEAP_PAD_MIB": "16"}).exit_code == 0
