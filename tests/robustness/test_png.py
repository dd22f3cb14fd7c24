"""Damaged and surprising PNG files: exact counts, or one MaskReadError naming the file."""

import struct

import numpy as np
import pytest
from conftest import save_png
from naive import check_stats
from PIL import Image
from robust_helpers import chunk, mask, png_bytes

import classweights as cw


def _good(tmp_path, name="good.png", seed=0):
    m = mask(seed=seed)
    save_png(tmp_path / name, m)
    return m, (tmp_path / name).read_bytes()


def test_handwritten_png_is_read_exactly(tmp_path):
    m = mask()
    (tmp_path / "hand.png").write_bytes(png_bytes(m))
    check_stats(cw.scan(tmp_path / "hand.png", num_classes=5), [m], 5)


def test_truncated_png(tmp_path):
    m, data = _good(tmp_path)
    (tmp_path / "trunc.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(cw.MaskReadError, match=r"trunc\.png.*truncated") as e:
        cw.scan(tmp_path / "trunc.png", num_classes=5)
    assert str(tmp_path / "trunc.png") in str(e.value)
    # cut exactly before IEND: every chunk intact, the end missing
    (tmp_path / "noend.png").write_bytes(data[:-12])
    with pytest.raises(cw.MaskReadError, match=r"noend\.png.*before its IEND"):
        cw.scan(tmp_path / "noend.png", num_classes=5)
    s = cw.scan(tmp_path, num_classes=5, on_error="skip")
    assert [p.rsplit("/", 1)[1] for p, _ in s.skipped] == ["noend.png", "trunc.png"]
    check_stats(s, [m], 5)


@pytest.mark.parametrize("where", ["crc", "data"])
def test_bad_crc_in_idat(tmp_path, where):
    """libpng (imagecodecs) accepts a wrong IDAT CRC: we verify every chunk's CRC ourselves."""
    _, data = _good(tmp_path)
    i = data.index(b"IDAT")
    (n,) = struct.unpack(">I", data[i - 4 : i])
    bad = bytearray(data)
    bad[i + 4 + n if where == "crc" else i + 4 + n // 2] ^= 0x01
    (tmp_path / "badcrc.png").write_bytes(bytes(bad))
    with pytest.raises(
        cw.MaskReadError, match=r"badcrc\.png: the PNG is damaged: the CRC of its IDAT"
    ):
        cw.scan(tmp_path / "badcrc.png", num_classes=5)


def test_bad_crc_in_an_ancillary_chunk_is_refused_too(tmp_path):
    m = mask()
    text = chunk(b"tEXt", b"Comment\x00hello")
    data = bytearray(png_bytes(m, extra_before_idat=text))
    data[data.index(b"hello")] ^= 0x20  # "Hello": the tEXt CRC no longer matches
    (tmp_path / "anc.png").write_bytes(bytes(data))
    with pytest.raises(cw.MaskReadError, match=r"anc\.png.*CRC of its tEXt chunk"):
        cw.scan(tmp_path / "anc.png", num_classes=5)


def test_zero_byte_png(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(cw.MaskReadError, match=r"empty\.png: the file is empty \(0 bytes\)"):
        cw.scan(tmp_path, num_classes=5)


def test_jpeg_named_png(tmp_path):
    Image.fromarray(mask() * 50).save(tmp_path / "photo.jpg", format="JPEG")
    (tmp_path / "photo.png").write_bytes((tmp_path / "photo.jpg").read_bytes())
    (tmp_path / "photo.jpg").unlink()
    with pytest.raises(cw.MaskReadError, match=r"photo\.png: not a PNG file.*JPEG renamed"):
        cw.scan(tmp_path, num_classes=5)


def test_16_bit_png_small_labels_are_exact(tmp_path):
    m = mask().astype(np.uint16)
    save_png(tmp_path / "m16.png", m, mode="I;16")
    assert (tmp_path / "m16.png").read_bytes()[24] == 16  # bit depth in IHDR
    check_stats(cw.scan(tmp_path / "m16.png", num_classes=5), [m], 5)


def test_16_bit_png_where_8_bit_expected_names_values_and_file(tmp_path):
    """Instance-id style 16-bit masks (labels x 1000) against 19 classes: unknown labels."""
    m = mask().astype(np.uint16) * 1000
    save_png(tmp_path / "inst16.png", m, mode="I;16")
    with pytest.raises(cw.UnknownLabelError, match=r"1000 \(\d+ px\).*inst16\.png.*--remap") as e:
        cw.scan(tmp_path / "inst16.png", num_classes=19)
    assert str(tmp_path / "inst16.png") in str(e.value)


def test_decompression_bomb_header_is_refused_before_decoding(tmp_path):
    # a 60000 x 60000 declared size (3.6 GPx) with a few bytes of data
    (tmp_path / "bomb.png").write_bytes(png_bytes(mask(2, 2), width=60000, height=60000))
    with pytest.raises(cw.MaskReadError, match=r"bomb\.png: declares 60000x60000.*--max-pixels"):
        cw.scan(tmp_path / "bomb.png", num_classes=5)


def test_size_limit_and_the_flag_that_raises_it(tmp_path):
    m = mask(400, 300)
    save_png(tmp_path / "big.png", m)
    with pytest.raises(
        cw.MaskReadError, match=r"big\.png: declares 300x400 = 120,000 pixels.*--max-pixels"
    ):
        cw.scan(tmp_path / "big.png", num_classes=5, max_pixels=100_000)
    check_stats(cw.scan(tmp_path / "big.png", num_classes=5, max_pixels=200_000), [m], 5)
    # Pillow-decoded formats obey the same limit (TIFF)
    Image.fromarray(m).save(tmp_path / "big.tif")
    with pytest.raises(
        cw.MaskReadError, match=r"big\.tif: declares 300x400.*limit of 100,000.*--max-pixels"
    ):
        cw.scan(tmp_path / "big.tif", num_classes=5, max_pixels=100_000)


@pytest.mark.parametrize("mode", ["L", "P"])
def test_animated_png_is_refused(tmp_path, mode):
    frames = [Image.fromarray(mask(seed=i)) for i in range(3)]
    if mode == "P":
        frames = [f.convert("P") for f in frames]
    frames[0].save(tmp_path / "anim.png", save_all=True, append_images=frames[1:])
    assert b"acTL" in (tmp_path / "anim.png").read_bytes()
    with pytest.raises(
        cw.MaskReadError,
        match=r"anim\.png: (animated PNG with 3 frames|has 3 frames); a mask must be a single image",
    ):
        cw.scan(tmp_path / "anim.png", num_classes=256)


def test_multi_frame_gif_and_tiff_are_refused(tmp_path):
    frames = [Image.fromarray(mask(seed=i)).convert("P") for i in range(2)]
    frames[0].save(tmp_path / "multi.gif", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "multi.tif", save_all=True, append_images=frames[1:])
    for name in ("multi.gif", "multi.tif"):
        with pytest.raises(cw.MaskReadError, match=rf"{name.replace('.', '[.]')}: has 2 frames"):
            cw.scan(tmp_path / name, num_classes=256)


def test_rgba_mask_with_a_colour_table_drops_alpha(tmp_path):
    colours = [[0, 0, 0], [255, 0, 0], [0, 0, 255]]
    idx = mask(high=3)
    rgba = np.zeros((*idx.shape, 4), np.uint8)
    rgba[..., :3] = np.array(colours, np.uint8)[idx]
    rgba[..., 3] = np.where(idx == 0, 0, 255)  # transparent background: alpha is not a label
    save_png(tmp_path / "rgba.png", rgba)
    assert Image.open(tmp_path / "rgba.png").mode == "RGBA"
    s = cw.scan(tmp_path / "rgba.png", num_classes=3, palette=colours)
    check_stats(s, [idx], 3)


def test_rgba_mask_without_a_colour_table(tmp_path):
    save_png(tmp_path / "rgba.png", np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(
        cw.MaskReadError, match=r"rgba\.png: is an RGBA colour mask but no colour table.*--palette"
    ):
        cw.scan(tmp_path / "rgba.png", num_classes=3)
