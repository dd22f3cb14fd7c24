"""Hugging Face ``datasets`` as a mask source (issue 31): which column holds the masks, and
masks stored in a dataset read with the checks of mask files.

Every count is compared with ``np.bincount`` of the arrays the datasets were built from.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

import classweights as cw
from classweights.errors import ConfigError, DatasetError, MaskReadError

datasets = pytest.importorskip("datasets", reason="datasets is in the test extra (CI installs it)")

H, W, C = 6, 9, 4


def masks(n=12, seed=0, high=C):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, high, (H, W), dtype=np.uint8) for _ in range(n)]


def bincount(ms, k=C):
    return np.bincount(np.concatenate([np.asarray(m, np.int64).ravel() for m in ms]), minlength=k)


def png(m):
    buf = io.BytesIO()
    Image.fromarray(m).save(buf, format="PNG")
    return buf.getvalue()


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def low_bit_png(m, depth):
    """A 2/4-bit grey PNG written by hand (Pillow would scale its labels to 0..255)."""
    per = 8 // depth
    raw = b""
    for r in m:
        packed = np.zeros((len(r) + per - 1) // per, np.uint8)
        for i, v in enumerate(r):
            packed[i // per] |= int(v) << (8 - depth * (i % per + 1))
        raw += b"\x00" + packed.tobytes()
    ihdr = struct.pack(">IIBBBBB", m.shape[1], m.shape[0], depth, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def image_dataset(columns, decode=True):
    """A Dataset of ``Image`` columns (PIL images) and other columns as given."""
    features, data = {}, {}
    for name, values in columns.items():
        if isinstance(values[0], np.ndarray):
            features[name] = datasets.Image(decode=decode)
            data[name] = [Image.fromarray(v) for v in values]
        elif isinstance(values[0], bytes):
            features[name] = datasets.Image(decode=decode)
            data[name] = [{"bytes": v, "path": None} for v in values]
        else:
            features[name] = datasets.ClassLabel(num_classes=10)
            data[name] = values
    return datasets.Dataset.from_dict(data, features=datasets.Features(features))


def photos(n, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (H, W, 3), dtype=np.uint8) for _ in range(n)]


# ---- which column ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["annotation", "semantic_map", "segmentation_mask", "mask", "label", "gtFine"]
)
def test_an_image_column_named_like_masks_is_found_never_the_image_column(name):
    ms = masks()
    ds = image_dataset(
        {"image": photos(len(ms)), name: ms, "scene": [i % 10 for i in range(len(ms))]}
    )
    s = cw.scan(ds, num_classes=C)
    assert s.pixels.tolist() == bincount(ms).tolist()
    assert s.num_images == len(ms) and s.sources[:2] == ["[0]", "[1]"]


def test_a_classification_label_column_is_not_a_mask_and_the_image_is_never_taken():
    """scene_parse_150-like: image + ClassLabel ``label``: the ClassLabel is one class per
    image; the photo must not be counted either."""
    ds = image_dataset({"image": photos(5), "label": [0, 1, 2, 3, 4]})
    with pytest.raises(DatasetError, match=r"no column of masks found.*image.*mask_column="):
        cw.scan(ds, num_classes=C)
    with pytest.raises(DatasetError, match=r"column 'label' holds one int64 value per row"):
        cw.scan(ds, num_classes=C, mask_column="label")


def test_several_candidates_are_one_error_naming_them_and_mask_column():
    ms = masks(3)
    ds = image_dataset({"image": photos(3), "annotation": ms, "instance_mask": ms})
    with pytest.raises(DatasetError) as e:
        cw.scan(ds, num_classes=C)
    text = str(e.value)
    assert "annotation, instance_mask" in text and "mask_column='annotation'" in text
    s = cw.scan(ds, num_classes=C, mask_column="instance_mask")
    assert s.pixels.tolist() == bincount(ms).tolist()


def test_any_column_is_used_when_named_arrays_and_nested_lists():
    ms = masks(5, seed=3)
    ds = datasets.Dataset.from_dict(
        {"a": ms, "b": [m.tolist() for m in ms], "photo": photos(5)},
        features=datasets.Features(
            {
                "a": datasets.Array2D((H, W), "int32"),
                "b": datasets.List(datasets.List(datasets.Value("int64"))),
                "photo": datasets.Image(),
            }
        ),
    )
    for column in ("a", "b"):
        s = cw.scan(ds, num_classes=C, mask_column=column)
        assert s.pixels.tolist() == bincount(ms).tolist()
        assert s.images.tolist() == [sum((m == c).any() for m in ms) for c in range(C)]


def test_a_misspelt_mask_column_names_the_closest():
    ds = image_dataset({"image": photos(2), "annotation": masks(2)})
    with pytest.raises(ConfigError, match=r"mask_column='anotation'.*did you mean 'annotation'"):
        cw.scan(ds, mask_column="anotation")


def test_a_ragged_nested_list_is_refused_naming_the_row():
    ds = datasets.Dataset.from_dict({"seg": [[[0, 1], [1, 0]], [[0, 1], [1]]]})
    with pytest.raises(MaskReadError, match=r"the Dataset row 1, column 'seg': a ragged array"):
        cw.scan(ds, num_classes=2, mask_column="seg")


def test_a_dataset_dict_is_refused_naming_its_splits():
    ms = masks(2)
    dd = datasets.DatasetDict(
        {"train": image_dataset({"mask": ms}), "test": image_dataset({"mask": ms})}
    )
    with pytest.raises(DatasetError, match=r"splits \(train, test\).*ds\['train'\]"):
        cw.scan(dd, num_classes=C)


def test_mask_column_picks_the_key_of_dict_items_and_is_refused_for_mask_files(tmp_path):
    ms = masks(3)
    items = [{"mask": np.zeros((2, 2), np.uint8), "sem": m} for m in ms]
    assert cw.scan(items, num_classes=C, mask_column="sem").pixels.tolist() == bincount(ms).tolist()
    Image.fromarray(ms[0]).save(tmp_path / "m.png")
    with pytest.raises(
        ConfigError, match=r"mask_column=.sem.*holds mask files, which have no columns"
    ):
        cw.scan(tmp_path, mask_column="sem")


# ---- masks read as stored, with the checks of mask files ----------------------------------
@pytest.mark.parametrize("decode", [True, False])
def test_stored_masks_of_every_encoding_read_exact_labels(decode):
    """8-bit PNG, 16-bit labels (datasets stores them as TIFF), palette masks (stored as TIFF:
    the index is the label) and 2/4-bit grey PNG bytes (Pillow, which datasets decodes with,
    scales those to 0..255)."""
    ms = masks(4, seed=5)
    sixteen = [m.astype(np.uint16) * 300 for m in ms]
    palette = []
    for m in ms:
        im = Image.frombuffer("P", (W, H), m.tobytes(), "raw", "P", 0, 1)
        im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9])
        palette.append(im)
    two_bit = [low_bit_png(m, 2) for m in ms]
    ds = datasets.Dataset.from_dict(
        {
            "eight": [Image.fromarray(m) for m in ms],
            "sixteen": [Image.fromarray(m) for m in sixteen],
            "pal": palette,
            "low": [{"bytes": b, "path": None} for b in two_bit],
        },
        features=datasets.Features(
            {k: datasets.Image(decode=decode) for k in ("eight", "sixteen", "pal", "low")}
        ),
    )
    for column in ("eight", "pal", "low"):
        s = cw.scan(ds, num_classes=C, mask_column=column)
        assert s.pixels.tolist() == bincount(ms).tolist(), column
    s = cw.scan(ds, mask_column="sixteen", remap={300 * c: c for c in range(C)}, num_classes=C)
    assert s.pixels.tolist() == bincount(ms).tolist()
    # the lenient path we avoid: Pillow reads label 1 of the 2-bit PNG as grey 85
    decoded = np.asarray(ds.cast_column("low", datasets.Image())[0]["low"])
    assert 85 in decoded
    assert set(np.unique(decoded).tolist()) <= {0, 85, 170, 255}


@pytest.mark.parametrize("decode", [True, False])
@pytest.mark.parametrize("flag", [False, True])
def test_damaged_png_bytes_are_refused_naming_the_row(decode, flag, monkeypatch):
    """A wrong IDAT CRC (libpng and Pillow accept it) and a cut-short PNG are read errors, with
    ``LOAD_TRUNCATED_IMAGES`` set or not; ``on_error='skip'`` skips just that row."""
    ms = masks(4, seed=6)
    data = [png(m) for m in ms]
    bad_crc = bytearray(data[1])
    bad_crc[-16] ^= 0xFF  # the last byte of the IDAT CRC (IEND is the last 12 bytes)
    data[1] = bytes(bad_crc)
    data[2] = data[2][: len(data[2]) * 2 // 3]
    ds = image_dataset({"image": photos(4), "mask": data}, decode=decode)
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", flag)
    if decode:  # datasets' own decoding (Pillow) takes the damaged copy as it comes
        assert np.array_equal(np.asarray(ds[1]["mask"]), ms[1])
        if flag:  # and zero-fills the cut-short one: its missing rows would count as class 0
            assert not np.array_equal(np.asarray(ds[2]["mask"]), ms[2])
    with pytest.raises(
        MaskReadError, match=r"the Dataset row [12], column 'mask': the PNG is damaged"
    ):
        cw.scan(ds, num_classes=C, workers=1)
    s = cw.scan(ds, num_classes=C, on_error="skip")
    assert s.num_images == 2 and [src for src, _ in s.skipped] == ["[1]", "[2]"]
    assert s.pixels.tolist() == bincount([ms[0], ms[3]]).tolist()


def test_a_jpeg_or_a_null_mask_is_refused():
    buf = io.BytesIO()
    Image.fromarray(masks(1)[0]).save(buf, format="JPEG")
    ds = image_dataset({"mask": [png(masks(1)[0]), buf.getvalue()]}, decode=False)
    with pytest.raises(MaskReadError, match=r"row 1, column 'mask': is a JPEG.*as PNG"):
        cw.scan(ds, num_classes=C)
    ds = datasets.Dataset.from_dict(
        {"mask": [{"bytes": png(masks(1)[0]), "path": None}, None]},
        features=datasets.Features({"mask": datasets.Image(decode=False)}),
    )
    with pytest.raises(MaskReadError, match=r"row 1, column 'mask': holds no mask \(null\)"):
        cw.scan(ds, num_classes=C)


def test_a_cell_holding_only_a_path_reads_that_file_with_its_checks(tmp_path):
    ms = masks(2, seed=8)
    paths = []
    for i, m in enumerate(ms):
        Image.fromarray(m).save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    ds = datasets.Dataset.from_dict({"label": paths}).cast_column(
        "label", datasets.Image(decode=False)
    )
    assert ds.with_format("arrow")[0:1].column("label").to_pylist()[0]["bytes"] is None
    assert cw.scan(ds, num_classes=C).pixels.tolist() == bincount(ms).tolist()
    (tmp_path / "1.png").write_bytes((tmp_path / "1.png").read_bytes()[:40])
    with pytest.raises(MaskReadError, match=r"1\.png: the PNG is damaged"):
        cw.scan(ds, num_classes=C)


def test_a_sample_and_a_transform_read_the_rows_they_name():
    ms = masks(40, seed=9)
    ds = image_dataset({"image": photos(40), "annotation": ms})
    s = cw.scan(ds, num_classes=C, sample=7, seed=3)
    rows = [int(x.strip("[]")) for x in s.sources]
    assert len(rows) == 7 and s.pixels.tolist() == bincount([ms[i] for i in rows]).tolist()
    picked = ds.select([5, 3, 30]).filter(lambda r: True)
    s = cw.scan(picked, num_classes=C)
    assert s.pixels.tolist() == bincount([ms[5], ms[3], ms[30]]).tolist()


def test_a_streaming_iterable_dataset_counts_the_same_and_cannot_be_sampled():
    ms = masks(70, seed=10)
    stream = image_dataset({"image": photos(70), "annotation": ms}).to_iterable_dataset(
        num_shards=3
    )
    s = cw.scan(stream, num_classes=C)
    assert s.num_images == 70 and s.pixels.tolist() == bincount(ms).tolist()
    with pytest.raises(ConfigError, match="sampling needs a source with a length"):
        cw.scan(stream, num_classes=C, sample=5)

    def rows():
        for m in ms[:3]:
            yield {"image": Image.fromarray(photos(1)[0]), "seg": Image.fromarray(m)}

    unknown = datasets.IterableDataset.from_generator(rows)  # features known only when read
    assert unknown.features is None
    assert cw.scan(unknown, num_classes=C).pixels.tolist() == bincount(ms[:3]).tolist()


def test_a_column_of_image_lists_is_refused_naming_it():
    ds = datasets.Dataset.from_dict(
        {"segs": [[Image.fromarray(m) for m in masks(2)]]},
        features=datasets.Features({"segs": datasets.List(datasets.Image())}),
    )
    with pytest.raises(DatasetError, match=r"column 'segs' holds lists of images"):
        cw.scan(ds, mask_column="segs")
