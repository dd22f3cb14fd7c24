"""Property (issue 16): a damaged mask gives the exact numbers or an error naming the file.

Random small datasets in each file kind (grey, palette and RGB PNG, TIFF, .npy, .npz, zarr) are damaged at random (cut short anywhere, image data
shortened, a byte flipped where the format carries a checksum) and scanned with Pillow's
``LOAD_TRUNCATED_IMAGES`` both off and on. The outcome is either statistics equal to the NumPy
reference of the undamaged masks, or a ClassWeightsError whose message names the damaged file;
never other numbers. (A flipped byte inside an uncompressed TIFF or a ``.npy`` changes a label
without any checksum to notice it, so flips are drawn for PNG only.)
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from naive import naive_counts
from PIL import Image, ImageFile
from robust_helpers import chunk

import classweights as cw

KINDS = ("png_grey", "png_palette", "png_rgb", "tiff", "npy", "npz", "zarr")
EXT = {"png_grey": "png", "png_palette": "png", "png_rgb": "png", "tiff": "tif", "npy": "npy"}
STACKS = ("npz", "zarr")  # one file (store) holding every mask; the damage hits one chunk
#: colour of each label for RGB masks (scanned with this table as the palette)
COLOURS = {i: (40 * i, 255 - 30 * i, (70 * i) % 256) for i in range(5)}


def _write(path, m, kind):
    if kind == "png_grey":
        Image.fromarray(m).save(path)
    elif kind == "png_palette":
        im = Image.frombuffer("P", m.shape[::-1], m.tobytes(), "raw", "P", 0, 1)
        im.putpalette(list(range(30)))
        im.save(path)
    elif kind == "png_rgb":
        lut = np.array([COLOURS[i] for i in range(5)], np.uint8)
        Image.fromarray(lut[m]).save(path)
    elif kind == "tiff":
        Image.fromarray(m).save(path)
    else:
        np.save(path, m)


def _write_stack(d, masks, kind):
    """All masks in one .npz member or one zarr array (a chunk per mask); the damageable files."""
    a = np.stack(masks)
    if kind == "npz":
        np.savez_compressed(d / "m.npz", masks=a)
        return d / "m.npz", [d / "m.npz"]
    import zarr

    z = zarr.create_array(str(d / "m.zarr"), shape=a.shape, chunks=(1, *a.shape[1:]),
                          dtype=a.dtype)  # fmt: skip
    z[...] = a
    return d / "m.zarr", sorted(p for p in (d / "m.zarr").rglob("c/*/*/*") if p.is_file())


def _shorten_png(data: bytes, keep_rows: int, h: int) -> bytes:
    """Re-compress the IDAT with only ``keep_rows`` of its rows (valid CRCs)."""
    i = data.index(b"IDAT")
    (n,) = struct.unpack(">I", data[i - 4 : i])
    raw = zlib.decompress(data[i + 4 : i + 4 + n])
    raw = raw[: len(raw) // h * keep_rows]
    return data[: i - 4] + chunk(b"IDAT", zlib.compress(raw)) + data[i + 8 + n :]


@st.composite
def cases(draw):
    kind = draw(st.sampled_from(KINDS))
    n = draw(st.integers(1, 3))
    h, w = draw(st.integers(2, 12)), draw(st.integers(2, 12))
    seed = draw(st.integers(0, 2**16))
    victim = draw(st.integers(0, n - 1))
    damages = ["cut"] + (["short", "flip"] if kind.startswith("png") else [])
    damage = draw(st.sampled_from(damages))
    where = draw(st.floats(0, 1, exclude_max=True))
    flag = draw(st.booleans())
    return kind, n, h, w, seed, victim, damage, where, flag


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=cases())
def test_damaged_masks_give_exact_numbers_or_name_the_file(tmp_path_factory, case):
    kind, n, h, w, seed, victim, damage, where, flag = case
    d = tmp_path_factory.mktemp("ds")
    rng = np.random.default_rng(seed)
    masks = [rng.integers(0, 5, (h, w)).astype(np.uint8) for _ in range(n)]
    if kind in STACKS:
        named, files = _write_stack(d, masks, kind)
        bad = files[victim % len(files)]
    else:
        paths = [d / f"{i}.{EXT[kind]}" for i in range(n)]
        for p, m in zip(paths, masks):
            _write(p, m, kind)
        named = bad = paths[victim]
    data = bad.read_bytes()
    if damage == "cut":
        data = data[: int(where * len(data))]
    elif damage == "short":
        data = _shorten_png(data, int(where * h), h)
    else:
        data = bytearray(data)
        data[8 + int(where * (len(data) - 8))] ^= 1 << int(where * 97) % 8
        data = bytes(data)
    bad.write_bytes(data)
    old = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = flag
    try:
        palette = COLOURS if kind == "png_rgb" else None
        s = cw.scan(d, num_classes=5, workers=1, palette=palette)
    except cw.ClassWeightsError as e:
        assert str(named) in str(e), str(e)
        return
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = old
    rows, ignored, unknown, totals = naive_counts(masks, 5)
    assert np.array_equal(s.counts, rows), (damage, kind)
    assert s.image_total.tolist() == list(totals)


@pytest.mark.parametrize("kind", KINDS)
def test_undamaged_datasets_read_exactly(tmp_path, kind):
    rng = np.random.default_rng(1)
    masks = [rng.integers(0, 5, (7, 9)).astype(np.uint8) for _ in range(3)]
    if kind in STACKS:
        _write_stack(tmp_path, masks, kind)
    else:
        for i, m in enumerate(masks):
            _write(tmp_path / f"{i}.{EXT[kind]}", m, kind)
    rows, _, _, _ = naive_counts(masks, 5)
    palette = COLOURS if kind == "png_rgb" else None
    s = cw.scan(tmp_path, num_classes=5, workers=1, palette=palette)
    assert np.array_equal(s.counts, rows)
