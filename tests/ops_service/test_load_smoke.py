"""A short run of bench/load_test.py (SQLite, 2 seconds) so the script does not rot; its lost-write check must
hold (the script exits 1 when an accepted apply is missing from the revision history)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_load_script_runs_and_loses_no_write(tmp_path):
    output = tmp_path / "load.md"
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load_test.py"), "--seconds", "2", "--clients", "4",
         "--backend", "sqlite", "--output", str(output)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    rows = [line.split("|")[1:-1] for line in output.read_text().splitlines() if line.startswith("| sqlite")]
    by_kind = {row[3].strip(): row for row in rows}
    assert set(by_kind) == {"evaluate", "apply"}
    assert int(by_kind["evaluate"][4]) > 0
    assert int(by_kind["apply"][4]) > 0
    assert by_kind["apply"][9].strip() == "0"  # writes lost
