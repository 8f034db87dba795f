"""bench/soak.py, run for a few seconds with a few clients so that it cannot rot: it starts
the machine, every behaviour runs, and its report has the numbers it promises.  Its goals
(nothing refused, every polite query answered, fds back) are the benchmark's to report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def test_soak_runs_briefly_and_reports() -> None:
    result = subprocess.run(
        [sys.executable, str(SOAK), "--clients", "6", "--seconds", "3", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    counts = report["counts"]
    assert set(counts["behaviours"]) <= {
        "polite",
        "garbage",
        "half",
        "mute",
        "never_reading",
        "reset",
    }
    assert counts["connections"] >= 6
    assert counts["polite_answered"] <= counts["polite_sent"]
    assert report["warmup_polite_answered"] == 1
    assert report["machine_alive"]
    for moment in ("start", "end"):
        assert report[moment]["fds"] > 0 and report[moment]["threads"] >= 1
        assert report[moment]["rss_kib"] > 0
