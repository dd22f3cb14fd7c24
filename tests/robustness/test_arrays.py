"""Array masks of every awkward kind, on disk (npy/npz/zarr) and in memory."""

import warnings

import numpy as np
import pytest
from naive import check_stats
from robust_helpers import mask

import classweights as cw
from classweights.counting import MaskWarning

# every test runs with the NumPy twins and with the Numba kernels (conftest.kernels)
pytestmark = pytest.mark.usefixtures("kernels")


def test_integral_float_mask_is_accepted_with_a_warning(tmp_path):
    m = mask()
    np.save(tmp_path / "f.npy", m.astype(np.float32))
    with pytest.warns(MaskWarning, match=r"f\.npy: float mask with whole-number values"):
        s = cw.scan(tmp_path / "f.npy", num_classes=5)
    check_stats(s, [m], 5)


def test_float_warnings_are_issued_once_per_file_from_the_calling_thread(tmp_path):
    for i in range(6):
        np.save(tmp_path / f"f{i}.npy", mask(seed=i).astype(np.float64))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = cw.scan(tmp_path, num_classes=5, workers=2)
    names = sorted(str(w.message).split(":")[0].rsplit("/", 1)[1] for w in caught
                   if issubclass(w.category, MaskWarning))  # fmt: skip
    assert names == [f"f{i}.npy" for i in range(6)]
    check_stats(s, [mask(seed=i) for i in range(6)], 5)


@pytest.mark.parametrize(
    ("values", "match"),
    [([[0.0, np.nan]], "NaN or infinite"), ([[0.0, np.inf]], "NaN or infinite"),
     ([[0.0, 1.5]], r"fractional labels \(e\.g\. 1\.5\)")],
)  # fmt: skip
def test_nan_and_fractional_float_masks_are_refused(tmp_path, values, match):
    np.save(tmp_path / "bad.npy", np.array(values))
    with pytest.raises(cw.MaskReadError, match=rf"bad\.npy: the float mask holds {match}"):
        cw.scan(tmp_path / "bad.npy", num_classes=5)


def test_negative_labels_are_unknown_and_named(tmp_path):
    np.save(tmp_path / "neg.npy", np.array([[-1, 0], [1, -1]], np.int16))
    with pytest.raises(cw.UnknownLabelError, match=r"-1 \(2 px\).*neg\.npy"):
        cw.scan(tmp_path / "neg.npy", num_classes=2)
    s = cw.scan(tmp_path / "neg.npy", num_classes=2, unknown="ignore")
    assert s.pixels.tolist() == [1, 1] and s.unknown_values == {"-1": 2}


def test_uint64_labels_beyond_int64_are_refused(tmp_path):
    np.save(tmp_path / "u64.npy", np.array([[0, 2**63 + 1]], np.uint64))
    with pytest.raises(
        cw.MaskReadError, match=r"u64\.npy: uint64 labels up to 9223372036854775809"
    ):
        cw.scan(tmp_path / "u64.npy", num_classes=2)


def test_bool_masks(tmp_path):
    m = mask() > 2
    np.save(tmp_path / "b.npy", m)
    check_stats(cw.scan(tmp_path / "b.npy", num_classes=2), [m.astype(np.uint8)], 2)
    check_stats(cw.scan([m], num_classes=2), [m.astype(np.uint8)], 2)


@pytest.mark.parametrize("shape", [(0, 4), (4, 0), (0, 4, 4), (3, 0, 4)])
def test_zero_sized_arrays_on_disk(tmp_path, shape):
    np.save(tmp_path / "zero.npy", np.zeros(shape, np.uint8))
    with pytest.raises(cw.MaskReadError, match=r"zero\.npy: array has shape .* holds no pixels"):
        cw.scan(tmp_path / "zero.npy", num_classes=2)


def test_zero_sized_array_in_npz_and_in_memory(tmp_path):
    np.savez(tmp_path / "z.npz", ok=mask(), empty=np.zeros((0, 3), np.uint8))
    with pytest.raises(cw.MaskReadError, match=r"z\.npz:empty: array has shape \(0, 3\)"):
        cw.scan(tmp_path / "z.npz", num_classes=5)
    with pytest.raises(cw.MaskReadError, match=r"\[1\]: the mask is empty \(shape \(0, 3\)\)"):
        cw.scan([mask(), np.zeros((0, 3), np.uint8)], num_classes=5)


def test_non_contiguous_arrays(tmp_path):
    m = mask(32, 48).astype(np.int32)
    views = [m[:, ::3], m[::2, ::-1], m.T, np.asfortranarray(m)]
    for v in views:
        assert not v.flags.c_contiguous
    check_stats(cw.scan(views, num_classes=5, workers=2), views, 5)
    np.save(tmp_path / "fortran.npy", np.asfortranarray(m))
    check_stats(cw.scan(tmp_path / "fortran.npy", num_classes=5), [m], 5)


@pytest.mark.parametrize("dtype", [">u2", ">i4", ">i8", "<u2"])
def test_big_endian_arrays(tmp_path, dtype):
    m = mask().astype(np.int64)
    m[0, 0] = 300
    np.save(tmp_path / "be.npy", m.astype(dtype))
    s = cw.scan(tmp_path / "be.npy", num_classes=301)
    check_stats(s, [m], 301)
    check_stats(cw.scan([m.astype(dtype)], num_classes=301), [m], 301)


def test_object_arrays_are_refused(tmp_path):
    obj = np.array([[1, None]], dtype=object)
    np.save(tmp_path / "obj.npy", obj, allow_pickle=True)
    with pytest.raises(cw.MaskReadError, match=r"obj\.npy: holds Python objects \(dtype object\)"):
        cw.scan(tmp_path / "obj.npy", num_classes=2)
    with pytest.raises(cw.MaskReadError, match=r"\[0\]: mask dtype object is not a label type"):
        cw.scan([obj], num_classes=2)


@pytest.mark.parametrize("dtype", ["complex64", "<U1", "datetime64[s]"])
def test_non_label_dtypes_are_refused(tmp_path, dtype):
    np.save(tmp_path / "odd.npy", np.zeros((2, 2), dtype))
    with pytest.raises(cw.MaskReadError, match=r"odd\.npy: mask dtype .* is not a label type"):
        cw.scan(tmp_path / "odd.npy", num_classes=2)


@pytest.mark.parametrize("shape", [(5,), (1, 1, 1, 2, 2)])
def test_arrays_of_the_wrong_rank(tmp_path, shape):
    np.save(tmp_path / "rank.npy", np.zeros(shape, np.uint8))
    with pytest.raises(
        cw.MaskReadError,
        match=rf"rank\.npy: array has shape {shape!r}".replace("(", r"\(").replace(")", r"\)"),
    ):
        cw.scan(tmp_path / "rank.npy", num_classes=2)


@pytest.mark.parametrize("shape", [(5,), (1, 1, 1, 2, 2)])
def test_zarr_array_with_the_wrong_number_of_dimensions(tmp_path, shape):
    import zarr

    zarr.create_array(tmp_path / "bad.zarr", shape=shape, dtype="uint8")
    with pytest.raises(cw.MaskReadError, match=r"bad\.zarr: zarr array has shape .*expected H x W"):
        cw.scan(tmp_path / "bad.zarr", num_classes=2)
    g = zarr.open_group(tmp_path / "g.zarr", mode="w")
    g.create_array("good", shape=(2, 4, 4), dtype="uint8")
    g.create_array("flat", shape=shape, dtype="uint8")
    with pytest.raises(cw.MaskReadError, match=r"g\.zarr/flat: zarr array has shape"):
        cw.scan(tmp_path / "g.zarr", num_classes=2)


def test_zarr_float_fractional_names_the_store(tmp_path):
    import zarr

    z = zarr.create_array(tmp_path / "f.zarr", shape=(2, 2), dtype="float32")
    z[:] = np.array([[0, 0.5], [1, 1]])
    with pytest.raises(cw.MaskReadError, match=r"f\.zarr: the float mask holds fractional"):
        cw.scan(tmp_path / "f.zarr", num_classes=2)
