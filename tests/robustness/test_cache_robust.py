"""The cache under stress: full disks, racing clears, hand edits, hostile links and pickles."""

import errno
import json
import os
import subprocess
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import save_png
from robust_helpers import mask

import classweights as cw
from classweights import cached_scan, load_weights
from classweights.cache import CacheWarning, Store
from classweights.cache.record import load_record

KW = {"num_classes": 5}


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    for i in range(10):
        save_png(d / f"{i:02d}.png", mask(seed=i))
    return d


@pytest.fixture
def expected(data):
    return cw.scan(data, **KW)


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.glob(".tmp-*")) + sorted(
        p.name for p in cache.glob(".trash-*")
    )


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 64 KiB tmpfs as the cache folder, nearly filled; skipped where mounting is refused."""
    where = tmp_path / "tiny"
    where.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)], capture_output=True
    )
    if r.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({r.stderr.decode().strip()}); the patched test covers ENOSPC"
        )
    try:
        filler = where / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)  # fill it up, then give back one page
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        os.truncate(filler, max(0, filler.stat().st_size - 4096))
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_disk_full_on_a_real_tiny_tmpfs(data, expected, tiny_tmpfs):
    cache = tiny_tmpfs / "cache"
    with pytest.warns(
        CacheWarning, match=rf"the cache folder {cache} is full \(No space left on device\)"
    ) as rec:
        s, info = cached_scan(data, cache_dir=cache, **KW)
    assert s == expected and info.path is None and not info.hit
    assert "--no-cache" in str(rec[-1].message)
    assert Store(cache).entries() == [] and _leftovers(cache) == []
    (tiny_tmpfs / "filler").unlink()  # space is freed: the next run caches, the one after hits
    s2, info2 = cached_scan(data, cache_dir=cache, **KW)
    assert s2 == expected and info2.path is not None
    assert cached_scan(data, cache_dir=cache, **KW)[1].hit


def test_disk_full_while_writing_patched_enospc(data, expected, tmp_path, monkeypatch):
    """ENOSPC raised by the write of meta.json (after the arrays): nothing half-written stays."""
    import classweights.cache.store as store_mod

    cache = tmp_path / "cache"
    real_dump = json.dump

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_mod.json, "dump", full)
    with pytest.warns(CacheWarning, match=rf"{cache} is full .*computed but not cached"):
        s, info = cached_scan(data, cache_dir=cache, **KW)
    assert s == expected and info.path is None
    assert Store(cache).entries() == [] and _leftovers(cache) == []
    assert not any(p.is_dir() for p in cache.iterdir() if p.name not in ("locks", "lineage"))
    monkeypatch.setattr(store_mod.json, "dump", real_dump)
    s2, info2 = cached_scan(data, cache_dir=cache, **KW)
    assert s2 == expected and not info2.hit and info2.path is not None
    assert cached_scan(data, cache_dir=cache, **KW)[1].hit


def test_concurrent_cache_clear_during_reads(data, expected, tmp_path):
    """Readers racing `Store.remove` (what `cache clear` calls) read the entry fully or recompute."""
    cache = tmp_path / "cache"
    _, info = cached_scan(data, cache_dir=cache, **KW)
    store = Store(cache)
    stop = threading.Event()
    errors: list[BaseException] = []

    def clearer():
        while not stop.is_set():
            try:
                store.remove(info.key)
            except BaseException as e:  # pragma: no cover - the failure we look for
                errors.append(e)
            time.sleep(0.001)

    results = []
    t = threading.Thread(target=clearer)
    t.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheWarning)  # a racing clear is not "corruption"
            for _ in range(40):
                s, i = cached_scan(data, cache_dir=cache, workers=1, **KW)
                results.append((s, i.hit))
    finally:
        stop.set()
        t.join()
    assert not errors, errors
    assert all(s == expected for s, _ in results)
    assert _leftovers(cache) == []


def test_reader_sees_the_entry_vanish_mid_read(data, expected, tmp_path, monkeypatch):
    """Deterministic version: the entry folder is removed between its metadata and its arrays."""
    import classweights.cache.store as store_mod

    cache = tmp_path / "cache"
    _, info = cached_scan(data, cache_dir=cache, **KW)
    store = Store(cache)
    real = store_mod.Store.read_stats

    def racing(self, entry, *a, **k):
        store.remove(entry.key)  # `cache clear` wins the race
        return real(self, entry, *a, **k)

    monkeypatch.setattr(store_mod.Store, "read_stats", racing)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        s, i = cached_scan(data, cache_dir=cache, **KW)
    assert s == expected and not i.hit


def test_remove_twice_concurrently_is_harmless(data, tmp_path):
    cache = tmp_path / "cache"
    _, info = cached_scan(data, cache_dir=cache, **KW)
    store = Store(cache)
    threads = [threading.Thread(target=store.remove, args=(info.key,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.entries() == [] and _leftovers(cache) == []
    store.remove(info.key)  # already gone: no error


@pytest.mark.parametrize(
    "edit", ["json_value", "json_syntax", "array_chunk", "meta_deleted_arrays_kept"]
)
def test_cache_entry_edited_by_hand(data, expected, tmp_path, edit):
    cache = tmp_path / "cache"
    _, info = cached_scan(data, cache_dir=cache, **KW)
    entry = Path(info.path)
    meta = entry / "meta.json"
    if edit == "json_value":
        m = json.loads(meta.read_text())
        m["stats"]["class_names"] = ["a", "b", "c", "d", "e"]
        meta.write_text(json.dumps(m))
        match = rf"cache entry {entry}: checksum mismatch \(edited or damaged\); recomputing it"
    elif edit == "json_syntax":
        meta.write_text(meta.read_text()[:-10])
        match = rf"cache entry {entry}: unreadable metadata"
    elif edit == "array_chunk":
        chunk = entry / "stats" / "counts.npy"
        chunk.write_bytes(chunk.read_bytes()[::-1])
        match = rf"cache entry {entry}: (checksum mismatch|unreadable statistics)"
    else:
        meta.unlink()
        match = None
    if match:
        with pytest.warns(CacheWarning, match=match):
            s, i = cached_scan(data, cache_dir=cache, **KW)
    else:  # no metadata: not an entry; the folder is replaced by a fresh one
        s, i = cached_scan(data, cache_dir=cache, **KW)
    assert s == expected and not i.hit and i.path == str(entry)
    s3, i3 = cached_scan(data, cache_dir=cache, **KW)
    assert i3.hit and s3 == expected


def test_symlink_inside_the_cache_pointing_outside(data, tmp_path):
    from click.testing import CliRunner

    from classweights.cli import cli

    cache = tmp_path / "cache"
    _, info = cached_scan(data, cache_dir=cache, **KW)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("keep")
    os.symlink(precious, cache / "feedface")  # looks like an entry key
    os.symlink(precious, Path(info.path) / "weights" / "escape")  # inside an entry
    os.symlink(precious / "keep.txt", Path(info.path) / "stats" / "file-link")
    os.symlink(precious, cache / ".tmp-feedface-00000000")  # looks like a stale temp folder
    old = time.time() - 7200
    os.utime(cache / ".tmp-feedface-00000000", (old, old), follow_symlinks=False)
    Store(cache).sweep()
    out = CliRunner().invoke(cli, ["cache", "clear", "--all", "--cache-dir", str(cache)])
    assert out.exit_code == 0, out.output
    assert sorted(p.name for p in precious.iterdir()) == ["keep.txt"]
    assert (precious / "keep.txt").read_text() == "keep"
    assert os.path.islink(cache / "feedface")  # a link in the cache folder is skipped
    assert not os.path.lexists(info.path)
    assert not os.path.lexists(cache / ".tmp-feedface-00000000")


def test_symlinked_entry_is_never_entered_by_list_or_older_than(data, tmp_path):
    from click.testing import CliRunner

    from classweights.cli import cli

    cache = tmp_path / "cache"
    _, info = cached_scan(data, cache_dir=cache, **KW)
    elsewhere = tmp_path / "elsewhere"
    os.rename(info.path, elsewhere)
    os.symlink(elsewhere, info.path)  # the whole entry is a link
    assert Store(cache).entries() == []
    out = CliRunner().invoke(
        cli, ["cache", "clear", "--older-than", "0s", "--cache-dir", str(cache)]
    )
    assert out.exit_code == 0 and (elsewhere / "meta.json").exists()
    Store(cache).remove(info.key)  # removes the link only
    assert not os.path.lexists(info.path) and (elsewhere / "meta.json").exists()


class _Payload:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_pickled_object_in_a_pth_is_refused_and_never_run(data, tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"weights": torch.ones(5), "x": _Payload(str(marker))}, evil)
    with pytest.raises(cw.ClassWeightsError) as e:
        load_record(evil)
    assert str(e.value).startswith(
        f"{evil}: not a readable weight file (torch.load with weights_only=True refused it"
    )
    assert not marker.exists()


def test_pickled_pth_planted_in_the_cache_is_recomputed(data, expected, tmp_path):
    cache = tmp_path / "cache"
    w = load_weights(data, "inverse_freq", cache_dir=cache, **KW)
    (pth,) = Path(cache).glob("*/weights/*.pth")
    marker = tmp_path / "pwned"
    torch.save({"weights": torch.zeros(5), "x": _Payload(str(marker))}, pth)
    with pytest.warns(CacheWarning, match=rf"{pth}: not a readable weight file"):
        w2 = load_weights(data, "inverse_freq", cache_dir=cache, **KW)
    assert not marker.exists() and torch.equal(w, w2)
    np.testing.assert_allclose(w2.numpy(), cw.compute_weights(expected, "inverse_freq"), rtol=1e-6)


def test_stale_temp_folders_are_swept_fresh_ones_kept(data, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    old = time.time() - 2 * 3600
    for name in (".tmp-abc-11111111", ".trash-abc-22222222"):
        (cache / name / "stats").mkdir(parents=True)
        (cache / name / "meta.json").write_text("{}")
        os.utime(cache / name, (old, old))
    (cache / ".tmp-def-33333333").mkdir()  # a live writer's folder (fresh): kept
    cached_scan(data, cache_dir=cache, **KW)  # any write sweeps
    assert _leftovers(cache) == [".tmp-def-33333333"]


def test_weights_are_not_saved_into_an_entry_removed_meanwhile(data, tmp_path, monkeypatch):
    """A `cache clear` between the scan and the weight save must not leave a half entry behind."""
    import classweights.pipeline.stages as pipeline

    cache = tmp_path / "cache"
    real = pipeline.statistics

    def then_cleared(*a, **k):
        stats, info = real(*a, **k)
        Store(cache).remove(info.key)
        return stats, info

    monkeypatch.setattr(pipeline, "statistics", then_cleared)
    load_weights(data, "inverse_freq", cache_dir=cache, **KW)
    assert not any(p.name not in ("locks", "lineage") for p in cache.iterdir())
    monkeypatch.undo()
    load_weights(data, "inverse_freq", cache_dir=cache, **KW)
    assert len(Store(cache).entries()) == 1


def test_cache_clear_removes_only_what_the_cache_made(data, tmp_path):
    """`cache clear --all` deleted any folder with a hex name and a meta.json (a user's 2024/),
    then stopped on a symlink. Now: entries with the marker, or older entries recognised by
    their full layout and checksum; links and other folders are left alone (said with -v)."""
    import shutil
    import sys

    from classweights.cache.disk import MARKER

    cache = tmp_path / "cache"
    _, new = cached_scan(data, cache_dir=cache, **KW)
    assert (Path(new.path) / MARKER).is_file()  # every entry made from now on carries it
    _, old = cached_scan(data, cache_dir=cache, num_classes=6)
    (Path(old.path) / MARKER).unlink()  # an entry made before the marker: layout + checksum
    user = cache / "2024"  # hex digits, with a meta.json: the user's own folder
    user.mkdir()
    (user / "meta.json").write_text('{"key": "2024", "schema": 3}')
    (user / "holiday.jpg").write_bytes(b"precious")
    forged = cache / "abcd"  # an entry's layout, but its checksum does not match
    shutil.copytree(old.path, forged)
    meta = json.loads((forged / "meta.json").read_text())
    (forged / "meta.json").write_text(json.dumps({**meta, "key": "abcd"}))
    outside = tmp_path / "outside"
    shutil.copytree(new.path, outside)  # looks like an entry, marker included
    os.symlink(outside, cache / "feedface")
    os.symlink(outside, cache / "my-link")  # not even a hex name: the old clear stopped here
    (cache / "cafe").write_text("a file, not a folder")
    keep = [user, forged, outside, cache / "feedface", cache / "my-link", cache / "cafe"]
    before = sorted(str(p.relative_to(tmp_path)) for p in outside.rglob("*"))

    def cli(*args):
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        return subprocess.run(
            [sys.executable, "-m", "classweights.cli", *args, "--cache-dir", str(cache)],
            capture_output=True, text=True, timeout=300, env=env,
        )  # fmt: skip

    listed = json.loads(cli("cache", "list", "--format", "json").stdout)["entries"]
    assert sorted(e["key"] for e in listed) == sorted([new.key, old.key])
    out = cli("cache", "show", "2024")
    assert out.returncode == 2 and out.stderr.startswith("error: no cache entry 2024")
    out = cli("cache", "clear", "2024")
    assert out.returncode == 2 and "2024 is not a cache entry" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    out = cli("cache", "clear", "feedface")
    assert out.returncode == 2 and "feedface (a link) is not a cache entry" in out.stderr
    out = cli("-v", "cache", "clear", "--all")
    assert out.returncode == 0, out.stderr
    assert "removed 2 entries" in out.stderr
    assert f"{cache / 'feedface'} is a link; skipped" in out.stderr
    assert f"{cache / 'my-link'} is a link; skipped" in out.stderr
    assert f"{user} is not a cache entry; left alone" in out.stderr
    assert not os.path.lexists(new.path) and not os.path.lexists(old.path)
    assert all(os.path.lexists(p) for p in keep)
    assert (user / "holiday.jpg").read_bytes() == b"precious"
    assert sorted(str(p.relative_to(tmp_path)) for p in outside.rglob("*")) == before
    out = cli("cache", "clear", "--older-than", "0s")
    assert out.returncode == 0 and all(os.path.lexists(p) for p in keep)


def test_the_sweep_of_leftovers_removes_only_what_the_cache_made(tmp_path):
    from classweights.cache.disk import write_marker

    cache = tmp_path / "cache"
    cache.mkdir()
    marked, empty, users = cache / ".tmp-aa-1", cache / ".trash-bb-0000000b", cache / ".tmp-mine"
    for d in (marked, empty, users):
        d.mkdir()
    write_marker(marked, "aa", 3)
    (users / "notes.txt").write_text("mine")
    old = time.time() - 7200
    for d in (marked, empty, users):
        os.utime(d, (old, old))
    assert sorted(Store(cache).sweep()) == [".tmp-aa-1", ".trash-bb-0000000b"]
    assert (users / "notes.txt").read_text() == "mine"
