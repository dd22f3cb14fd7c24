"""Engine behaviour: determinism across workers, sampling, error policies, bad input."""


import numpy as np
import pytest
from conftest import save_png
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import check_stats

import classweights as cw
from classweights.synthetic import write_pngs

# every test runs with the NumPy twins and with the Numba kernels (conftest.kernels)
pytestmark = pytest.mark.usefixtures("kernels")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("scenes")
    write_pngs(d, 24, 40, 80, seed=3)
    return d


def _masks(folder):
    from PIL import Image

    return [np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))]


@pytest.mark.parametrize("workers", [1, 2, 3, 7])
def test_bit_identical_for_any_worker_count(folder, workers):
    s = cw.scan(folder, num_classes=19, ignore_index=255, workers=workers)
    check_stats(s, _masks(folder), 19, 255)
    assert s == cw.scan(folder, num_classes=19, ignore_index=255, workers=1)


def test_processes_mode_was_removed_with_a_pointer_to_dask(folder):
    # threads were 3-7x faster at every worker count measured (benchmarks/README.md)
    with pytest.raises(cw.ConfigError, match=r"parallel='processes' was removed.*client="):
        cw.scan(folder, num_classes=19, ignore_index=255, workers=2, parallel="processes")


def test_order_of_paths_does_not_change_counts(folder):
    files = sorted(folder.glob("*.png"))
    a = cw.scan(files, num_classes=19, ignore_index=255)
    b = cw.scan(files[::-1], num_classes=19, ignore_index=255)
    np.testing.assert_array_equal(a.pixels, b.pixels)
    np.testing.assert_array_equal(a.image_pixels, b.image_pixels)
    np.testing.assert_array_equal(a.counts, b.counts[::-1])


def test_sampling_is_seeded_reported_and_exact(folder):
    s1 = cw.scan(folder, num_classes=19, ignore_index=255, sample=5, seed=7)
    s2 = cw.scan(folder, num_classes=19, ignore_index=255, sample=5, seed=7, workers=1)
    s3 = cw.scan(folder, num_classes=19, ignore_index=255, sample=5, seed=8)
    assert s1 == s2 and s1.sources != s3.sources
    assert s1.sampled and s1.sample == {"requested": 5, "seed": 7, "images": 5, "population": 24}
    from PIL import Image

    check_stats(s1, [np.asarray(Image.open(p)) for p in s1.sources], 19, 255)
    frac = cw.scan(folder, num_classes=19, ignore_index=255, sample=0.25)
    assert frac.num_images == 6 and frac.sampled
    full = cw.scan(folder, num_classes=19, ignore_index=255)
    assert not full.sampled and full.sample is None


@pytest.mark.parametrize("bad", [0, -3, 1.5, 0.0, "10", True])
def test_bad_sample_values(folder, bad):
    with pytest.raises(cw.ConfigError, match="sample"):
        cw.scan(folder, num_classes=19, ignore_index=255, sample=bad)


def test_infer_num_classes_from_largest_label(tmp_path):
    save_png(tmp_path / "a.png", np.array([[0, 4], [255, 2]], np.uint8))
    with pytest.warns(UserWarning, match="inferred 5"):  # a warning: stored, raised on hits
        s = cw.scan(tmp_path, ignore_index=255)
    assert s.num_classes == 5 and s.pixels.tolist() == [1, 0, 1, 0, 1]


def test_unknown_labels_error_lists_values_counts_files_and_fix(tmp_path):
    save_png(tmp_path / "a.png", np.array([[0, 30, 30], [31, 1, 255]], np.uint8))
    save_png(tmp_path / "b.png", np.array([[30, 1]], np.uint8))
    with pytest.raises(cw.UnknownLabelError) as e:
        cw.scan(tmp_path, num_classes=19, ignore_index=255)
    msg = str(e.value)
    assert "30 (3 px)" in msg and "31 (1 px)" in msg and "a.png" in msg
    assert "--remap" in msg and "--unknown ignore" in msg
    s = cw.scan(tmp_path, num_classes=19, ignore_index=255, unknown="ignore")
    assert s.unknown_pixels == 4 and s.unknown_values == {"30": 3, "31": 1}
    assert s.image_unknown.tolist() == [3, 1]


def test_negative_labels_are_unknown(tmp_path):
    np.save(tmp_path / "a.npy", np.array([[-1, 0], [1, 1]], np.int16))
    with pytest.raises(cw.UnknownLabelError, match=r"-1 \(1 px\)"):
        cw.scan(tmp_path / "a.npy", num_classes=2)


def test_corrupt_png_names_the_file_and_skip_policy(tmp_path, scenes):
    save_png(tmp_path / "good.png", scenes[0])
    data = (tmp_path / "good.png").read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(cw.MaskReadError, match=r"trunc\.png"):
        cw.scan(tmp_path, num_classes=19, ignore_index=255)
    s = cw.scan(tmp_path, num_classes=19, ignore_index=255, on_error="skip")
    assert s.num_images == 1 and len(s.skipped) == 1 and s.skipped[0][0].endswith("trunc.png")
    check_stats(s, [scenes[0]], 19, 255)


def test_empty_folder_and_glob_matching_nothing(tmp_path, scenes):
    with pytest.raises(cw.DatasetError, match="no mask files found"):
        cw.scan(tmp_path, num_classes=3)
    save_png(tmp_path / "a.png", scenes[0])
    with pytest.raises(cw.DatasetError, match=r"glob '\*\*/\*_gtFine\.png' matched no"):
        cw.scan(tmp_path, num_classes=19, glob="**/*_gtFine.png")
    with pytest.raises(cw.DatasetError, match="no such file"):
        cw.scan(tmp_path / "nope", num_classes=3)


def test_mixed_layouts_are_refused_with_a_glob_hint(tmp_path, scenes):
    city = tmp_path / "aachen"
    city.mkdir()
    for i in range(2):
        save_png(city / f"aachen_{i:06d}_gtFine_labelIds.png", scenes[i])
        save_png(
            city / f"aachen_{i:06d}_gtFine_instanceIds.png", scenes[i].astype(np.uint16) * 1000
        )
        save_png(city / f"aachen_{i:06d}_gtFine_color.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(cw.DatasetError, match=r"several kinds of masks.*--glob"):
        cw.scan(tmp_path, num_classes=34)
    s = cw.scan(tmp_path, glob="**/*_labelIds.png", num_classes=19, ignore_index=255)
    assert s.num_images == 2
    other = tmp_path / "mixed"
    other.mkdir()
    save_png(other / "a.png", scenes[0])
    np.save(other / "b.npy", scenes[1])
    with pytest.raises(cw.DatasetError, match="mixes array and image"):
        cw.scan(other, num_classes=19)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_classes": 0}, "num_classes=0 is not valid"),
        ({"num_classes": 19, "ignore_index": 3}, "inside the class range"),
        ({"num_classes": 19, "remap": {"1": 0, "01": 2}}, "remap table is ambiguous"),
        ({"num_classes": 19, "palette": [[0, 0, 0], [0, 0, 0]]}, "appears twice"),
        ({"num_classes": 19, "unknown": "drop"}, "unknown='drop'"),
        ({"num_classes": 19, "remap": "nope"}, "neither a preset"),
        ({"num_classes": 300, "reduce_zero_label": True, "ignore_index": 255}, "lies inside"),
    ],
)
def test_settings_errors_before_any_scan(tmp_path, kwargs, match):
    # the folder does not even exist: settings are checked first
    with pytest.raises(cw.ConfigError, match=match):
        cw.scan(tmp_path / "missing", **kwargs)


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    dtype=st.sampled_from([np.uint8, np.uint16, np.int32, np.int64]),
    n=st.integers(1, 4),
    ignore=st.sampled_from([None, 255, 250]),
    reduce=st.booleans(),
)
def test_scan_matches_naive_reference(data, dtype, n, ignore, reduce):
    num_classes = data.draw(st.integers(1, 12))
    remap = data.draw(
        st.one_of(
            st.none(),
            st.dictionaries(st.integers(0, 20), st.integers(0, num_classes - 1), max_size=1),
        )
    )
    masks = []
    for _ in range(n):
        h, w = data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9))
        values = [*range(0, num_classes + 3), 255, 250]
        flat = data.draw(st.lists(st.sampled_from(values), min_size=h * w, max_size=h * w))
        masks.append(np.array(flat, dtype=dtype).reshape(h, w))
    reduce = reduce and ignore is not None
    s = cw.scan(masks, num_classes=num_classes, ignore_index=ignore, remap=remap,
                reduce_zero_label=reduce, unknown="ignore", workers=2)  # fmt: skip
    check_stats(s, masks, num_classes, ignore, remap, reduce)


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize(
    ("remap", "reduce", "unknown"),
    [(None, False, "error"), ({1: 5, 5: 1, 2: 255, 7: 255}, False, "error"), (None, True, "ignore"),
     ({3: 4, 30: 1}, False, "ignore")],
)  # fmt: skip
def test_batched_collection_matches_naive(tmp_path, workers, remap, reduce, unknown):
    # units of several images are mapped in one go; merges, ignore, reduce-zero and units
    # mixing images with and without unknown labels must still match the naive loop
    rng = np.random.default_rng(5)
    masks = []
    for i in range(11):
        m = np.repeat(rng.integers(0, 12, (6, 3)), 4, axis=1).astype(np.uint8)
        m[0, 0] = 255
        if unknown == "ignore" and i % 3 == 1:
            m[1, :2] = 30 + i
        masks.append(m)
        save_png(tmp_path / f"{i:02d}.png", m)
    kw = dict(num_classes=12, ignore_index=255, remap=remap, reduce_zero_label=reduce)
    s = cw.scan(tmp_path, unknown=unknown, workers=workers, **kw)
    check_stats(s, masks, **kw)
    check_stats(cw.scan(masks, unknown=unknown, workers=workers, **kw), masks, **kw)


def test_the_last_images_are_units_of_one_so_no_worker_waits_on_a_long_last_unit(tmp_path):
    from classweights.scan import plan
    from classweights.scan.settings import ScanSettings
    from classweights.sources import Entry

    entries = [Entry("image", str(tmp_path / f"{i}.png")) for i in range(30)]
    units, total, _ = plan.units(ScanSettings(workers=2), entries)
    sizes = [sum(len(ix) for _, ix in u) for u in units]
    assert total == 30 and sum(sizes) == 30
    assert sizes == [4] * 5 + [2] + [1] * 8  # the last 4 x workers = 8 images one by one
    flat = [e.path for u in plan.units(ScanSettings(workers=2), entries)[0] for e, _ in u]
    assert flat == [e.path for e in entries]  # in file order
