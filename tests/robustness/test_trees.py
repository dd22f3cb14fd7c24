"""Folder trees as found on real disks: empty, looping, unreadable, oddly named, changing."""

import os
import signal
import sys

import numpy as np
import pytest
from conftest import save_png
from naive import check_stats
from robust_helpers import child, mask, without_dac_override

import classweights as cw
from classweights.errors import DuplicateWarning
from classweights.sources import discover


def test_empty_folders(tmp_path):
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "notes.txt").write_text("not a mask")
    with pytest.raises(cw.DatasetError, match=rf"no mask files found under {tmp_path}.*--glob"):
        cw.scan(tmp_path, num_classes=5)
    with pytest.raises(cw.DatasetError, match=r"the glob '\*\*/\*\.png' matched no mask files"):
        cw.scan(tmp_path, num_classes=5, glob="**/*.png")


@pytest.fixture
def deadline():
    """Fail (instead of hanging) if the test runs past 30 s."""

    def boom(*_):
        raise TimeoutError("hung for 30 s")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("glob", [None, "**/*.png"])
def test_symlink_loops_do_not_hang(tmp_path, glob, deadline):
    m = mask()
    (tmp_path / "a").mkdir()
    save_png(tmp_path / "a" / "x.png", m)
    os.symlink("..", tmp_path / "a" / "b")  # a/b -> ..  (a loop)
    os.symlink(tmp_path, tmp_path / "a" / "self")  # and one by absolute path
    s = cw.scan(tmp_path, num_classes=5, glob=glob)
    assert s.sources == [str(tmp_path / "a" / "x.png")]
    check_stats(s, [m], 5)


def test_broken_symlink_is_named(tmp_path):
    save_png(tmp_path / "ok.png", mask())
    os.symlink(tmp_path / "gone.png", tmp_path / "dangling.png")
    with pytest.raises(cw.MaskReadError, match=r"dangling\.png: cannot read \(No such file"):
        cw.scan(tmp_path, num_classes=5)
    s = cw.scan(tmp_path, num_classes=5, on_error="skip")
    assert s.num_images == 1 and s.skipped[0][0].endswith("dangling.png")


_UNREADABLE = """
    import json, sys, classweights as cw
    root, policy = sys.argv[1], sys.argv[2]
    try:
        s = cw.scan(root, num_classes=5, on_error=policy)
        print(json.dumps({"pixels": s.pixels.tolist(), "skipped": s.skipped}))
    except cw.ClassWeightsError as e:
        print(json.dumps({"error": type(e).__name__, "message": str(e)}))
"""


def _run_unprivileged(root, policy):
    import json

    prefix = without_dac_override()
    if prefix is None:
        pytest.skip("running as root and neither setpriv nor capsh can drop CAP_DAC_OVERRIDE")
    code = _UNREADABLE.replace("sys.argv[1], sys.argv[2]", f"{str(root)!r}, {policy!r}")
    p = child(code, prefix=prefix)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_unreadable_file_permission_denied(tmp_path):
    """A real permission check: the scan runs without the capabilities that let root ignore
    permission bits (setpriv/capsh), or as a normal user."""
    masks = [mask(seed=i) for i in range(3)]
    for i, m in enumerate(masks):
        save_png(tmp_path / f"{i}.png", m)
    os.chmod(tmp_path / "1.png", 0)
    try:
        res = _run_unprivileged(tmp_path, "fail")
        assert res["error"] == "MaskReadError"
        assert res["message"] == f"{tmp_path / '1.png'}: cannot read (Permission denied)"
        res = _run_unprivileged(tmp_path, "skip")
        assert (
            res["pixels"]
            == (
                np.bincount(np.concatenate([masks[0].ravel(), masks[2].ravel()]), minlength=5)
            ).tolist()
        )
        assert [src for src, _ in res["skipped"]] == [str(tmp_path / "1.png")]
    finally:
        os.chmod(tmp_path / "1.png", 0o644)


def test_unreadable_folder_permission_denied(tmp_path):
    save_png(tmp_path / "0.png", mask())
    (tmp_path / "locked").mkdir()
    save_png(tmp_path / "locked" / "1.png", mask())
    os.chmod(tmp_path / "locked", 0)
    try:
        res = _run_unprivileged(tmp_path, "fail")
        assert res["error"] == "DatasetError"
        assert (
            res["message"] == f"{tmp_path / 'locked'}: cannot list the folder (Permission denied)"
        )
    finally:
        os.chmod(tmp_path / "locked", 0o755)


@pytest.mark.parametrize(
    "name", ["with space.png", "ünïcødé_标签.png", "new\nline.png", " lead.png", "-dash.png"]
)
def test_odd_file_names(tmp_path, name):
    m = mask()
    save_png(tmp_path / name, m)
    s = cw.scan(tmp_path, num_classes=5)
    assert s.sources == [str(tmp_path / name)]
    check_stats(s, [m], 5)
    (tmp_path / name).write_bytes(b"junk")
    with pytest.raises(cw.MaskReadError) as e:
        cw.scan(tmp_path, num_classes=5)
    assert str(e.value).startswith(f"{tmp_path / name}: not a PNG file")


def test_odd_names_in_a_list_file(tmp_path):
    names = ["with space.png", "ünïcødé.png"]
    masks = [mask(seed=i) for i in range(2)]
    for n, m in zip(names, masks):
        save_png(tmp_path / n, m)
    (tmp_path / "list.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    check_stats(cw.scan(tmp_path / "list.txt", num_classes=5), masks, 5)


def test_list_file_with_missing_entries(tmp_path):
    save_png(tmp_path / "a.png", mask())
    (tmp_path / "list.txt").write_text("a.png\nmissing one.png\nalso_missing.png\n")
    with pytest.raises(cw.DatasetError) as e:
        cw.scan(tmp_path / "list.txt", num_classes=5)
    assert str(e.value) == (
        f"{tmp_path / 'list.txt'} lists 2 path(s) that do not exist, first: 'missing one.png' "
        f"(paths are relative to {tmp_path})"
    )


def test_list_file_naming_a_file_twice_counts_it_once_with_a_warning(tmp_path):
    masks = [mask(seed=i) for i in range(2)]
    for i, m in enumerate(masks):
        save_png(tmp_path / f"{i}.png", m)
    (tmp_path / "list.txt").write_text("0.png\n1.png\n0.png\n./0.png\n")
    with pytest.warns(
        DuplicateWarning,
        match=rf"2 mask\(s\) given more than once are counted once, first: {tmp_path / '0.png'}",
    ):
        s = cw.scan(tmp_path / "list.txt", num_classes=5)
    check_stats(s, masks, 5)


def test_same_folder_given_twice_counts_once_with_a_warning(tmp_path):
    masks = [mask(seed=i) for i in range(3)]
    for i, m in enumerate(masks):
        save_png(tmp_path / f"{i}.png", m)
    with pytest.warns(DuplicateWarning, match=r"3 mask\(s\) given more than once"):
        s = cw.scan([tmp_path, tmp_path], num_classes=5)
    check_stats(s, masks, 5)
    with pytest.warns(DuplicateWarning, match=r"1 mask\(s\).*first: .*1\.png"):
        s = cw.scan([tmp_path, tmp_path / "1.png"], num_classes=5)
    check_stats(s, masks, 5)


def test_no_duplicate_no_warning(tmp_path):
    import warnings

    save_png(tmp_path / "a.png", mask())
    with warnings.catch_warnings():
        warnings.simplefilter("error", DuplicateWarning)
        cw.scan(tmp_path, num_classes=5)


def test_file_deleted_after_discovery(tmp_path):
    """A folder that changes while it is scanned: a file vanishes between listing and reading."""
    masks = [mask(seed=i) for i in range(8)]
    for i, m in enumerate(masks):
        save_png(tmp_path / f"{i}.png", m)
    entries = discover(tmp_path)
    (tmp_path / "5.png").unlink()
    with pytest.raises(cw.MaskReadError) as e:
        cw.scan(tmp_path, num_classes=5, entries=entries)
    assert str(e.value) == f"{tmp_path / '5.png'}: cannot read (No such file or directory)"
    s = cw.scan(tmp_path, num_classes=5, entries=entries, on_error="skip")
    assert s.skipped == [(str(tmp_path / "5.png"), str(e.value))]
    check_stats(s, masks[:5] + masks[6:], 5)


def test_files_deleted_and_added_during_the_scan_via_progress(tmp_path):
    masks = [mask(seed=i) for i in range(40)]
    for i, m in enumerate(masks):
        save_png(tmp_path / f"{i:02d}.png", m)
    changed = []

    def progress(done, total):
        if not changed:  # after the first unit: delete a later file, add a new one
            (tmp_path / "39.png").unlink()
            save_png(tmp_path / "99.png", mask(seed=99))
            changed.append(done)

    s = cw.scan(tmp_path, num_classes=5, workers=1, on_error="skip", progress=progress)
    assert changed and [src for src, _ in s.skipped] == [str(tmp_path / "39.png")]
    check_stats(s, masks[:39], 5)  # exactly what was listed and read; the new file is not


def test_a_changing_folder_is_not_cached_under_its_old_key(tmp_path):
    from classweights import cached_scan
    from classweights.cache import CacheInfo, CacheWarning

    data = tmp_path / "data"
    data.mkdir()
    for i in range(12):
        save_png(data / f"{i:02d}.png", mask(seed=i))
    cache = tmp_path / "cache"

    def progress(done, total):
        if done == 4:
            save_png(data / "00.png", mask(seed=50))  # rewritten after it was read

    with pytest.warns(CacheWarning, match="changed while they were scanned"):
        _, info = cached_scan(data, cache_dir=cache, num_classes=5, workers=1, progress=progress)
    assert isinstance(info, CacheInfo) and info.path is None
    s, info = cached_scan(data, cache_dir=cache, num_classes=5)
    assert not info.hit and s == cw.scan(data, num_classes=5)


@pytest.mark.skipif(sys.platform != "linux", reason="Linux file names")
def test_non_utf8_file_name(tmp_path):
    m = mask()
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9.png"  # Latin-1 name, not valid UTF-8
    save_png(os.fsdecode(raw), m)
    s = cw.scan(tmp_path, num_classes=5)
    check_stats(s, [m], 5)


def test_hidden_files_and_mac_archive_leftovers_are_not_masks(tmp_path):
    """A zip made on a Mac holds __MACOSX/._*.png (AppleDouble, not PNG): the first scan of
    such a tree failed on them; checkpoints and VCS folders could add copies of masks."""
    import zarr

    m = mask(seed=1)
    (tmp_path / "masks").mkdir()
    save_png(tmp_path / "masks" / "a.png", m)
    apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(60)
    (tmp_path / "__MACOSX" / "masks").mkdir(parents=True)
    (tmp_path / "__MACOSX" / "masks" / "._a.png").write_bytes(apple_double)
    (tmp_path / "masks" / "._a.png").write_bytes(apple_double)
    (tmp_path / ".ipynb_checkpoints").mkdir()
    save_png(tmp_path / ".ipynb_checkpoints" / "a-checkpoint.png", np.full_like(m, 4))
    s = cw.scan(tmp_path, num_classes=5)
    check_stats(s, [m], 5)
    assert s.sources == [str(tmp_path / "masks" / "a.png")]
    v2 = np.stack([mask(seed=2), mask(seed=3)])
    store = tmp_path / "arrays" / "store"
    z = zarr.create_array(store, shape=v2.shape, dtype=v2.dtype, zarr_format=2)
    z[...] = v2  # a zarr v2 store: its .zarray marker is a dot-name, and still found
    (tmp_path / "arrays" / ".DS_Store").write_bytes(b"Bud1")
    check_stats(cw.scan(tmp_path / "arrays", num_classes=5), list(v2), 5)
    g = cw.scan(tmp_path, num_classes=5, glob="**/*.png")
    check_stats(g, [m], 5)
    named = cw.scan(tmp_path, num_classes=5, glob=".ipynb_checkpoints/*.png")  # asked for
    check_stats(named, [np.full_like(m, 4)], 5)


def test_a_list_file_naming_itself_or_a_cycle_is_one_line(tmp_path):
    """A list file naming itself, or a cycle of them, ended in RecursionError."""
    m = mask()
    save_png(tmp_path / "a.png", m)
    (tmp_path / "self.txt").write_text("a.png\nself.txt\n")
    with pytest.raises(cw.DatasetError) as e:
        cw.scan(tmp_path / "self.txt", num_classes=5)
    assert str(e.value) == f"{tmp_path / 'self.txt'} lists itself; remove that line from it"
    (tmp_path / "sub").mkdir()
    (tmp_path / "one.txt").write_text("a.png\nsub/two.txt\n")
    (tmp_path / "sub" / "two.txt").write_text("../one.txt\n")  # a cycle through another folder
    with pytest.raises(cw.DatasetError, match=r"list files form a cycle: .*one\.txt -> .*two\.txt"):
        cw.scan(tmp_path / "one.txt", num_classes=5)
    (tmp_path / "url.txt").write_text(f"{(tmp_path / 'url.txt').as_uri()}\n")  # via file://
    with pytest.raises(cw.DatasetError, match=r"url\.txt lists itself"):
        cw.scan(tmp_path / "url.txt", num_classes=5)
    m2 = mask(seed=2)
    save_png(tmp_path / "sub" / "b.png", m2)
    (tmp_path / "sub" / "two.txt").write_text("b.png\n")  # nested, no cycle: counted
    check_stats(cw.scan(tmp_path / "one.txt", num_classes=5), [m, m2], 5)


def test_list_files_nested_too_deep_are_refused(tmp_path):
    save_png(tmp_path / "a.png", mask())
    for i in range(300):  # a chain, no cycle: deeper than any real nesting
        (tmp_path / f"l{i}.txt").write_text(f"l{i + 1}.txt\n")
    (tmp_path / "l300.txt").write_text("a.png\n")
    with pytest.raises(cw.DatasetError, match=r"list files name list files more than 16 deep"):
        cw.scan(tmp_path / "l0.txt", num_classes=5)
    (tmp_path / "l0.txt").write_text("l290.txt\n")  # 11 deep: fine
    assert cw.scan(tmp_path / "l0.txt", num_classes=5).num_images == 1


@pytest.mark.parametrize("where", ["folder", "list", "path"])
def test_a_fifo_named_like_a_mask_is_refused_not_waited_on(tmp_path, where):
    """A FIFO named x.png inside a scanned folder hung the scan (reading waits for a writer)."""
    save_png(tmp_path / "a.png", mask())
    os.mkfifo(tmp_path / "z.png")
    (tmp_path / "list.txt").write_text("a.png\nz.png\n")
    given = {"folder": tmp_path, "list": tmp_path / "list.txt", "path": tmp_path / "z.png"}[where]
    code = f"""
        import classweights as cw
        try:
            cw.scan({str(given)!r}, num_classes=5)
        except cw.DatasetError as e:
            print(e)
    """
    p = child(code)
    try:
        out, err = p.communicate(timeout=60)
    except Exception:
        p.kill()
        raise
    assert p.returncode == 0, err
    assert str(tmp_path / "z.png") in out and "FIFO" in out and "not a regular file" in out
