"""Interrupted and concurrent processes: a rerun is exact, the cache is never left damaged."""

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import save_png
from naive import check_stats
from robust_helpers import child, mask

import classweights as cw
from classweights import cached_scan
from classweights.cache import Store

KW = {"num_classes": 5}


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    masks = [mask(32, 48, seed=i) for i in range(16)]
    for i, m in enumerate(masks):
        save_png(d / f"{i:02d}.png", m)
    return d, masks


_SCAN = """
    import os, signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    from classweights import cached_scan
    {patch}
    cached_scan({data!r}, cache_dir={cache!r}, workers=1, num_classes=5, progress={progress})
    print("DONE", flush=True)
"""

# stop inside the scan, after the first unit of 4 images
_MID_SCAN = """
def progress(done, total):
    print("SCANNING", done, flush=True)
    {action}
"""

# stop inside Store.write, after the arrays and before meta.json and the rename
_MID_WRITE = """
import classweights.cache.store as store
real_dump = store.json.dump
def dump(*a, **k):
    print("WRITING", flush=True)
    {action}
    return real_dump(*a, **k)
store.json.dump = dump
"""


def _script(data, cache, where, sig):
    action = (
        "os.kill(os.getpid(), signal.SIGINT); time.sleep(5)" if sig == "INT" else "time.sleep(60)"
    )
    if where == "scan":
        patch = "\n".join("    " + line for line in _MID_SCAN.format(action=action).splitlines())
        return _SCAN.format(
            patch=patch.strip(), data=str(data), cache=str(cache), progress="progress"
        )
    patch = "\n".join("    " + line for line in _MID_WRITE.format(action=action).splitlines())
    return _SCAN.format(patch=patch.strip(), data=str(data), cache=str(cache), progress="None")


@pytest.mark.parametrize("where", ["scan", "write"])
@pytest.mark.parametrize("sig", ["INT", "KILL"])
def test_interrupted_then_rerun_is_exact(data, tmp_path, where, sig):
    folder, masks = data
    cache = tmp_path / "cache"
    p = child(_script(folder, cache, where, sig))
    first = p.stdout.readline().split()
    assert first and first[0] == ("SCANNING" if where == "scan" else "WRITING"), p.stderr.read()
    if sig == "KILL":
        p.send_signal(signal.SIGKILL)
    out, err = p.communicate(timeout=60)
    if sig == "INT":
        assert p.returncode != 0 and err.rstrip().endswith("KeyboardInterrupt"), err
        assert "DONE" not in out
        assert list(cache.glob(".tmp-*")) == []  # Ctrl-C cleans up after itself
    else:
        assert p.returncode == -signal.SIGKILL
    assert Store(cache).entries() == []  # nothing half-written is ever readable
    s, info = cached_scan(folder, cache_dir=cache, **KW)  # the stale lock does not block
    assert not info.hit
    check_stats(s, masks, 5)  # the naive reference, not a previous run
    s2, info2 = cached_scan(folder, cache_dir=cache, **KW)
    assert info2.hit and s2 == s
    if sig == "KILL" and where == "write":
        # a killed writer leaves its temporary folder; writes sweep those older than an hour
        (left,) = cache.glob(".tmp-*")
        old = time.time() - 2 * 3600
        os.utime(left, (old, old))
        cached_scan(folder, cache_dir=cache, refresh=True, **KW)
        assert list(cache.glob(".tmp-*")) == []


def test_four_processes_asking_for_the_same_weights_compute_once(data, tmp_path):
    folder, masks = data
    cache = tmp_path / "cache"
    log = tmp_path / "scans.log"
    code = f"""
        import os, sys, time
        import classweights.pipeline.stages as scan_mod
        real = scan_mod.count
        def counted(*a, **k):
            with open({str(log)!r}, "a") as fh:
                fh.write(f"{{os.getpid()}}\\n")
            time.sleep(0.5)  # widen the window in which the others ask too
            return real(*a, **k)
        scan_mod.count = counted
        from classweights import load_weights
        w = load_weights({str(folder)!r}, "sqrt_inv_freq", cache_dir={str(cache)!r}, num_classes=5)
        print(",".join(f"{{x:.9f}}" for x in w.tolist()))
    """
    procs = [child(code) for _ in range(4)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    assert len(log.read_text().split()) == 1  # one scan among the four processes
    vectors = {o[0].strip() for o in outs}
    assert len(vectors) == 1
    stats = cw.scan(folder, **KW)
    check_stats(stats, masks, 5)
    got = np.array([float(x) for x in vectors.pop().split(",")])
    np.testing.assert_allclose(got, cw.compute_weights(stats, "sqrt_inv_freq"), rtol=1e-6)
    assert len(Store(cache).entries()) == 1 and len(list(Path(cache).glob("*/weights/*.pth"))) == 1
