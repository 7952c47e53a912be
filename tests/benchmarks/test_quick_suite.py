"""The quick benchmark suite runs to the end and writes a well-formed result file.

No timing is asserted: this only keeps ``python -m benchmarks`` from rotting.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = {"first_mirror", "steady", "notes", "idle", "storm", "latency", "scale", "baseline"}


def test_quick_suite_writes_well_formed_results(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,  # a guard against a hang: ~165 s on the shared 2-core machine under load
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "target" in done.stdout and "first mirror" in done.stdout
    doc = json.loads((tmp_path / "quick.json").read_text(encoding="utf-8"))
    assert doc["schema"] == 1 and doc["params"]["quick"] is True
    assert set(doc["scenarios"]) == SCENARIOS
    for run in doc["scenarios"]["first_mirror"] + doc["scenarios"]["scale"]:
        assert run["requests"] >= run["minimum"] > 0
        assert set(run["accounts"]) == {
            "agency",
            *(f"amo{n}" for n in range(1, 7)),
            *(f"btx{n}" for n in range(1, 5)),
        }
        assert run["peak_rss_mb"] > 0 and run["wall"] > 0
    assert doc["scenarios"]["storm"]["lost"] == 0
    assert doc["scenarios"]["steady"]["lost"] == 0
    notes = doc["scenarios"]["notes"]
    assert notes["lost"] == 0 and notes["requests"] >= notes["minimum"] > 0
    assert all(run["lost"] == 0 for run in doc["scenarios"]["storm"]["daemon"])
    daemon = doc["scenarios"]["latency"]["daemon"]
    assert daemon and all(run["edit_to_mirrored"]["n"] > 0 for run in daemon)
    for target in doc["targets"]:
        assert {"scenario", "metric", "measured", "target", "kind", "met"} <= set(target)
        assert isinstance(target["met"], bool)
    assert (tmp_path / "quick.svg").read_text(encoding="utf-8").startswith("<svg")
