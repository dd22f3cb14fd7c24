"""Child processes under a memory ceiling, so that a memory regression fails a test instead of
taking the machine down (``RLIMIT_AS``: the address space, which numpy and zlib allocate from)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Address-space ceiling of a child: the interpreter with numpy, numba and zarr loaded takes
#: ~0.5 GB of it, the rest is what a scan may use.
CEILING = 1536 << 20


def _limit(ceiling: int):
    def set_limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))

    return set_limit


def run_capped(
    argv: list[str], ceiling: int = CEILING, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **(env or {})}
    env.pop("CLASSWEIGHTS_DEBUG", None)
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env,
                          cwd=str(ROOT), preexec_fn=_limit(ceiling), timeout=600)  # fmt: skip


def cli(*args: object, ceiling: int = CEILING) -> subprocess.CompletedProcess[str]:
    """``classweights ARGS`` in a capped child."""
    return run_capped([sys.executable, "-m", "classweights.cli", *map(str, args)], ceiling)


def python(code: str, ceiling: int = CEILING) -> subprocess.CompletedProcess[str]:
    """``python -c CODE`` in a capped child; the code must not import torch (asserted)."""
    code = textwrap.dedent(code) + "\nimport sys\nassert 'torch' not in sys.modules\n"
    return run_capped([sys.executable, "-c", code], ceiling)


def one_line_error(r: subprocess.CompletedProcess[str], *names: object) -> str:
    """The single stderr line of an exit-2 run, checked to name each of ``names``."""
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    return lines[0]


_PEAK = """
import resource, runpy, sys
sys.argv = ["classweights", *{args!r}]
code = 0
try:
    runpy.run_module("classweights.cli", run_name="__main__")
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else 1
try:  # this process's own high-water mark: ru_maxrss survives exec, so it would report the
    # parent's size at fork whenever the parent (pytest, holding a test's arrays) is larger
    with open("/proc/self/status") as fh:
        peak = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sys.stderr.write("\\npeak_rss_kb %d\\n" % peak)
sys.exit(code)
"""


def cli_peak(*args: object, ceiling: int = CEILING, env: dict[str, str] | None = None):
    """``classweights ARGS`` in a capped child; ``(result, peak resident MB)``. The peak line
    is taken off ``stderr``. Numba's JIT is forced on (``CLASSWEIGHTS_JIT=1``), so runs compare
    with a baseline that loaded the same kernels."""
    code = _PEAK.format(args=[str(a) for a in args])
    extra = {"CLASSWEIGHTS_JIT": "1", "OPENBLAS_NUM_THREADS": "1", **(env or {})}
    r = run_capped([sys.executable, "-c", code], ceiling, extra)
    head, _, tail = r.stderr.rpartition("peak_rss_kb ")
    r.stderr = head.rstrip("\n") + ("\n" if head.strip() else "")
    return r, int(tail.split()[0]) / 1024 if tail else float("nan")

