"""docs/cli.md is the ``--help`` of every command as the code has it now."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current():
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    script = [sys.executable, "docs/make_cli_reference.py", "--stdout"]
    fresh = subprocess.run(script, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert fresh.returncode == 0, fresh.stderr
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == fresh.stdout, (
        "docs/cli.md is stale: run PYTHONPATH=$PWD python docs/make_cli_reference.py"
    )
