"""The histogram kernels against NumPy, over shapes, dtypes, strides and byte orders."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from classweights import kernels, kernels_numpy
from classweights.kernels import histogram_u8, histogram_u16

# the Numba kernels and their NumPy twins (used for small jobs) must agree bit for bit
BACKENDS = pytest.mark.parametrize("backend", [kernels, kernels_numpy], ids=["numba", "numpy"])

INT_DTYPES = [np.uint8, np.uint16, np.int8, np.int16, np.int32, np.int64, np.uint32]


def reference(a):
    v, c = np.unique(np.asarray(a).astype(np.int64), return_counts=True)
    return v, c


@BACKENDS
@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    dtype=st.sampled_from(INT_DTYPES),
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=40),
    endian=st.sampled_from(["=", ">"]),
)
def test_count_values_matches_unique(backend, data, dtype, shape, endian):
    dt = np.dtype(dtype).newbyteorder(endian) if np.dtype(dtype).itemsize > 1 else np.dtype(dtype)
    info = np.iinfo(dtype)
    lo, hi = max(info.min, -300), min(info.max, 70000)
    # runs of equal values (as in masks) plus scattered values
    a = data.draw(hnp.arrays(dt, shape, elements=st.integers(lo, hi)))
    if a.size > 4:
        a.reshape(-1)[: a.size // 2] = a.reshape(-1)[0]
    hint = data.draw(st.sampled_from([1, 8, 256, 1000]))
    v, c = backend.count_values(a, size_hint=hint)
    rv, rc = reference(a)
    np.testing.assert_array_equal(v, rv)
    np.testing.assert_array_equal(c, rc)


@pytest.mark.parametrize("offset", range(9))
def test_word_kernels_unaligned_and_tails(offset):
    rng = np.random.default_rng(offset)
    buf = np.repeat(rng.integers(0, 256, 200).astype(np.uint8), 7)
    a = buf[offset : offset + 1001]  # unaligned start, odd tail
    np.testing.assert_array_equal(histogram_u8(a), np.bincount(a, minlength=256))
    b = (buf.astype(np.uint16) * 257)[offset : offset + 999]
    np.testing.assert_array_equal(histogram_u16(b), np.bincount(b, minlength=65536))


@BACKENDS
def test_non_contiguous_views(backend):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, (50, 60)).astype(np.uint8)
    for view in (a[::2, ::3], a.T, a[:, 10:20]):
        v, c = backend.count_values(view)
        rv, rc = reference(view)
        np.testing.assert_array_equal(v, rv)
        np.testing.assert_array_equal(c, rc)


@BACKENDS
def test_bool_masks(backend):
    a = np.zeros((4, 4), bool)
    a[0, :3] = True
    v, c = backend.count_values(a)
    assert v.tolist() == [0, 1] and c.tolist() == [13, 3]
    v, c = backend.count_values(np.ones((2, 2), bool))
    assert v.tolist() == [1] and c.tolist() == [4]


@BACKENDS
def test_colour_histogram_against_loop(backend):
    rng = np.random.default_rng(1)
    table = np.array([[0, 0, 0], [128, 64, 128], [70, 70, 70], [255, 0, 0]], np.uint8)
    idx = rng.integers(0, 5, (30, 40))
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[idx < 4] = table[idx[idx < 4]]
    rgb[idx == 4] = (1, 2, 3)  # not in the table
    keys = np.sort(
        (table[:, 0].astype(np.int64) << 16) | (table[:, 1].astype(np.int64) << 8) | table[:, 2]
    )
    hist = backend.histogram_colors(rgb, keys)
    expected = np.zeros(len(keys) + 1, np.int64)
    for px in rgb.reshape(-1, 3):
        key = (int(px[0]) << 16) | (int(px[1]) << 8) | int(px[2])
        hits = np.flatnonzero(keys == key)
        expected[hits[0] if hits.size else len(keys)] += 1
    np.testing.assert_array_equal(hist, expected)


@BACKENDS
@pytest.mark.parametrize("kind", ["runs", "noise", "one value", "single pixel"])
def test_runs_and_noise_against_bincount(backend, kind):
    # the NumPy twins count runs on masks and every pixel on noise: both paths, both dtypes
    rng = np.random.default_rng(7)
    a = {
        "runs": np.repeat(rng.integers(0, 256, 500), rng.integers(1, 300, 500)),
        "noise": rng.integers(0, 256, 20_000),
        "one value": np.full(1234, 77),
        "single pixel": np.array([3]),
    }[kind]
    for dtype, scale in ((np.uint8, 1), (np.uint16, 251), (np.int32, 3), (np.uint32, 7)):
        m = (a * scale).astype(dtype)
        v, c = backend.count_values(m, size_hint=300)
        ref = np.bincount(m.astype(np.int64))
        np.testing.assert_array_equal(v, np.flatnonzero(ref))
        np.testing.assert_array_equal(c, ref[ref > 0])
