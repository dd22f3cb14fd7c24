"""Time to the first result: `--version`/`--help` import nothing heavy; small scans skip the JIT.

Import checks only (no timings): speed is measured by ``benchmarks/bench_startup.py``.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from naive import naive_counts
from PIL import Image

from classweights.synthetic import write_pngs

HEAVY = ("numba", "zarr", "rich", "torch", "dask", "distributed")

RUN_CLI = """
import sys
sys.argv = ["classweights", *sys.argv[1:]]
from classweights.cli import main
try:
    main()
except SystemExit:
    pass
print("MODULES " + ",".join(sorted(sys.modules)), file=sys.stderr)
"""


def run_cli(*args, env=None):
    env = {k: v for k, v in (env or os.environ).items() if k != "CLASSWEIGHTS_JIT"}
    out = subprocess.run(
        [sys.executable, "-c", RUN_CLI, *args], capture_output=True, text=True, env=env,
        timeout=300,
    )  # fmt: skip
    line = next(x for x in out.stderr.splitlines() if x.startswith("MODULES "))
    return out.stdout, set(line[len("MODULES ") :].split(","))


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_nothing_heavy(flag):
    out, modules = run_cli(flag)
    assert "classweights" in out
    assert sorted(m for m in HEAVY if m in modules) == []


def test_small_cold_stats_counts_with_numpy_and_never_imports_numba(tmp_path):
    write_pngs(tmp_path, 5, 36, 48, seed=0)
    out, modules = run_cli(
        "stats", str(tmp_path), "--num-classes", "19", "--ignore-index", "255",
        "--format", "json", "--no-cache",
    )  # fmt: skip
    assert "numba" not in modules and "classweights.kernels" not in modules
    masks = [np.asarray(Image.open(p)) for p in sorted(tmp_path.glob("*.png"))]
    rows, _, _, _ = naive_counts(masks, 19, 255)
    pixels = [c["pixels"] for c in json.loads(out)["classes"]]
    assert pixels == rows.sum(0).tolist()


def test_lazy_command_table_matches_the_commands():
    # `classweights --help` lists commands from a table, without importing them
    import importlib

    from classweights.cli import _COMMANDS, cli

    for name, (module, attr, short) in _COMMANDS.items():
        command = getattr(importlib.import_module(f"classweights.cli.{module}"), attr)
        assert command.name == name
        assert short == command.get_short_help_str(10**6)
        assert cli.get_command(None, name) is command


def test_package_scan_stays_the_function_after_importing_the_module():
    code = (
        "import classweights as cw, classweights.scan, importlib; "
        "importlib.import_module('classweights.cli.flags'); importlib.import_module('classweights.scan.engine'); "
        "import numpy as np; "
        "print(callable(cw.scan), cw.scan([np.zeros((2, 2), np.uint8)], num_classes=1).pixels)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "[4]"]
