"""Issue 28: volumes that read "fine" but wrongly: declared spacing units, NRRDs without a
spacing, 2-D masks beside 3-D volumes. References are hand-computed voxel volumes and NumPy
counts of the arrays written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import classweights as cw
from classweights.cli import cli
from classweights import cached_scan
from classweights.errors import DatasetError

nib = pytest.importorskip("nibabel")
nrrd = pytest.importorskip("nrrd")


def _labels(shape=(6, 5, 4), k=3, seed=0):
    return np.random.default_rng(seed).integers(0, k, shape).astype(np.uint8)


def _nifti(path, a, zooms, unit=None):
    img = nib.Nifti1Image(a, np.diag([*zooms, 1.0]))
    if unit is not None:
        img.header.set_xyzt_units(xyz=unit)
    nib.save(img, path)
    return path


def _json(*args):
    r = CliRunner().invoke(cli, [*map(str, args), "--format", "json", "--no-cache"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _mm3(a, voxel_mm3, k=3):
    return (np.bincount(a.ravel(), minlength=k) * voxel_mm3).tolist()


@pytest.mark.parametrize(
    ("unit", "zooms", "voxel_mm3"),
    [
        ("micron", (500.0, 500.0, 2000.0), 0.5 * 0.5 * 2.0),  # 500 um = 0.5 mm
        ("meter", (0.001, 0.002, 0.004), 1.0 * 2.0 * 4.0),
        ("mm", (0.8, 0.8, 2.5), 0.8 * 0.8 * 2.5),
    ],
)
def test_nifti_declared_units_are_converted_to_mm(tmp_path, unit, zooms, voxel_mm3):
    a = _labels()
    f = _nifti(tmp_path / "seg.nii.gz", a, zooms, unit)
    s = cw.scan(f, num_classes=3)
    assert np.allclose(s.physical_volume, _mm3(a, voxel_mm3), rtol=1e-6)
    data = _json("stats", f, "--num-classes", 3)
    assert np.allclose([c["volume_mm3"] for c in data["classes"]], _mm3(a, voxel_mm3), rtol=1e-6)
    assert data["dataset"]["volumes"]["spacing_units_assumed"] is False


def test_nifti_without_units_assumes_mm_and_says_so_once(tmp_path):
    a = _labels()
    for i in range(2):
        _nifti(tmp_path / f"seg{i}.nii.gz", a, (0.5, 0.5, 1.0), unit="unknown")
    _nifti(tmp_path / "seg2.nii.gz", a, (0.5, 0.5, 1.0), unit="mm")
    data = _json("stats", tmp_path, "--num-classes", 3)
    vol = data["dataset"]["volumes"]
    assert vol["spacing_units_assumed"] is True
    assert vol["spacing_units_assumed_volumes"] == 2
    assert np.allclose([c["volume_mm3"] for c in data["classes"]], _mm3(a, 3 * 0.25))
    r = CliRunner().invoke(cli, ["stats", str(tmp_path), "--num-classes", "3", "--no-cache"])
    assert r.exit_code == 0, r.output
    assert " ".join(r.stdout.split()).count("spacing unit not declared by 2 of 3 volumes") == 1
    declared = _json("stats", tmp_path / "seg2.nii.gz", "--num-classes", 3)
    assert "spacing unit" not in json.dumps(declared["dataset"]["volumes"]).replace(
        '"spacing_units_assumed', ""
    )


def test_units_assumed_survives_the_cache_subsets_and_merges(tmp_path):
    a = _labels()
    data = tmp_path / "data"
    data.mkdir()
    _nifti(data / "a.nii.gz", a, (1.0, 1.0, 1.0), unit="unknown")
    _nifti(data / "b.nii.gz", a, (1.0, 1.0, 1.0), unit="mm")
    kw = {"num_classes": 3, "cache_dir": tmp_path / "cache"}
    first, _ = cached_scan(data, **kw)
    again, info = cached_scan(data, **kw)
    assert info.hit
    assert again.units_assumed.tolist() == [True, False] == first.units_assumed.tolist()
    assert again.subset([1]).units_assumed.tolist() == [False]
    assert (again + again.subset([1])).units_assumed.tolist() == [True, False, False]
    saved = cw.ClassStats.load(again.save(tmp_path / "s.npz"))
    assert saved.units_assumed.tolist() == [True, False]


@pytest.mark.parametrize(
    ("header", "voxel_mm3", "assumed"),
    [
        (
            {"space directions": np.diag([500.0, 500.0, 2000.0]), "space": "RAS",
             "space units": ["microns", "microns", "microns"]},
            0.5 * 0.5 * 2.0,
            False,
        ),
        ({"spacings": [0.002, 0.002, 0.004], "units": ["m", "m", "m"]}, 2.0 * 2.0 * 4.0, False),
        ({"spacings": [0.5, 0.5, 3.0], "units": ["mm", "mm", "mm"]}, 0.75, False),
        ({"spacings": [0.5, 0.5, 3.0]}, 0.75, True),
        ({"space directions": np.diag([0.5, 0.5, 3.0]), "space": "RAS"}, 0.75, True),
    ],
)
def test_nrrd_declared_units_are_converted_to_mm(tmp_path, header, voxel_mm3, assumed):
    a = _labels()
    f = tmp_path / "seg.nrrd"
    nrrd.write(str(f), a, header, index_order="F")
    data = _json("stats", f, "--num-classes", 3)
    assert np.allclose([c["volume_mm3"] for c in data["classes"]], _mm3(a, voxel_mm3), rtol=1e-9)
    assert data["dataset"]["volumes"]["spacing_units_assumed"] is assumed


@pytest.mark.parametrize("header", [{}, {"spacings": [np.nan, np.nan, np.nan]}])
def test_nrrd_without_spacing_has_no_mm3(tmp_path, header):
    """As .npy volumes: voxel counts, no mm³ (it reported mm³ as if voxels were 1 mm)."""
    a = _labels()
    f = tmp_path / "seg.nrrd"
    nrrd.write(str(f), a, header, index_order="F")
    s = cw.scan(f, num_classes=3)
    assert s.counts[0].tolist() == np.bincount(a.ravel(), minlength=3).tolist()
    assert s.physical_volume is None
    assert np.isnan(s.spacing).all()
    data = _json("stats", f, "--num-classes", 3)
    assert [c["volume_mm3"] for c in data["classes"]] == [None] * 3
    assert data["dataset"]["volumes"]["spacing"] is None


def test_a_2d_nrrd_has_no_mm3(tmp_path):
    """A 2-D slice has no third spacing: no mm³ (it used to take 1 mm for the missing axis)."""
    a = _labels((6, 5))
    f = tmp_path / "slice.nrrd"
    nrrd.write(str(f), a, {"spacings": [0.5, 0.5], "units": ["mm", "mm"]}, index_order="F")
    s = cw.scan(f, num_classes=3)
    assert s.counts[0].tolist() == np.bincount(a.ravel(), minlength=3).tolist()
    assert s.physical_volume is None


def _png(path, a):
    from PIL import Image

    Image.fromarray(a).save(path)


def test_a_folder_of_pngs_and_volumes_is_refused_in_one_line(tmp_path):
    for i in range(3):
        _png(tmp_path / f"m{i}.png", np.full((8, 8), i, np.uint8))
    _nifti(tmp_path / "v.nii.gz", _labels(), (1.0, 1.0, 1.0), "mm")
    with pytest.raises(DatasetError, match=r"mixes image and volume files.*--glob '\*\*/\*\.nii\.gz'"):
        cw.scan(tmp_path, num_classes=3)


def test_pngs_and_volumes_chosen_together_are_counted_exactly(tmp_path):
    """Chosen explicitly (a list file), 2-D masks and volumes count image by image; with
    batched 2-D rows (``--sample auto`` reads them that way) it crashed with
    ``ValueError: cannot reshape``."""
    pngs = [np.full((8, 8), i % 3, np.uint8) for i in range(40)]
    vol = _labels()
    names = []
    for i, a in enumerate(pngs):
        _png(tmp_path / f"m{i:02d}.png", a)
        names.append(f"m{i:02d}.png")
    _nifti(tmp_path / "v.nii.gz", vol, (0.5, 1.0, 2.0), "mm")
    names.insert(20, "v.nii.gz")
    lst = tmp_path / "all.txt"
    lst.write_text("\n".join(names) + "\n")
    ref = np.zeros((len(names), 3), np.int64)
    for row, name in enumerate(names):
        a = vol if name.endswith(".gz") else pngs[int(name[1:3])]
        ref[row] = np.bincount(a.ravel(), minlength=3)
    s = cw.scan(lst, num_classes=3)
    assert np.array_equal(s.counts, ref)
    assert s.shape[20].tolist() == list(vol.shape)
    assert np.isnan(s.spacing[0]).all() and s.spacing[20].tolist() == [0.5, 1.0, 2.0]
    assert np.allclose(s.physical_volume, np.bincount(vol.ravel(), minlength=3) * 1.0)
    r = CliRunner().invoke(cli, ["compute", str(lst), "--num-classes", "3", "--sample", "auto",
                                 "--no-cache", "--format", "json"])  # fmt: skip
    assert r.exit_code == 0, r.output


def test_an_incremental_rescan_keeps_the_volume_rows(tmp_path):
    """Only the first and last (2-D) rows rescanned: the volume rows between them were dropped
    (the patch looked for volume rows in its first and last sources only)."""
    data = tmp_path / "data"
    data.mkdir()
    vol = _labels()
    _png(data / "a.png", np.zeros((8, 8), np.uint8))
    _nifti(data / "v.nii.gz", vol, (0.5, 1.0, 2.0), "mm")
    _png(data / "z.png", np.zeros((8, 8), np.uint8))
    lst = data / "all.txt"
    lst.write_text("a.png\nv.nii.gz\nz.png\n")
    kw = {"num_classes": 3, "cache_dir": tmp_path / "cache"}
    cached_scan(lst, **kw)
    _png(data / "a.png", np.ones((8, 8), np.uint8))
    _png(data / "z.png", np.full((9, 8), 2, np.uint8))
    patched, info = cached_scan(lst, **kw)
    assert info.incremental and info.incremental["reused_images"] == 1
    full = cw.scan(lst, num_classes=3)
    assert patched == full
    assert np.array_equal(patched.shape, full.shape)
    assert np.allclose(patched.physical_volume, np.bincount(vol.ravel(), minlength=3) * 1.0)


def test_a_url_folder_of_nifti_volumes_is_found(tmp_path):
    """Through an fsspec URL a folder of .nii.gz was "no mask files found"."""
    pytest.importorskip("fsspec")
    a, b = _labels(seed=1), _labels(seed=2)
    _nifti(tmp_path / "a.nii.gz", a, (0.5, 0.5, 1.0), "mm")
    _nifti(tmp_path / "b.nii.gz", b, (0.5, 0.5, 1.0), "mm")
    s = cw.scan(f"file://{tmp_path}", num_classes=3)
    assert s.counts.tolist() == [np.bincount(x.ravel(), minlength=3).tolist() for x in (a, b)]
    assert np.allclose(s.physical_volume, np.bincount(np.r_[a.ravel(), b.ravel()]) * 0.25)


def _scaled_nifti(path, stored, slope, inter, zooms=(1.0, 1.0, 1.0)):
    img = nib.Nifti1Image(stored, np.diag([*zooms, 1.0]))
    img.header.set_xyzt_units(xyz="mm")
    img.header.set_slope_inter(slope, inter)
    nib.save(img, path)
    return path


@pytest.mark.parametrize("url", [False, True])
def test_scaled_nifti_counts_the_labels_nibabel_reads(tmp_path, url):
    """scl_slope/scl_inter: the stored values are counted and only the distinct ones scaled;
    the reference is nibabel's own scaled array."""
    stored = _labels((7, 6, 5), k=3, seed=4)
    f = _scaled_nifti(tmp_path / "s.nii.gz", stored, 2.0, 1.0)
    ref = np.asanyarray(nib.load(f).dataobj)  # 1, 3, 5 as float
    assert set(np.unique(ref).tolist()) == {1.0, 3.0, 5.0}
    src = f"file://{f}" if url else f
    if url:
        pytest.importorskip("fsspec")
    s = cw.scan(src, num_classes=6, objects=True)
    assert s.counts[0].tolist() == np.bincount(ref.astype(np.int64).ravel(), minlength=6).tolist()
    from scipy import ndimage

    comps = [ndimage.label(ref == c, structure=np.ones((3, 3, 3)))[1] for c in range(6)]
    assert s.object_counts[0].tolist() == comps


def test_scaled_nifti_with_fractional_labels_is_refused(tmp_path):
    f = _scaled_nifti(tmp_path / "frac.nii.gz", _labels(k=3), 0.5, 0.0)
    with pytest.raises(cw.errors.MaskReadError, match=r"frac\.nii\.gz: scl_slope/scl_inter turn"):
        cw.scan(f, num_classes=3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_volumes_convert_exactly_in_place(tmp_path, dtype):
    a = _labels((9, 8, 7), k=5).astype(dtype)
    f = _nifti(tmp_path / "f.nii", a, (1.0, 1.0, 1.0), "mm")  # uncompressed: a memory map
    with pytest.warns(cw.counting.MaskWarning, match="float mask"):
        s = cw.scan(f, num_classes=5)
    assert s.counts[0].tolist() == np.bincount(a.astype(np.int64).ravel(), minlength=5).tolist()
    assert np.array_equal(np.asanyarray(nib.load(f).dataobj), a)  # the file is untouched


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_mask_stacks_count_exactly(tmp_path, dtype):
    a = np.random.default_rng(5).integers(0, 2000, (3, 40, 30)).astype(dtype)
    np.save(tmp_path / "f.npy", a)
    with pytest.warns(cw.counting.MaskWarning, match="float mask"):
        s = cw.scan(tmp_path / "f.npy", num_classes=2000)
    ref = [np.bincount(m.astype(np.int64).ravel(), minlength=2000).tolist() for m in a]
    assert s.counts.tolist() == ref


def test_an_in_memory_float_volume_is_not_changed(tmp_path):
    a = _labels(k=3).astype(np.float32)
    keep = a.copy()
    with pytest.warns(cw.counting.MaskWarning):
        s = cw.scan([cw.Volume(a, spacing=(1.0, 1.0, 1.0))], num_classes=3)
    assert np.array_equal(a, keep) and a.dtype == np.float32
    assert s.counts[0].tolist() == np.bincount(keep.astype(np.int64).ravel(), minlength=3).tolist()


def test_a_url_nifti_gz_is_inflated_only_as_far_as_its_header_declares(tmp_path):
    """A .nii.gz by URL was inflated whole (gzip.decompress) before any size check."""
    pytest.importorskip("fsspec")
    import gzip

    a = _labels((2, 2, 2))
    f = _nifti(tmp_path / "small.nii", a, (1.0, 1.0, 1.0), "mm")
    bomb = tmp_path / "bomb.nii.gz"
    bomb.write_bytes(gzip.compress(f.read_bytes() + bytes(20 << 20), 9))
    s = cw.scan(f"file://{bomb}", num_classes=4)
    assert s.counts[0].tolist() == np.bincount(a.ravel(), minlength=4).tolist()
    big = _nifti(tmp_path / "big.nii.gz", np.zeros((40, 40, 40), np.uint8), (1, 1, 1), "mm")
    with pytest.raises(cw.errors.MaskReadError, match=r"big\.nii\.gz: declares 40 x 40 x 40"):
        cw.scan(f"file://{big}", num_classes=4, max_pixels=1000)
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(big.read_bytes()[:-40])
    with pytest.raises(cw.errors.MaskReadError, match=r"cut\.nii\.gz: the gzip data"):
        cw.scan(f"file://{cut}", num_classes=4)


def test_an_in_memory_volume_keeps_its_units_flag():
    v = cw.Volume(_labels(), spacing=(1.0, 1.0, 1.0), units_assumed=True)
    s = cw.scan([v, v], num_classes=3)
    assert s.units_assumed.tolist() == [True, True]


@pytest.mark.parametrize("url", [False, True])
@pytest.mark.parametrize("pixdim", [(0.5, 0.5, 0.0), (0.5, np.nan, 2.0)])
def test_nifti_without_a_spacing_on_an_axis_has_no_mm3(tmp_path, url, pixdim):
    """nibabel sets a zero pixdim to 1 on load: the volume would be reported in mm³ of a 1 mm
    axis the file never gave. As an NRRD without spacing: voxel counts, no mm³."""
    a = _labels()
    img = nib.Nifti1Image(a, np.eye(4))
    img.header.set_xyzt_units(xyz="mm")
    img.header["pixdim"][1:4] = pixdim
    nib.save(img, tmp_path / "z.nii.gz")
    if url:
        pytest.importorskip("fsspec")
    s = cw.scan(f"file://{tmp_path / 'z.nii.gz'}" if url else tmp_path / "z.nii.gz", num_classes=3)
    assert s.counts[0].tolist() == np.bincount(a.ravel(), minlength=3).tolist()
    assert s.physical_volume is None


def test_a_negative_pixdim_is_an_axis_flip(tmp_path):
    a = _labels()
    img = nib.Nifti1Image(a, np.eye(4))
    img.header.set_xyzt_units(xyz="mm")
    img.header["pixdim"][1:4] = (-0.5, 0.5, 2.0)
    nib.save(img, tmp_path / "n.nii")
    s = cw.scan(tmp_path / "n.nii", num_classes=3)
    assert s.spacing.tolist() == [[0.5, 0.5, 2.0]]


def _with_extension(path, a, text=b"a comment from the scanner"):
    img = nib.Nifti1Image(a, np.eye(4))
    img.header.extensions.append(nib.nifti1.Nifti1Extension("comment", text))
    nib.save(img, path)
    return path


def test_nifti_header_extensions_are_read_within_the_voxel_offset(tmp_path):
    import gzip
    import struct

    a = _labels()
    ok = _with_extension(tmp_path / "ok.nii.gz", a)
    assert cw.scan(ok, num_classes=3).counts[0].tolist() == np.bincount(a.ravel()).tolist()
    raw = bytearray(gzip.decompress(ok.read_bytes()))
    assert raw[348] == 1 and struct.unpack_from("<i", raw, 352)[0] >= 16
    forged = bytearray(raw)
    struct.pack_into("<i", forged, 352, 512 << 20)  # one extension "of 512 MB"
    bomb = tmp_path / "bomb.nii.gz"
    bomb.write_bytes(gzip.compress(bytes(forged) + bytes(8 << 20), 6))
    with pytest.raises(cw.errors.MaskReadError, match=r"bomb\.nii\.gz: a NIfTI header extension "
                       r"declares 536,870,912 bytes, past the voxels"):  # fmt: skip
        cw.scan(bomb, num_classes=3)
    far = bytearray(raw)
    struct.pack_into("<f", far, 108, float(1 << 30))
    (tmp_path / "far.nii").write_bytes(bytes(far))
    with pytest.raises(cw.errors.MaskReadError, match=r"far\.nii: the NIfTI header puts the "
                       r"voxels at byte 1,073,741,824"):  # fmt: skip
        cw.scan(tmp_path / "far.nii", num_classes=3)
