"""Every input kind, written as real files, counted and compared with the naive reference."""

import json
import math

import numpy as np
import pytest
from conftest import save_png
from naive import check_stats

import classweights as cw
from classweights.labels import CITYSCAPES_COLORS, REMAP_PRESETS

# every test runs with the NumPy twins and with the Numba kernels (conftest.kernels)
pytestmark = pytest.mark.usefixtures("kernels")


def test_png_mode_L_folder(tmp_path, scenes):
    (tmp_path / "sub").mkdir()
    for i, m in enumerate(scenes):
        save_png(tmp_path / "sub" / f"{i}.png" if i % 2 else tmp_path / f"{i}.png", m)
    s = cw.scan(tmp_path, num_classes=19, ignore_index=255)
    order = [tmp_path / f"{i}.png" for i in range(0, 6, 2)] + [
        tmp_path / "sub" / f"{i}.png" for i in range(1, 6, 2)
    ]
    masks = [scenes[int(p.stem)] for p in sorted(order, key=lambda p: str(p))]
    assert s.sources == sorted(map(str, order))
    check_stats(s, masks, 19, 255)


def test_png_mode_P_uses_indices_not_colours(tmp_path):
    m = np.array([[0, 1, 2], [2, 2, 5]], np.uint8)
    palette = [
        v
        for c in [(10, 20, 30), (200, 0, 0), (0, 200, 0), (0, 0, 0), (0, 0, 0), (9, 9, 9)]
        for v in c
    ]
    save_png(tmp_path / "p.png", m, mode="P", palette=palette)
    from PIL import Image

    assert Image.open(tmp_path / "p.png").mode == "P"
    s = cw.scan(tmp_path / "p.png", num_classes=6)
    check_stats(s, [m], 6)


def test_png_mode_P_low_bit_depth(tmp_path):
    from PIL import Image

    m = np.array([[0, 1], [3, 3]], np.uint8)
    im = Image.frombuffer("P", (2, 2), m.tobytes(), "raw", "P", 0, 1)
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    im.save(tmp_path / "p2.png", bits=2)
    assert (tmp_path / "p2.png").read_bytes()[24] == 2  # 2-bit palette PNG
    check_stats(cw.scan(tmp_path / "p2.png", num_classes=4), [m], 4)


def test_png_mode_I16_labels_above_255(tmp_path):
    m = np.array([[0, 300], [300, 1000]], np.uint16)
    save_png(tmp_path / "a.png", m, mode="I;16")
    s = cw.scan(tmp_path / "a.png", num_classes=1001)
    check_stats(s, [m], 1001)


def test_mode_I_int32_tiff(tmp_path):
    # PNG stops at 16 bits; 32-bit label maps (mode I) come as TIFF
    from PIL import Image

    m = np.array([[0, 70000], [5, 5]], np.int32)
    Image.fromarray(m).save(tmp_path / "a.tif")
    assert Image.open(tmp_path / "a.tif").mode == "I"
    # 70000 read exactly: the remap finds it (a label space is at most 65,536 classes wide)
    s = cw.scan(tmp_path / "a.tif", num_classes=6, remap={0: 0, 5: 5, 70000: 1})
    assert s.pixels.tolist() == [1, 1, 0, 0, 0, 2]
    assert s.image_unknown.tolist() == [0]


def test_png_mode_1_is_binary_not_255(tmp_path):
    m = np.zeros((8, 8), bool)
    m[2:5, 1:7] = True
    save_png(tmp_path / "b.png", m, mode="1")
    s = cw.scan(tmp_path / "b.png", num_classes=2)
    check_stats(s, [m.astype(np.uint8)], 2)


def test_tiff_label_map(tmp_path):
    from PIL import Image

    m = np.array([[1, 2], [3, 1]], np.uint8)
    Image.fromarray(m).save(tmp_path / "a.tif")
    check_stats(cw.scan(tmp_path / "a.tif", num_classes=4), [m], 4)


def test_rgb_with_palette_and_unknown_colour(tmp_path):
    idx = np.array([[0, 0, 13], [10, 13, 13]])
    rgb = np.array([CITYSCAPES_COLORS[i] for i in idx.ravel()], np.uint8).reshape(2, 3, 3)
    save_png(tmp_path / "c.png", rgb)
    s = cw.scan(tmp_path / "c.png", num_classes=19, palette="cityscapes")
    check_stats(s, [idx], 19)
    rgb[0, 0] = (1, 2, 3)
    save_png(tmp_path / "c.png", rgb)
    with pytest.raises(cw.UnknownLabelError, match=r"#010203 \(1 px\).*c\.png"):
        cw.scan(tmp_path / "c.png", num_classes=19, palette="cityscapes")
    s = cw.scan(tmp_path / "c.png", num_classes=19, palette="cityscapes", unknown="ignore")
    assert s.unknown_values == {"#010203": 1} and s.unknown_pixels == 1
    assert s.pixels[0] == 1


def test_rgb_palette_file_yaml_and_json(tmp_path):
    rgb = np.array([[[255, 0, 0], [0, 0, 255]]], np.uint8)
    save_png(tmp_path / "c.png", rgb)
    (tmp_path / "pal.json").write_text(json.dumps({"1": [255, 0, 0], "0": "#0000ff"}))
    (tmp_path / "pal.yaml").write_text("- [0, 0, 255]\n- [255, 0, 0]\n")
    for pal in ("pal.json", "pal.yaml"):
        s = cw.scan(tmp_path / "c.png", num_classes=2, palette=tmp_path / pal)
        assert s.pixels.tolist() == [1, 1]


def test_rgb_without_palette_is_a_clear_error(tmp_path):
    save_png(tmp_path / "c.png", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(cw.MaskReadError, match=r"c\.png.*RGB colour mask.*--palette"):
        cw.scan(tmp_path, num_classes=3)


def test_npy_single_and_stack_and_npz(tmp_path, scenes):
    np.save(tmp_path / "one.npy", scenes[0])
    np.save(tmp_path / "stack.npy", np.stack(scenes[1:4]).astype(np.int32))
    np.savez(tmp_path / "z.npz", b=np.stack(scenes[4:6]), a=scenes[0].astype(np.uint16))
    s = cw.scan(tmp_path, num_classes=19, ignore_index=255)
    # files in name order; npz arrays in key order
    masks = [scenes[0], *scenes[1:4], scenes[0], scenes[4], scenes[5]]
    check_stats(s, masks, 19, 255)
    assert s.sources[1].endswith("stack.npy[0]") and s.sources[-1].endswith("z.npz:b[1]")


def test_zarr_array_and_group(tmp_path, scenes):
    import zarr

    stack = np.stack(scenes)
    arr = zarr.create_array(
        tmp_path / "a.zarr", shape=stack.shape, chunks=(4, 48, 96), dtype="uint8"
    )
    arr[:] = stack
    g = zarr.open_group(tmp_path / "g.zarr", mode="w")
    g.create_array("train", shape=stack.shape, chunks=(1, 24, 48), dtype="uint8")[:] = stack
    g.create_array("val", shape=(2, 48, 96), chunks=(1, 48, 96), dtype="int32")[:] = stack[:2]
    check_stats(cw.scan(tmp_path / "a.zarr", num_classes=19, ignore_index=255), scenes, 19, 255)
    s = cw.scan(tmp_path / "g.zarr", num_classes=19, ignore_index=255)
    check_stats(s, scenes + scenes[:2], 19, 255)
    s = cw.scan(tmp_path / "a.zarr", num_classes=19, ignore_index=255, sample=3, seed=1)
    picked = [int(src.rsplit("[", 1)[1][:-1]) for src in s.sources]
    check_stats(s, [scenes[i] for i in picked], 19, 255)


def test_list_file_relative_to_itself(tmp_path, scenes):
    (tmp_path / "m").mkdir()
    for i in range(3):
        save_png(tmp_path / "m" / f"{i}.png", scenes[i])
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "train.txt").write_text("# masks\n../m/2.png\n\n../m/0.png\n")
    s = cw.scan(tmp_path / "lists" / "train.txt", num_classes=19, ignore_index=255)
    check_stats(s, [scenes[2], scenes[0]], 19, 255)
    (tmp_path / "lists" / "bad.txt").write_text("../m/0.png\n../m/missing.png\n")
    with pytest.raises(cw.DatasetError, match="missing.png"):
        cw.scan(tmp_path / "lists" / "bad.txt", num_classes=19)


def test_python_iterables(scenes):
    gen = (m for m in scenes)
    check_stats(cw.scan(gen, num_classes=19, ignore_index=255), scenes, 19, 255)
    pairs = [(None, m) for m in scenes]
    check_stats(cw.scan(pairs, num_classes=19, ignore_index=255), scenes, 19, 255)
    dicts = [{"image": None, "mask": m} for m in scenes]
    check_stats(cw.scan(dicts, num_classes=19, ignore_index=255), scenes, 19, 255)


def _make_dataset(masks):
    import torch

    class DS(torch.utils.data.Dataset):
        def __len__(self):
            return len(masks)

        def __getitem__(self, i):
            return torch.zeros(3, 2, 2), torch.from_numpy(masks[i].astype(np.int64))

    return DS()


def test_torch_dataset_and_seed_compat(scenes):
    torch = pytest.importorskip("torch")
    ds = _make_dataset(scenes)
    s = cw.scan(ds, num_classes=19, ignore_index=255, workers=1)
    check_stats(s, scenes, 19, 255)
    # through a DataLoader with two worker processes: same counts, same order
    assert cw.scan(ds, num_classes=19, ignore_index=255, workers=2) == s
    sub = cw.scan(ds, num_classes=19, ignore_index=255, workers=2, sample=3, seed=4)
    picked = [int(x[1:-1]) for x in sub.sources]
    check_stats(sub, [scenes[i] for i in picked], 19, 255)
    w = cw.calculate_class_weights(
        dataset=ds, num_classes=19, device="cpu", method="sqrt_inv_freq", ignore_index=255
    )
    assert isinstance(w, torch.Tensor) and w.shape == (19,) and torch.isfinite(w).all()


def test_cityscapes_remap(tmp_path):
    ids = np.array([[7, 8, 0], [26, 33, 1], [24, 24, 24]], np.uint8)
    save_png(tmp_path / "x_labelIds.png", ids)
    s = cw.scan(
        tmp_path, num_classes=19, ignore_index=255, remap="cityscapes", classes="cityscapes"
    )
    check_stats(s, [ids], 19, 255, remap=REMAP_PRESETS["cityscapes"])
    assert s.pixels[11] == 3 and s.class_names[11] == "person" and s.ignored_pixels == 2
    with pytest.raises(cw.UnknownLabelError, match=r"26 \(1 px\).*x_labelIds\.png.*--remap"):
        cw.scan(tmp_path, num_classes=19, ignore_index=255)


def test_remap_file_and_reduce_zero_label(tmp_path):
    m = np.array([[0, 1, 2], [3, 150, 255]], np.uint8)
    save_png(tmp_path / "a.png", m)
    s = cw.scan(tmp_path / "a.png", num_classes=150, ignore_index=255, reduce_zero_label=True)
    check_stats(s, [m], 150, 255, reduce_zero_label=True)
    assert s.ignored_pixels == 2 and s.pixels[149] == 1
    (tmp_path / "r.yaml").write_text("3: 0\n2: 255\n")
    s = cw.scan(tmp_path / "a.png", num_classes=151, ignore_index=255, remap=tmp_path / "r.yaml")
    check_stats(s, [m], 151, 255, remap={3: 0, 2: 255})


def test_class_name_presets_and_names_file(tmp_path):
    from classweights.labels import resolve_class_names

    sizes = {"cityscapes": 19, "camvid": 11, "pascal-voc": 21, "ade20k": 150, "celebamask-hq": 19}
    for preset, n in sizes.items():
        assert len(resolve_class_names(preset)) == n
    (tmp_path / "names.txt").write_text("bg\nfg\n")
    save_png(tmp_path / "a.png", np.array([[0, 1]], np.uint8))
    s = cw.scan(tmp_path / "a.png", classes=tmp_path / "names.txt")
    assert s.num_classes == 2 and s.class_names == ["bg", "fg"]
    with pytest.raises(cw.ConfigError, match="2 class names given but num_classes=3"):
        cw.scan(tmp_path / "a.png", classes=tmp_path / "names.txt", num_classes=3)


def test_multilabel_stacks_npz_and_zarr(tmp_path):
    import zarr

    rng = np.random.default_rng(0)
    stack = rng.random((3, 4, 8, 8)) < np.array([0.5, 0.1, 0.02, 0.0])[None, :, None, None]
    np.savez(tmp_path / "ml.npz", masks=stack)
    z = zarr.create_array(
        tmp_path / "ml.zarr", shape=stack.shape, chunks=(1, 4, 8, 8), dtype="bool"
    )
    z[:] = stack
    for src in ("ml.npz", "ml.zarr"):
        s = cw.scan(tmp_path / src, num_classes=4, multilabel=True)
        assert s.multilabel and s.num_images == 3
        np.testing.assert_array_equal(s.counts, stack.reshape(3, 4, -1).sum(-1))
        np.testing.assert_array_equal(s.negatives, 3 * 64 - stack.reshape(3, 4, -1).sum(-1).sum(0))
    np.save(tmp_path / "bad.npy", np.full((1, 4, 2, 2), 2, np.uint8))
    with pytest.raises(cw.MaskReadError, match=r"bad\.npy.*0/1"):
        cw.scan(tmp_path / "bad.npy", num_classes=4, multilabel=True)


def test_multilabel_per_class_pngs_celebamask_layout(tmp_path):
    names = ["background", "skin", "l_eye", "hair"]
    rng = np.random.default_rng(0)
    expected = np.zeros((2, 4), np.int64)
    for img in range(2):
        for c, name in enumerate(names[1:], start=1):
            if img == 1 and name == "l_eye":
                continue  # a class absent from the image has no file
            m = (rng.random((16, 16)) < 0.3).astype(np.uint8) * 255
            save_png(tmp_path / f"{img:05d}_{name}.png", m)
            expected[img, c] = np.count_nonzero(m)
    s = cw.scan(tmp_path, classes=names, multilabel=True)
    np.testing.assert_array_equal(s.counts, expected)
    assert s.image_total.tolist() == [256, 256] and s.sources[0].endswith("00000")


@pytest.mark.parametrize("compressed", [False, True])
def test_an_npz_member_is_read_in_one_pass(tmp_path, monkeypatch, compressed):
    """Units of 16 images each opened the member and seeked from its start (a zip stream cannot
    seek back), so a 1,000-image member was decompressed ~60 times over: now one pass, in
    order, with per-image counts equal to NumPy's."""
    from classweights.sources import arrays

    rng = np.random.default_rng(5)
    stack = rng.integers(0, 4, (100, 6, 7), dtype=np.uint8)
    (np.savez_compressed if compressed else np.savez)(tmp_path / "m.npz", masks=stack)
    opened, reads = [], []
    real_init, real_read = arrays.NpzMember.__init__, arrays.NpzMember._read

    def counting_init(self, *a, **k):
        opened.append(a)
        real_init(self, *a, **k)

    def counting_read(self, offset, shape):
        reads.append(offset)
        return real_read(self, offset, shape)

    monkeypatch.setattr(arrays.NpzMember, "__init__", counting_init)
    monkeypatch.setattr(arrays.NpzMember, "_read", counting_read)
    s = cw.scan(tmp_path / "m.npz", num_classes=4, workers=2)
    assert len(opened) == 1
    assert reads == sorted(reads)  # forward only
    # image 0 for the one-hot check, then one read per block of images (up to 16 M values for
    # NumPy counting, 64 images for the Numba stack kernel)
    assert len(reads) in (2, 3)
    want = np.stack([np.bincount(m.ravel(), minlength=4) for m in stack])
    np.testing.assert_array_equal(s.counts, want)


@pytest.mark.parametrize(
    ("dtype", "shape"),
    [(np.uint8, (150, 8, 16)), (np.uint8, (70, 5, 7)), (np.uint16, (40, 6, 8)),
     (np.int32, (20, 4, 4)), (np.bool_, (20, 4, 4))],
)  # fmt: skip
@pytest.mark.parametrize("kind", ["npy", "npz", "npz_compressed"])
def test_stacks_counted_a_block_at_a_time_equal_numpy(tmp_path, dtype, shape, kind):
    """Consecutive masks of an .npy/.npz stack are counted in one kernel call (uint8/uint16,
    whole 64-bit words per image), else one by one: per-image rows equal NumPy's either way,
    for whole stacks, blocks of 64, 16-image uint16 parts, and samples (not consecutive)."""
    rng = np.random.default_rng(7)
    high = 2 if dtype == np.bool_ else 3000 if dtype == np.uint16 else 19
    stack = rng.integers(0, high, shape).astype(dtype)
    f = tmp_path / ("m.npy" if kind == "npy" else "m.npz")
    if kind == "npy":
        np.save(f, stack)
    else:
        (np.savez_compressed if kind == "npz_compressed" else np.savez)(f, masks=stack)
    c = int(stack.max()) + 1
    want = np.stack([np.bincount(m.ravel().astype(np.int64), minlength=c) for m in stack])
    for workers in (1, 2):
        s = cw.scan(f, num_classes=c, workers=workers)
        np.testing.assert_array_equal(s.counts, want)
        assert s.image_total.tolist() == [math.prod(shape[1:])] * shape[0]
    sampled = cw.scan(f, num_classes=c, sample=7, seed=3)
    rows = [int(src.rsplit("[", 1)[1][:-1]) for src in sampled.sources]
    np.testing.assert_array_equal(sampled.counts, want[rows])


@pytest.mark.parametrize("chunks", [(1, 5, 6), (7, 5, 6), (64, 5, 6)])
def test_zarr_stacks_counted_a_block_at_a_time_equal_numpy(tmp_path, chunks):
    zarr = pytest.importorskip("zarr")
    stack = np.random.default_rng(9).integers(0, 12, (45, 5, 6), dtype=np.uint8)
    z = zarr.create_array(tmp_path / "m.zarr", shape=stack.shape, dtype=stack.dtype, chunks=chunks)
    z[...] = stack
    want = np.stack([np.bincount(m.ravel(), minlength=12) for m in stack])
    for workers in (1, 2):
        np.testing.assert_array_equal(cw.scan(tmp_path / "m.zarr", num_classes=12,
                                              workers=workers).counts, want)  # fmt: skip
    s = cw.scan(tmp_path / "m.zarr", num_classes=12, sample=9, seed=1)
    rows = [int(src.rsplit("[", 1)[1][:-1]) for src in s.sources]
    np.testing.assert_array_equal(s.counts, want[rows])


@pytest.mark.parametrize("layout", ["fortran", "big_endian"])
def test_stacks_the_block_kernel_cannot_take_are_counted_one_by_one(tmp_path, layout):
    stack = np.random.default_rng(8).integers(0, 300, (20, 6, 8)).astype(np.uint16)
    if layout == "fortran":
        stored = np.asfortranarray(stack)
    else:
        stored = stack.astype(">u2")
    np.save(tmp_path / "m.npy", stored)
    want = np.stack([np.bincount(m.ravel(), minlength=300) for m in stack])
    np.testing.assert_array_equal(cw.scan(tmp_path / "m.npy", num_classes=300).counts, want)


def test_a_stack_of_empty_masks_is_refused_on_the_block_path_too(tmp_path):
    np.save(tmp_path / "m.npy", np.zeros((5, 0, 8), np.uint8))
    with pytest.raises(cw.MaskReadError, match="holds no pixels"):
        cw.scan(tmp_path / "m.npy", num_classes=2)


def test_rgba_and_la_masks_in_memory_count_as_their_files(tmp_path):
    """An in-memory RGBA colour mask with palette= was refused ("needs --palette"); the same
    file worked. Arrays, PIL images and the file agree with a NumPy count of the labels."""
    from PIL import Image

    rng = np.random.default_rng(5)
    idx = rng.integers(0, 19, size=(6, 7))
    rgba = np.zeros((6, 7, 4), np.uint8)
    rgba[..., :3] = np.array(CITYSCAPES_COLORS, np.uint8)[idx]
    rgba[..., 3] = rng.integers(0, 256, size=(6, 7))  # any alpha: a colour table drops it
    Image.fromarray(rgba, "RGBA").save(tmp_path / "c.png")
    from_file = cw.scan(tmp_path / "c.png", num_classes=19, palette="cityscapes")
    check_stats(from_file, [idx], 19)
    for given in (rgba, Image.fromarray(rgba, "RGBA")):
        s = cw.scan([given], num_classes=19, palette="cityscapes")
        check_stats(s, [idx], 19)
        assert s.pixels.tolist() == from_file.pixels.tolist()
    with pytest.raises(cw.MaskReadError, match=r"colour mask needs --palette"):
        cw.scan([rgba], num_classes=19)  # without a colour table it stays refused
    labels = rng.integers(0, 5, size=(4, 3)).astype(np.uint8)
    la = Image.fromarray(labels, "L").convert("LA")  # grey + alpha, as the file reader takes it
    la.save(tmp_path / "la.png")
    check_stats(cw.scan([la], num_classes=5), [labels], 5)
    check_stats(cw.scan(tmp_path / "la.png", num_classes=5), [labels], 5)
