"""Issue 16: no reader path may return a silently wrong number.

Short or truncated image data is a read error on every decoder path, whatever Pillow's
process-wide flags say; a scan changes no global state; layouts that would be read wrongly
stop with one line naming the fix. Counts are compared against the NumPy loop in tests/naive.
"""

from __future__ import annotations

import struct
import threading
import warnings
import zlib

import numpy as np
import pytest
from naive import check_stats
from PIL import Image, ImageFile
from robust_helpers import chunk, mask

import classweights as cw


# ---- helpers ----------------------------------------------------------------------------------
def _png(rows: np.ndarray, *, height: int, ctype: int = 0, depth: int = 8, palette=None) -> bytes:
    """A PNG declaring ``height`` rows whose IDAT is a complete zlib stream of ``rows`` only."""
    h, w = rows.shape
    if depth == 8:
        raw = b"".join(b"\x00" + rows[r].astype(np.uint8).tobytes() for r in range(h))
    else:  # 1-bit
        raw = b"".join(b"\x00" + np.packbits(rows[r].astype(np.uint8)).tobytes() for r in range(h))
    ihdr = struct.pack(">IIBBBBB", w, height, depth, ctype, 0, 0, 0)
    plte = chunk(b"PLTE", bytes(palette)) if palette is not None else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + plte
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))  # fmt: skip


@pytest.fixture
def truncated_flag():
    """``ImageFile.LOAD_TRUNCATED_IMAGES = True``, as training scripts often set it."""
    old = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    yield
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True, "the scan changed the user's flag"
    ImageFile.LOAD_TRUNCATED_IMAGES = old


def _short_tiff(tmp_path, name="short.tif", keep=0.5):
    """An uncompressed TIFF whose strip data is cut short (the header is intact)."""
    m = mask(32, 40, seed=3) + 1  # no zeros: zero-filled rows would show up as class 0
    Image.fromarray(m).save(tmp_path / "full.tif")
    data = (tmp_path / "full.tif").read_bytes()
    (tmp_path / "full.tif").unlink()
    strip = data.index(m.tobytes()[:64])
    cut = strip + int(m.size * keep)
    (tmp_path / name).write_bytes(data[:cut])
    return tmp_path / name


# ---- 1. short image data is a read error on every decoder path ---------------------------------
@pytest.mark.parametrize("kind", ["grey", "palette", "1bit"])
@pytest.mark.parametrize("flag", [False, True])
def test_png_with_half_its_rows_is_refused(tmp_path, kind, flag, monkeypatch):
    rows = (mask(4, 8, seed=1, high=3) + 1).astype(np.uint8)  # 4 of 8 rows, no zeros
    if kind == "grey":
        data = _png(rows, height=8)
    elif kind == "palette":
        data = _png(rows, height=8, ctype=3, palette=range(12))
    else:
        data = _png(rows % 2, height=8, depth=1)
    (tmp_path / "short.png").write_bytes(data)
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", flag)
    with pytest.raises(cw.MaskReadError, match=r"short\.png: .*(rows|data)") as e:
        cw.scan(tmp_path / "short.png", num_classes=4)
    assert str(tmp_path / "short.png") in str(e.value)


def test_png_short_data_refused_without_imagecodecs(tmp_path, monkeypatch):
    """The Pillow fallback alone (imagecodecs missing) refuses the short PNG too."""
    import sys

    monkeypatch.setitem(sys.modules, "imagecodecs", None)
    (tmp_path / "short.png").write_bytes(_png(mask(4, 8, seed=1) + 1, height=8))
    with pytest.raises(cw.MaskReadError, match=r"short\.png"):
        cw.scan(tmp_path / "short.png", num_classes=8)


def test_png_with_extra_data_still_reads_its_declared_rows(tmp_path):
    """Only missing data is an error: the hand-written full PNG reads exactly."""
    m = mask(8, 8, seed=2)
    (tmp_path / "ok.png").write_bytes(_png(m, height=8))
    check_stats(cw.scan(tmp_path / "ok.png", num_classes=5), [m], 5)


@pytest.mark.parametrize("flag", [False, True])
def test_short_tiff_is_refused(tmp_path, flag, monkeypatch):
    f = _short_tiff(tmp_path)
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", flag)
    with pytest.raises(cw.MaskReadError, match=r"short\.tif: ") as e:
        cw.scan(f, num_classes=8)
    assert str(f) in str(e.value)


# ---- 2. strict whatever Pillow's globals say; no global state changed ----------------------------
def test_truncated_png_and_tiff_with_the_flag_set(tmp_path, truncated_flag):
    m = mask(32, 40, seed=4) + 1
    Image.fromarray(m).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "full.png").unlink()
    with pytest.raises(cw.MaskReadError, match=r"trunc\.png: "):
        cw.scan(tmp_path / "trunc.png", num_classes=8)
    f = _short_tiff(tmp_path, keep=0.25)
    with pytest.raises(cw.MaskReadError, match=r"short\.tif: "):
        cw.scan(f, num_classes=8)


def test_tiny_tiff_declaring_a_huge_image_with_the_flag_set(tmp_path, truncated_flag):
    """The issue's 130-byte TIFF: a header declaring 31,000 x 31,000 pixels and no data."""
    ifd = [(256, 4, 1, 31000), (257, 4, 1, 31000), (258, 3, 1, 8), (259, 3, 1, 1),
           (262, 3, 1, 1), (273, 4, 1, 8 + 2 + 9 * 12 + 4), (277, 3, 1, 1),
           (278, 4, 1, 31000), (279, 4, 1, 31000 * 31000)]  # fmt: skip
    body = struct.pack("<H", len(ifd))
    for tag, typ, n, v in ifd:
        body += struct.pack("<HHII", tag, typ, n, v) if typ == 4 else struct.pack(
            "<HHIHH", tag, typ, n, v, 0
        )
    data = b"II*\x00" + struct.pack("<I", 8) + body + b"\x00\x00\x00\x00" + b"\x01" * 10
    (tmp_path / "tiny.tif").write_bytes(data)
    with pytest.raises(cw.MaskReadError, match=r"tiny\.tif: "):
        cw.scan(tmp_path / "tiny.tif", num_classes=2)


def test_a_scan_changes_no_pillow_global(tmp_path):
    m = mask(16, 16, seed=5)
    Image.fromarray(m).save(tmp_path / "a.tif")
    im = Image.frombuffer("P", (16, 16), m.tobytes(), "raw", "P", 0, 1)
    im.putpalette(list(range(15)))
    im.save(tmp_path / "b.png")
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters))
    s = cw.scan(tmp_path, num_classes=5, max_pixels=1000, workers=2)
    check_stats(s, [m, m], 5)
    after = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters))
    assert after == before


def test_max_pixels_is_our_own_check_not_pillows(tmp_path):
    """``max_pixels`` refuses a big TIFF from its header, without Pillow's global limit."""
    Image.fromarray(np.zeros((40, 50), np.uint8)).save(tmp_path / "big.tif")
    with pytest.raises(cw.MaskReadError, match=r"big\.tif: .*2,000 pixels.*--max-pixels"):
        cw.scan(tmp_path / "big.tif", num_classes=2, max_pixels=1999)
    old = Image.MAX_IMAGE_PIXELS
    try:  # a low process-wide Pillow limit does not change what the scan accepts
        Image.MAX_IMAGE_PIXELS = 100
        s = cw.scan(tmp_path / "big.tif", num_classes=2)
        assert s.pixels.tolist() == [2000, 0]
    finally:
        Image.MAX_IMAGE_PIXELS = old


def test_concurrent_scans_leave_the_flag_alone(tmp_path, truncated_flag):
    """Strict decoding is per call: another thread sees the flag unchanged all along."""
    m = mask(16, 16, seed=6)
    for i in range(8):
        Image.fromarray(m).save(tmp_path / f"{i}.tif")
    seen: set[bool] = set()
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            seen.add(ImageFile.LOAD_TRUNCATED_IMAGES)

    t = threading.Thread(target=watch)
    t.start()
    try:
        for _ in range(3):
            cw.scan(tmp_path, num_classes=5, workers=2)
    finally:
        stop.set()
        t.join()
    assert seen == {True}


# ---- 3. layouts read wrongly stop with the fix -----------------------------------------------
def _voc(root, n=3):
    for sub in ("SegmentationClass", "SegmentationObject"):
        (root / sub).mkdir(parents=True)
        for i in range(n):
            im = Image.frombuffer("P", (8, 8), mask(8, 8, seed=i).tobytes(), "raw", "P", 0, 1)
            im.putpalette(list(range(15)))
            im.save(root / sub / f"2007_{i:06d}.png")
    (root / "JPEGImages").mkdir()


def test_voc_root_is_refused_with_the_glob_that_fixes_it(tmp_path):
    root = tmp_path / "VOC2012"
    _voc(root)
    fix = r"SegmentationObject.*--glob 'SegmentationClass/\*\.png'"
    with pytest.raises(cw.DatasetError, match=fix):
        cw.scan(root, num_classes=21)
    s = cw.scan(root, num_classes=21, glob="SegmentationClass/*.png")
    check_stats(s, [mask(8, 8, seed=i) for i in range(3)], 21)
    with pytest.raises(cw.DatasetError, match=r"--glob 'VOC2012/SegmentationClass/\*\.png'"):
        cw.scan(tmp_path, num_classes=21)


def _celeba(root, ids=(0, 1, 2), classes=("skin", "hair", "l_eye")):
    root.mkdir(parents=True, exist_ok=True)
    for i in ids:
        for c in classes:
            Image.fromarray(np.where(mask(8, 8, seed=i) > 2, 255, 0).astype(np.uint8)).save(
                root / f"{i:05d}_{c}.png"
            )


@pytest.mark.parametrize("glob", [None, "**/*.png"])
def test_celebamask_per_class_pngs_without_multilabel(tmp_path, glob):
    _celeba(tmp_path / "0")
    fix = r"CelebAMask-HQ.*--multilabel --classes celebamask-hq"
    with pytest.raises(cw.DatasetError, match=fix):
        cw.scan(tmp_path, glob=glob)
    s = cw.scan(tmp_path, multilabel=True, classes="celebamask-hq")
    assert s.images.sum() > 0


def test_one_hot_stack_is_refused_without_multilabel(tmp_path):
    lab = mask(16, 20, seed=7, high=4)
    one_hot = (np.arange(4)[:, None, None] == lab[None]).astype(np.uint8)
    np.save(tmp_path / "onehot.npy", one_hot)
    with pytest.raises(cw.MaskReadError, match=r"onehot\.npy: .*one-hot.*--multilabel"):
        cw.scan(tmp_path / "onehot.npy")
    s = cw.scan(tmp_path / "onehot.npy", multilabel=True)
    assert s.pixels.tolist() == [int((lab == k).sum()) for k in range(4)]


def test_a_stack_of_binary_masks_is_still_a_stack(tmp_path):
    """N binary masks (overlapping, some pixels in none) stay N images of 0/1."""
    stack = np.stack([mask(16, 20, seed=k) > 2 for k in range(5)]).astype(np.uint8)
    np.save(tmp_path / "bin.npy", stack)
    check_stats(cw.scan(tmp_path / "bin.npy", num_classes=2), list(stack), 2)


@pytest.mark.parametrize("channels", [3, 4])
def test_hxwx3_npy_is_one_colour_mask_not_h_masks(tmp_path, channels):
    rgb = np.zeros((16, 20, channels), np.uint8)
    rgb[:8] = (128, 64, 128, 255)[:channels]
    rgb[8:] = (70, 70, 70, 255)[:channels]
    np.save(tmp_path / "rgb.npy", rgb)
    with pytest.raises(cw.MaskReadError, match=r"rgb\.npy: .*colour.*--palette"):
        cw.scan(tmp_path / "rgb.npy")
    pal = {(128, 64, 128): 0, (70, 70, 70): 1}
    s = cw.scan(tmp_path / "rgb.npy", palette=pal, num_classes=2)
    assert s.pixels.tolist() == [160, 160] and len(s.sources) == 1


def test_255_inferred_as_a_class_warns_with_the_fix(tmp_path):
    m = mask(8, 8, seed=9, high=3)
    m[0, :4] = 255
    np.save(tmp_path / "m.npy", m)
    with pytest.warns(UserWarning, match=r"255.*void.*--ignore-index 255"):
        s = cw.scan(tmp_path / "m.npy")
    assert s.num_classes == 256
    from classweights import cached_scan

    cache = tmp_path / "cache"
    with pytest.warns(UserWarning, match=r"--ignore-index 255"):
        _, info = cached_scan(tmp_path / "m.npy", cache_dir=cache)
    with pytest.warns(UserWarning, match=r"--ignore-index 255"):
        _, info = cached_scan(tmp_path / "m.npy", cache_dir=cache)
    assert info.hit
    from classweights.scan import VoidLabelWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", VoidLabelWarning)  # the inferred count still says so
        cw.scan(tmp_path / "m.npy", ignore_index=255)


# ---- accepted where refused before ------------------------------------------------------------
def test_pil_images_as_masks():
    ms = [mask(8, 10, seed=k) for k in range(3)]
    ims = [Image.fromarray(m) for m in ms]
    pal = Image.frombuffer("P", (10, 8), ms[0].tobytes(), "raw", "P", 0, 1)
    pal.putpalette([255, 0, 0] * 5)
    check_stats(cw.scan(ims, num_classes=5), ms, 5)
    check_stats(cw.scan([(None, pal)], num_classes=5), ms[:1], 5)  # indices, not colours


def test_pil_images_from_a_torch_dataset():
    torch = pytest.importorskip("torch")
    ms = [mask(8, 10, seed=k) for k in range(4)]

    class VOCLike(torch.utils.data.Dataset):
        def __len__(self):
            return len(ms)

        def __getitem__(self, i):
            return Image.fromarray(ms[i] * 0), Image.fromarray(ms[i])

    check_stats(cw.scan(VOCLike(), num_classes=5, workers=1), ms, 5)


def test_1xhxw_masks_are_squeezed():
    torch = pytest.importorskip("torch")
    ms = [mask(8, 10, seed=k) for k in range(3)]
    items = [ms[0][None], torch.from_numpy(ms[1][None].astype(np.int64)), ms[2][..., None]]
    check_stats(cw.scan(items, num_classes=5), ms, 5)


@pytest.mark.parametrize("key", ["gt_semantic_seg", "seg_map", "segmentation"])
def test_dict_samples_with_mmseg_keys(key):
    ms = [mask(8, 10, seed=k) for k in range(2)]
    items = [{"img": np.zeros((8, 10, 3)), key: m[None]} for m in ms]
    check_stats(cw.scan(items, num_classes=5), ms, 5)


# ---- every decoder path still reads good files exactly ---------------------------------------
def _adam7_png(a: np.ndarray, palette) -> bytes:
    """An interlaced (Adam7) 8-bit palette PNG written by hand."""
    h, w = a.shape
    raw = b""
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                           (1, 0, 2, 2), (0, 1, 1, 2)):  # fmt: skip
        sub = a[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\x00" + row.astype(np.uint8).tobytes() for row in sub)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 1)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"PLTE", bytes(palette))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))  # fmt: skip


def test_interlaced_png_exact_and_short(tmp_path):
    m = mask(13, 11, seed=10)
    data = _adam7_png(m, range(15))
    (tmp_path / "adam7.png").write_bytes(data)
    check_stats(cw.scan(tmp_path / "adam7.png", num_classes=5), [m], 5)
    i = data.index(b"IDAT")
    (n,) = struct.unpack(">I", data[i - 4 : i])
    raw = zlib.decompress(data[i + 4 : i + 4 + n])
    idat = chunk(b"IDAT", zlib.compress(raw[: len(raw) - 20]))
    short = data[: i - 4] + idat + chunk(b"IEND", b"")
    (tmp_path / "adam7.png").write_bytes(short)
    with pytest.raises(cw.MaskReadError, match=r"adam7\.png: .*image data holds"):
        cw.scan(tmp_path / "adam7.png", num_classes=5)


def test_invalid_filter_byte_is_refused_with_the_flag_set(tmp_path, truncated_flag):
    rows = mask(8, 8, seed=11)
    raw = b"".join(bytes([7 if r == 5 else 0]) + rows[r].tobytes() for r in range(8))
    ihdr = struct.pack(">IIBBBBB", 8, 8, 8, 3, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"PLTE", bytes(range(15)))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))  # fmt: skip
    (tmp_path / "filter.png").write_bytes(data)
    with pytest.raises(cw.MaskReadError, match=r"filter\.png: .*invalid row filter"):
        cw.scan(tmp_path / "filter.png", num_classes=5)


@pytest.mark.parametrize(
    "fmt, kw",
    [("TIFF", {"compression": "tiff_lzw"}), ("TIFF", {"compression": "tiff_adobe_deflate"}),
     ("TIFF", {}), ("BMP", {}), ("GIF", {})],
)  # fmt: skip
def test_pillow_formats_read_exactly_with_the_flag_set(tmp_path, truncated_flag, fmt, kw):
    m = mask(24, 40, seed=12)
    im = Image.frombuffer("P", (40, 24), m.tobytes(), "raw", "P", 0, 1)
    im.putpalette(list(range(15)))
    ext = {"TIFF": "tif", "BMP": "bmp", "GIF": "gif"}[fmt]
    im.save(tmp_path / f"m.{ext}", format=fmt, **kw)
    check_stats(cw.scan(tmp_path / f"m.{ext}", num_classes=5), [m], 5)


@pytest.mark.parametrize(
    "fmt, kw", [("TIFF", {"compression": "tiff_lzw"}), ("BMP", {}), ("GIF", {})]
)
def test_truncated_pillow_formats_with_the_flag_set(tmp_path, truncated_flag, fmt, kw):
    m = mask(64, 80, seed=13, high=200)  # noisy: compressed data spans the whole file
    ext = {"TIFF": "tif", "BMP": "bmp", "GIF": "gif"}[fmt]
    Image.fromarray(m).save(tmp_path / f"full.{ext}", format=fmt, **kw)
    data = (tmp_path / f"full.{ext}").read_bytes()
    (tmp_path / f"full.{ext}").unlink()
    (tmp_path / f"cut.{ext}").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(cw.MaskReadError, match=rf"cut\.{ext}: "):
        cw.scan(tmp_path / f"cut.{ext}", num_classes=256)


@pytest.mark.parametrize("depth", [2, 4])
def test_low_bit_depth_grey_png_reads_labels_not_scaled_grey(tmp_path, depth):
    """Pillow scales 2/4-bit grey to 0..255 (label 1 of a 2-bit mask would read as 85)."""
    m = (mask(8, 16, seed=14, high=1 << depth)).astype(np.uint8)
    per = 8 // depth
    raw = b""
    for r in m:
        packed = np.zeros(16 // per, np.uint8)
        for i, v in enumerate(r):
            packed[i // per] |= v << (8 - depth * (i % per + 1))
        raw += b"\x00" + packed.tobytes()
    ihdr = struct.pack(">IIBBBBB", 16, 8, depth, 0, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))  # fmt: skip
    (tmp_path / "low.png").write_bytes(data)
    s = cw.scan(tmp_path / "low.png")
    assert s.num_classes == int(m.max()) + 1
    check_stats(s, [m], s.num_classes)


def test_16_bit_grey_alpha_png_keeps_its_labels(tmp_path):
    """Pillow reads 16-bit grey+alpha as 8-bit (the high byte: labels < 256 become 0)."""
    m = (mask(8, 12, seed=15, high=4).astype(np.uint16) + 300).astype(">u2")
    m[0, 0] = 7
    px = np.stack([m, np.full_like(m, 65535)], axis=-1).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in px)
    ihdr = struct.pack(">IIBBBBB", 12, 8, 16, 4, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))  # fmt: skip
    (tmp_path / "la16.png").write_bytes(data)
    check_stats(cw.scan(tmp_path / "la16.png", num_classes=304), [m.astype(np.int64)], 304)


def test_one_hot_zarr_is_refused_and_one_hot_npz_too(tmp_path):
    zarr = pytest.importorskip("zarr")
    lab = mask(16, 20, seed=16, high=3)
    one_hot = (np.arange(3)[:, None, None] == lab[None]).astype(np.uint8)
    z = zarr.open(str(tmp_path / "oh.zarr"), mode="w", shape=one_hot.shape, dtype="u1")
    z[...] = one_hot
    with pytest.raises(cw.MaskReadError, match=r"oh\.zarr: .*one-hot"):
        cw.scan(tmp_path / "oh.zarr")
    np.savez(tmp_path / "oh.npz", masks=one_hot)
    with pytest.raises(cw.MaskReadError, match=r"oh\.npz:masks: .*one-hot"):
        cw.scan(tmp_path / "oh.npz")


def test_voc_aug_beside_voc_and_a_glob_taking_both(tmp_path):
    root = tmp_path / "VOC2012"
    _voc(root)
    (root / "SegmentationObject").rename(root / "SegmentationClassAug")
    with pytest.raises(cw.DatasetError, match=r"counted twice.*--glob 'SegmentationClass/\*\.png'"):
        cw.scan(root, num_classes=21, glob="**/*.png")
    s = cw.scan(root, num_classes=21, glob="SegmentationClassAug/*.png")
    check_stats(s, [mask(8, 8, seed=i) for i in range(3)], 21)


def test_grey_png_with_a_transparent_colour_reads_its_labels(tmp_path):
    """libpng expands grey + tRNS to grey+alpha: the labels are the grey channel."""
    m = mask(6, 7, seed=17)
    raw = b"".join(b"\x00" + r.tobytes() for r in m)
    ihdr = struct.pack(">IIBBBBB", 7, 6, 8, 0, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"tRNS", b"\x00\x00")
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))  # fmt: skip
    (tmp_path / "trns.png").write_bytes(data)
    check_stats(cw.scan(tmp_path / "trns.png", num_classes=5), [m], 5)


def _hand_tiff(m: np.ndarray, bits: int, photometric: int) -> bytes:
    """An uncompressed little-endian grey TIFF with ``bits`` per sample, written by hand."""
    h, w = m.shape
    per = max(1, 8 // bits)
    data = m.astype("<u2").tobytes() if bits == 16 else b""
    for r in m if bits < 16 else ():
        packed = np.zeros((w * bits + 7) // 8, np.uint8)
        for i, v in enumerate(r):
            packed[i // per] |= int(v) << (8 - bits * (i % per + 1))
        data += packed.tobytes()
    ifd = [(256, 3, w), (257, 3, h), (258, 3, bits), (259, 3, 1), (262, 3, photometric),
           (273, 4, 8 + 2 + 9 * 12 + 4), (277, 3, 1), (278, 3, h), (279, 4, len(data))]  # fmt: skip
    body = struct.pack("<H", len(ifd))
    for tag, typ, v in ifd:
        body += struct.pack("<HHII" if typ == 4 else "<HHIHxx", tag, typ, 1, v)
    return b"II*\x00" + struct.pack("<I", 8) + body + b"\x00" * 4 + data


@pytest.mark.parametrize("bits", [1, 2, 4, 8, 16])
@pytest.mark.parametrize("photometric", [0, 1])
def test_grey_tiff_reads_stored_labels(tmp_path, bits, photometric):
    """Pillow scales 2/4-bit grey and inverts 1/8-bit WhiteIsZero (not 16-bit); the labels are
    the stored values at every depth."""
    m = mask(4, 16, seed=18, high=min(1 << bits, 5))
    (tmp_path / "g.tif").write_bytes(_hand_tiff(m, bits, photometric))
    check_stats(cw.scan(tmp_path / "g.tif", num_classes=5), [m], 5)
