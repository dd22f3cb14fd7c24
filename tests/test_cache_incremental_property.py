"""Property: any sequence of edits, then a cached (incremental) scan, equals a full rescan.

Random small datasets (classes 0..4, unknown labels 5..7, void 255) are edited by random
sequences of add / change / delete / touch / duplicate, with cached scans in between (so
incremental rescans chain); the final cached result must equal a plain ``cw.scan`` of the
folder field for field: counts, per-image totals, sources, unknown-value tallies, sampling,
skipped files and settings.
"""

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from conftest import save_png
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import classweights as cw
from classweights import cached_scan

LABELS = [0, 1, 2, 3, 4, 5, 6, 7, 255]  # 5..7: unknown for num_classes=5; 255: void
masks = st.lists(st.sampled_from(LABELS), min_size=12, max_size=12).map(
    lambda v: np.array(v, np.uint8).reshape(3, 4)
)
index = st.integers(0, 1000)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), masks),
        st.tuples(st.just("change"), index, masks),
        st.tuples(st.just("delete"), index),
        st.tuples(st.just("touch"), index),
        st.tuples(st.just("duplicate"), index),
        st.tuples(st.just("scan")),  # a cached scan in between: incremental rescans chain
    ),
    max_size=6,
)


def assert_fields_equal(got, want):
    for f in dataclasses.fields(want):
        a, b = getattr(got, f.name), getattr(want, f.name)
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b), f.name
        else:
            assert a == b, (f.name, a, b)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    initial=st.lists(masks, min_size=1, max_size=5),
    ops=ops,
    sample=st.sampled_from([None, None, None, 2, 0.5]),
)
def test_incremental_rescan_equals_a_full_rescan(initial, ops, sample):
    kw = {"num_classes": 5, "ignore_index": 255, "unknown": "ignore", "sample": sample}
    with tempfile.TemporaryDirectory() as tmp:
        data, cache = Path(tmp) / "data", Path(tmp) / "cache"
        data.mkdir()
        clock = iter(range(1_700_000_000, 1_800_000_000))  # a new, distinct mtime per write

        def stamp(f):
            t = next(clock) * 10**9
            os.utime(f, ns=(t, t))

        names = iter(range(10**6))

        def write(m):
            f = data / f"{next(names):04d}.png"
            save_png(f, m)
            stamp(f)

        for m in initial:
            write(m)
        cached_scan(data, cache_dir=cache, **kw)
        for op in ops:
            files = sorted(data.glob("*.png"))
            pick = files[op[1] % len(files)] if len(op) > 1 and isinstance(op[1], int) else None
            if op[0] == "add":
                write(op[1])
            elif op[0] == "change":
                save_png(pick, op[2])
                stamp(pick)
            elif op[0] == "delete" and len(files) > 1:
                pick.unlink()
            elif op[0] == "touch":
                stamp(pick)
            elif op[0] == "duplicate":  # the same bytes under another name, same mtime
                shutil.copy2(pick, data / f"{next(names):04d}.png")
            elif op[0] == "scan":
                cached_scan(data, cache_dir=cache, **kw)
        got, _ = cached_scan(data, cache_dir=cache, **kw)
        assert_fields_equal(got, cw.scan(data, **kw))
