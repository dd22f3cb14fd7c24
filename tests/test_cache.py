"""The cache: keys, hits, incremental rescans, safety, concurrency, and the runtime loader."""

import datetime as _dt
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import save_png

import classweights as cw
from classweights import cached_scan, load_weights
from classweights.cache import CacheWarning, Store
from classweights.cache.record import load_record
from classweights.synthetic import write_pngs

ROOT = Path(__file__).resolve().parents[1]
KW = {"num_classes": 19, "ignore_index": 255}


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "data"
    write_pngs(d, 12, 32, 64, seed=5)
    return d


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def key_of(path, cache, **kw):
    return cached_scan(path, cache_dir=cache, **(KW | kw))[1].key


def test_miss_then_hit_with_identical_stats(data, cache):
    s1, i1 = cached_scan(data, cache_dir=cache, **KW)
    s2, i2 = cached_scan(data, cache_dir=cache, **KW)
    assert not i1.hit and i2.hit and i1.key == i2.key
    assert s1 == s2 == cw.scan(data, **KW)
    assert Path(i2.path).parent == cache


@pytest.mark.parametrize(
    "change",
    [
        {"num_classes": 20},
        {"ignore_index": 254},
        {"remap": {3: 4}},
        {"remap": {3: 5}},
        {"reduce_zero_label": True},
        {"palette": [[0, 0, 0]]},
        {"multilabel": True},
        {"sample": 5},
        {"sample": 5, "seed": 1},
        {"max_pixels": 10**8},
        {"unknown": "ignore"},
        {"glob": "*.png"},
        {"on_error": "skip"},
    ],
)
def test_every_setting_changes_the_key(data, cache, change):
    from classweights.cache.fingerprint import fingerprint
    from classweights.scan import scan_settings
    from classweights.sources import discover

    def key(**kw):
        settings, _ = scan_settings(**(KW | kw))
        return fingerprint([str(data)], discover(str(data)), settings).key

    base = key()
    assert key(**change) != base
    assert key() == base
    if change.get("sample") == 5 and "seed" not in change:
        assert key(sample=5) == key(sample=5)


def test_file_changes_change_the_key(data, cache):
    k0 = key_of(data, cache)
    f = data / "scene_0000_labelTrainIds.png"
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    k1 = key_of(data, cache)
    assert k1 != k0
    (data / "extra.png").write_bytes((data / "scene_0001_labelTrainIds.png").read_bytes())
    k2 = key_of(data, cache)
    (data / "extra.png").unlink()
    assert len({k0, k1, k2, key_of(data, cache)}) == 3  # removing it gives k1 back


@pytest.mark.parametrize("edit", ["add", "remove", "modify"])
def test_incremental_rescan_equals_a_full_scan(data, cache, edit, monkeypatch):
    cached_scan(data, cache_dir=cache, **KW)
    if edit == "add":
        write_pngs(data / "new", 3, 32, 64, seed=99)
    elif edit == "remove":
        (data / "scene_0004_labelTrainIds.png").unlink()
    else:
        save_png(data / "scene_0007_labelTrainIds.png", np.full((32, 64), 13, np.uint8))
    read = []
    import classweights.sources.readers as readers

    original = readers.read_image
    monkeypatch.setattr(readers, "read_image", lambda p, *a: read.append(p) or original(p, *a))
    s, info = cached_scan(data, cache_dir=cache, **KW)
    n_read = len(read)
    assert info.incremental is not None and not info.hit
    assert s == cw.scan(data, **KW)
    expected = {"add": 3, "remove": 0, "modify": 1}[edit]
    assert n_read == expected == info.incremental["rescanned_files"]
    assert len(Store(cache).entries()) == 1  # the entry was re-keyed, not duplicated


def test_a_same_size_same_time_rewrite_is_a_new_key(tmp_path, cache):
    """A file rewritten with its old size and its modification time set back (``touch -r``,
    an archive extracted over the folder) changes the key by its change time, without --verify.
    """
    d = tmp_path / "arrays"
    d.mkdir()
    for i in range(3):
        np.save(d / f"m{i}.npy", np.full((8, 8), i, np.uint8))
    f = d / "m1.npy"
    st = f.stat()
    k_plain = cached_scan(d, cache_dir=cache, **KW)[1].key
    k_verify = cached_scan(d, cache_dir=cache, verify=True, **KW)[1].key
    np.save(f, np.full((8, 8), 7, np.uint8))  # same size, other labels
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the same time
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    s, info = cached_scan(d, cache_dir=cache, **KW)
    assert info.key != k_plain and not info.hit and s.pixels[7] == 64 and s.pixels[1] == 0
    assert info.incremental is not None and info.incremental["rescanned_files"] == 1
    s, info = cached_scan(d, cache_dir=cache, verify=True, **KW)
    assert info.key != k_verify and not info.hit and s.pixels[7] == 64


def test_corrupt_entry_is_recomputed_with_a_warning(data, cache):
    s, info = cached_scan(data, cache_dir=cache, **KW)
    meta = Path(info.path) / "meta.json"
    m = json.loads(meta.read_text())
    m["stats"]["unknown_values"] = {"7": 1}  # edited by hand
    meta.write_text(json.dumps(m))
    with pytest.warns(CacheWarning, match="checksum"):
        s2, info2 = cached_scan(data, cache_dir=cache, **KW)
    assert not info2.hit and s2 == s
    # a damaged array: also detected
    chunk = Path(info2.path) / "stats" / "counts.npy"
    chunk.write_bytes(b"garbage")
    with pytest.warns(CacheWarning):
        assert cached_scan(data, cache_dir=cache, **KW)[0] == s


def test_foreign_schema_is_recomputed(data, cache):
    _, info = cached_scan(data, cache_dir=cache, **KW)
    meta = Path(info.path) / "meta.json"
    m = json.loads(meta.read_text())
    m["schema"] = 999
    meta.write_text(json.dumps(m))
    with pytest.warns(CacheWarning, match="schema"):
        assert not cached_scan(data, cache_dir=cache, **KW)[1].hit


def test_read_only_cache_dir_falls_back_with_a_warning(data, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.warns(CacheWarning, match="not writable"):
        s, info = cached_scan(data, cache_dir=blocker / "cache", **KW)
    assert s == cw.scan(data, **KW) and info.path is None


def test_sources_are_re_rooted_for_a_copy(data, cache, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(data, copy, copy_function=os.link)  # cp -al: the same files, the same key
    cached_scan(data, cache_dir=cache, **KW)
    s, info = cached_scan(copy, cache_dir=cache, **KW)
    assert info.hit and s.sources[0].startswith(str(copy)) and s == cw.scan(copy, **KW)


def test_load_weights_tensor_device_dtype_and_no_rescan_for_another_method(
    data, cache, monkeypatch
):
    w = load_weights(data, "sqrt_inv_freq", cache_dir=cache, dtype=torch.float64, **KW)
    stats = cw.scan(data, **KW)
    np.testing.assert_allclose(w.numpy(), cw.compute_weights(stats, "sqrt_inv_freq"))
    assert w.dtype == torch.float64 and w.device.type == "cpu"

    def boom(*a, **k):
        raise AssertionError("rescanned")

    monkeypatch.setattr(sys.modules["classweights.pipeline.stages"], "count", boom)
    w2 = load_weights(data, "median_freq", cache_dir=cache, normalize="none", **KW)
    np.testing.assert_allclose(
        w2.numpy(), cw.compute_weights(stats, "median_freq", normalize="none"), rtol=1e-6
    )
    assert w2.dtype == torch.float32
    w3 = load_weights(data, "median_freq", cache_dir=cache, normalize="none", **KW)  # warm .pth
    assert torch.equal(w2, w3)
    files = sorted(p.name for p in next(Path(cache).glob("*/weights")).iterdir())
    assert len(files) == 2 and files[0].startswith("median_freq-")


def test_weight_files_load_with_weights_only_and_pickles_are_refused(data, cache, tmp_path):
    load_weights(data, "sqrt_inv_freq", cache_dir=cache, **KW)
    pth = next(Path(cache).glob("*/weights/*.pth"))
    rec = torch.load(pth, weights_only=True)
    assert rec["method"] == "sqrt_inv_freq" and rec["counts"]["pixels"].dtype == torch.int64

    evil = tmp_path / "evil.pth"
    torch.save({"weights": torch.ones(3), "payload": Path("x")}, evil)  # a pickled object
    with pytest.raises(cw.ClassWeightsError, match="weights_only"):
        load_record(evil)


def _child(code: str, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip


def test_four_processes_compute_once(data, cache):
    code = f"""
        from classweights import cached_scan
        s, info = cached_scan({str(data)!r}, cache_dir={str(cache)!r}, num_classes=19, ignore_index=255)
        print("HIT" if info.hit else "MISS", s.pixels.sum())
    """
    procs = [_child(code) for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    words = [o[0].split()[0] for o in outs]
    assert words.count("MISS") == 1 and words.count("HIT") == 3
    assert len({o[0].split()[1] for o in outs}) == 1


def test_lock_timeout_names_the_holder(data, cache):
    from classweights.cache.fingerprint import fingerprint
    from classweights.scan import scan_settings
    from classweights.sources import discover

    settings, _ = scan_settings(**KW)
    key = fingerprint([str(data)], discover(str(data)), settings).key
    with Store(cache).lock(key):
        code = f"""
            from classweights import cached_scan
            cached_scan({str(data)!r}, cache_dir={str(cache)!r}, lock_timeout=1, num_classes=19, ignore_index=255)
        """
        p = _child(code)
        _, err = p.communicate(timeout=120)
    assert p.returncode != 0 and "LockTimeout" in err and f"pid {os.getpid()}" in err


def test_killed_writer_leaves_nothing_readable(data, cache):
    """SIGKILL while the entry is being written: no entry appears; a rerun is exact."""
    code = f"""
        import os, time, classweights.cache.store as store
        real = os.rename
        def slow_rename(a, b):
            print("WRITING", flush=True)
            time.sleep(60)
            real(a, b)
        store.os.rename = slow_rename
        from classweights import cached_scan
        cached_scan({str(data)!r}, cache_dir={str(cache)!r}, num_classes=19, ignore_index=255)
    """
    p = _child(code)
    assert p.stdout.readline().strip() == "WRITING"
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=60)
    assert Store(cache).entries() == []
    s, info = cached_scan(data, cache_dir=cache, **KW)  # the stale lock file does not block
    assert not info.hit and s == cw.scan(data, **KW)


def test_interrupted_scan_writes_nothing(data, cache):
    code = f"""
        import classweights.counting as counting, time, os, signal
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even if started in the background
        real = counting.count_mask
        n = [0]
        def slow(*a, **k):
            n[0] += 1
            if n[0] == 3:
                os.kill(os.getpid(), signal.SIGINT)
            return real(*a, **k)
        counting.count_mask = slow
        from classweights import cached_scan
        cached_scan({str(data)!r}, cache_dir={str(cache)!r}, workers=1, num_classes=19, ignore_index=255)
    """
    p = _child(code)
    _, err = p.communicate(timeout=120)
    assert p.returncode != 0 and "KeyboardInterrupt" in err
    assert Store(cache).entries() == []
    assert not [x for x in Path(cache).glob(".tmp-*")]


def test_cli_cache_commands_and_clear_never_follows_links(data, cache, tmp_path):
    from click.testing import CliRunner

    from classweights.cli import cli

    r = CliRunner()
    out = r.invoke(cli, ["compute", str(data), "--num-classes", "19", "--ignore-index", "255",
                         "--cache-dir", str(cache), "-o", str(tmp_path / "w.pth")])  # fmt: skip
    assert out.exit_code == 0, out.output
    listing = json.loads(
        r.invoke(cli, ["cache", "list", "--cache-dir", str(cache), "--format", "json"]).output
    )
    (entry,) = listing["entries"]
    assert entry["images"] == 12 and entry["sampled"] is False and entry["size"] > 0
    shown = json.loads(
        r.invoke(cli, ["cache", "show", entry["key"], "--cache-dir", str(cache)]).output
    )
    assert shown["key"] == entry["key"] and shown["files"] == 12
    assert r.invoke(cli, ["cache", "path", "--cache-dir", str(cache)]).output.strip() == str(cache)
    rec = load_record(tmp_path / "w.pth")
    assert rec["method"] == "sqrt_inv_freq" and rec["dataset"]["fingerprint"] == entry["key"]
    out = r.invoke(cli, ["show", str(tmp_path / "w.pth")])
    assert out.exit_code == 0 and "sqrt_inv_freq" in out.output
    # a link inside the cache folder pointing outside: clear removes the link, not the target
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    os.symlink(outside, cache / "deadbeef")
    os.symlink(outside, Path(entry["key"]).name and (cache / entry["key"] / "weights" / "link"))
    out = r.invoke(cli, ["cache", "clear", "--all", "--cache-dir", str(cache)])
    assert out.exit_code == 0, out.output
    assert (outside / "keep.txt").read_text() == "keep"
    # the link is skipped (never followed, never taken for an entry), the entry is gone
    assert os.path.islink(cache / "deadbeef") and Store(cache).entries() == []
    assert r.invoke(cli, ["cache", "clear", "--cache-dir", str(cache)]).exit_code == 2


def test_clear_older_than(data, cache):
    from click.testing import CliRunner

    from classweights.cli import cli

    cached_scan(data, cache_dir=cache, **KW)
    r = CliRunner()
    assert (
        r.invoke(cli, ["cache", "clear", "--older-than", "1d", "--cache-dir", str(cache)]).exit_code
        == 0
    )
    assert len(Store(cache).entries()) == 1
    # the entry made two days ago, as its meta.json says (no waiting on the clock)
    meta_file = Path(Store(cache).entries()[0].path) / "meta.json"
    meta = json.loads(meta_file.read_text())
    two_days_ago = _dt.datetime.now(_dt.UTC) - _dt.timedelta(days=2)
    meta_file.write_text(json.dumps({**meta, "created": two_days_ago.isoformat()}))
    assert (
        r.invoke(cli, ["cache", "clear", "--older-than", "3d", "--cache-dir", str(cache)]).exit_code
        == 0
    )
    assert len(Store(cache).entries()) == 1
    assert (
        r.invoke(cli, ["cache", "clear", "--older-than", "1d", "--cache-dir", str(cache)]).exit_code
        == 0
    )
    assert Store(cache).entries() == []


def test_fsspec_urls_are_cached_by_their_listing(data, cache):
    url = f"file://{data}"
    s1, i1 = cached_scan(url, cache_dir=cache, **KW)
    s2, i2 = cached_scan(url, cache_dir=cache, **KW)
    assert not i1.hit and i2.hit and s2 == s1
    np.testing.assert_array_equal(s1.counts, cw.scan(data, **KW).counts)
    assert s2.sources[0].startswith("file://")
    f = data / "scene_0000_labelTrainIds.png"
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    assert cached_scan(url, cache_dir=cache, **KW)[1].key != i1.key


def test_quick_fingerprint_equals_the_full_one(tmp_path):
    from classweights.cache.fingerprint import fingerprint, quick_fingerprint
    from classweights.scan import scan_settings
    from classweights.sources import discover

    write_pngs(tmp_path / "d" / "a", 3, 16, 32, seed=1)
    write_pngs(tmp_path / "d" / "b" / "c", 2, 16, 32, seed=2)
    (tmp_path / "d" / "z.png").write_bytes(
        (tmp_path / "d" / "a" / "scene_0000_labelTrainIds.png").read_bytes()
    )
    (tmp_path / "d" / "a" / "._z.png").write_bytes(b"\x00\x05\x16\x07")  # passed over by both
    (tmp_path / "d" / ".git").mkdir()
    (tmp_path / "d" / ".git" / "y.png").write_bytes(b"junk")
    for kw in (KW, {"num_classes": 20, "ignore_index": 255, "sample": 3}):
        settings, _ = scan_settings(**kw)
        quick = quick_fingerprint([str(tmp_path / "d")], settings)
        full = fingerprint([str(tmp_path / "d")], discover(str(tmp_path / "d")), settings)
        assert quick == full
    np.save(tmp_path / "d" / "x.npy", np.zeros((2, 2), np.uint8))  # arrays: the full path only
    assert quick_fingerprint([str(tmp_path / "d")], settings) is None


def test_the_cache_room_lists_describes_and_clears_without_the_cli(data, cache, tmp_path):
    """`cache list|show|clear` are library calls; the CLI only prints them."""
    from classweights.cache import clear_entries, describe_entry, list_entries, parse_age

    load_weights(data, "inverse_freq", cache_dir=cache, **KW)
    listed = list_entries(cache)
    (row,) = listed["entries"]
    assert listed["cache_dir"] == str(cache) and row["images"] == 12
    assert row["methods"] == ["inverse_freq"] and row["corrupt"] is None
    on_disk = sum(f.stat().st_size for f in (cache / row["key"]).rglob("*") if f.is_file())
    assert row["size"] == on_disk
    meta = describe_entry(row["key"][:6], cache)  # a unique prefix
    assert meta["key"] == row["key"] and meta["files"] == 12 and "listing" not in meta
    assert describe_entry("ffffffffffffffff", cache) is None
    assert parse_age("2w") == 14 * 86400
    with pytest.raises(cw.ConfigError, match="exactly one"):
        clear_entries(cache, key=row["key"], all=True)
    assert clear_entries(cache, older_than=3600.0)[1] == []  # made seconds ago: kept
    assert clear_entries(cache, older_than=0.0)[1] == [row["key"]]
    assert list_entries(cache)["entries"] == []
