"""`import classweights` stays light, and the package works from a read-only install."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_light():
    code = (
        "import sys, classweights as cw; cw.ClassStats; "
        "heavy = [m for m in ('torch', 'dask', 'distributed', 'zarr', 'rich', 'numba', 'PIL', 'matplotlib') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_read_only_install_still_counts(tmp_path):
    """No writable cache beside the package nor in the home folder: the kernels still run.

    Root ignores permission bits, so the test blocks the cache locations instead: the
    package's ``__pycache__`` is a file, and HOME points at a file.
    """
    site = tmp_path / "site"
    pkg = site / "classweights"
    shutil.copytree(ROOT / "classweights", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for d in [pkg, *[p for p in pkg.rglob("*") if p.is_dir()]]:
        (d / "__pycache__").write_text("not a folder")
    (tmp_path / "home").write_text("not a folder")
    code = (
        "import sys; "
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]; "
        f"sys.path.insert(0, {str(site)!r}); "
        "import numpy as np, classweights as cw; "
        "s = cw.scan([np.array([[0, 1], [1, 255]], np.uint8)], num_classes=2, ignore_index=255); "
        "print(s.pixels.tolist(), cw.__file__)"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CACHE_HOME=str(tmp_path / "home"),
        PYTHONDONTWRITEBYTECODE="1",
        CLASSWEIGHTS_JIT="1",  # a job this small would otherwise be counted without numba
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("[1, 2]") and str(pkg) in out.stdout
