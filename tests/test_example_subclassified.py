"""The forward-hook example of the subclassified loss runs and singles out the rare mode."""

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "subclassified_hook.py"


def test_subclassified_hook_example_runs():
    out = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    last = [ln for ln in out.stdout.splitlines() if ln.startswith("step ")][-1]
    rare = float(last.split("rare car ")[1].split(",")[0])
    common = float(last.split("common car ")[1].split(",")[0])
    assert rare > common  # the rare, hard mode of the class gets the larger weight
