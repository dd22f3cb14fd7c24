"""A scan on a real Dask cluster equals the local scan: files, URLs, failures, lost workers.

Most tests share one ``LocalCluster`` of two worker processes (one thread each), as a user's
``--dask-local 2`` would start. The ``memory://`` tests use an in-process cluster instead: the
fsspec memory filesystem lives in one Python process, so worker *processes* would each see an
empty store; in-process workers still go through the real scheduler, serialization and
``as_completed``, and read the store through the same fsspec code as ``s3://`` would.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")
fsspec = pytest.importorskip("fsspec")

import classweights as cw  # noqa: E402
from classweights.errors import MaskReadError, MissingDependencyError  # noqa: E402
from classweights.sources import discover, file_listing  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "masks"
OPTS = {"num_classes": 19, "ignore_index": 255}


@pytest.fixture(scope="module")
def client():
    # a task may lose its worker once (the kill test); twice makes it an error (ClusterError)
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
            silence_logs=40,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):  # fmt: skip
        yield c


@pytest.fixture(scope="module")
def local_scan():
    return cw.scan(EXAMPLES, **OPTS)


def test_cluster_equals_local_scan(client, local_scan):
    seen = []
    s = cw.scan(EXAMPLES, **OPTS, client=client, progress=lambda d, n: seen.append((d, n)))
    assert s == local_scan  # counts, per-image table and sources, in order
    assert seen[-1] == (40, 40)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) > 2  # several tasks, so order was restored from as_completed


def _heavy_modules():
    import sys

    return sorted(m for m in ("torch", "rich", "matplotlib") if m in sys.modules)


def test_workers_never_import_torch(client, local_scan):
    # a worker reads and counts masks; importing torch there would cost seconds and memory
    cw.scan(EXAMPLES, **OPTS, client=client)
    assert set(map(tuple, client.run(_heavy_modules).values())) == {()}


def test_file_urls_on_worker_processes(client, local_scan):
    url = EXAMPLES.as_uri()  # file:///...: fsspec on every worker, same disk
    s = cw.scan(url, **OPTS, client=client)
    np.testing.assert_array_equal(s.counts, local_scan.counts)
    assert [p.replace(url, str(EXAMPLES)) for p in s.sources] == local_scan.sources


def test_sampling_on_the_cluster_equals_local_sampling(client):
    a = cw.scan(EXAMPLES, **OPTS, sample=11, seed=3, client=client)
    b = cw.scan(EXAMPLES, **OPTS, sample=11, seed=3)
    assert a == b
    assert a.sample == b.sample
    assert a.sampled


def test_corrupt_png_on_a_worker_names_the_file(client, tmp_path):
    for f in sorted(EXAMPLES.glob("*.png"))[:12]:
        shutil.copy(f, tmp_path / f.name)
    bad = tmp_path / "scene_0005_labelTrainIds.png"
    bad.write_bytes(bad.read_bytes()[:80])  # a truncated PNG: header fine, data cut short
    with pytest.raises(MaskReadError, match=r"scene_0005_labelTrainIds\.png") as remote:
        cw.scan(tmp_path, **OPTS, client=client)
    with pytest.raises(MaskReadError) as local:
        cw.scan(tmp_path, **OPTS)
    assert str(remote.value) == str(local.value)
    s = cw.scan(tmp_path, **OPTS, on_error="skip", client=client)
    assert s.num_images == 11
    assert [p for p, _ in s.skipped] == [str(bad)]
    assert s == cw.scan(tmp_path, **OPTS, on_error="skip")


def test_a_worker_killed_mid_scan_still_gives_the_exact_result(client, local_scan):
    """Slow the counting on the workers, then SIGKILL one as soon as the first task is back.

    The nanny starts a fresh worker, the scheduler re-runs the lost tasks elsewhere, and the
    collector still receives every image once, in order.
    """

    def slow_down():
        import time

        import classweights.distributed as d

        d._fast_count_unit = d.count_unit

        def slow(*args):
            time.sleep(0.15)
            return d._fast_count_unit(*args)

        d.count_unit = slow

    def restore():
        import classweights.distributed as d

        d.count_unit = d.__dict__.pop("_fast_count_unit", d.count_unit)

    client.wait_for_workers(2)
    pids = client.run(os.getpid)
    client.run(slow_down)
    killed = []

    def progress(done, total):
        if not killed and done < total:
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append((victim, done))

    try:
        s = cw.scan(EXAMPLES, **OPTS, client=client, progress=progress)
    finally:
        client.run(restore)
    assert killed
    assert killed[0][1] < 40  # the kill happened mid-scan
    assert s == local_scan
    client.wait_for_workers(2, timeout=60)
    assert killed[0][0] not in client.run(os.getpid).values()  # that worker really died


# ---- fsspec URLs (memory://, in-process cluster) -------------------------------------------
@pytest.fixture
def memory_dataset(tmp_path):
    """The same masks as PNGs, an npy stack, an npz and a zarr store: on disk and in memory://."""
    import zarr
    from PIL import Image

    files = sorted(EXAMPLES.glob("*.png"))
    stack = np.stack([np.asarray(Image.open(f)) for f in files[:6]])
    root = f"memory://cw-{uuid.uuid4().hex[:8]}"
    fs = fsspec.filesystem("memory")
    local = tmp_path / "data"
    for f in files[:9]:
        (local / "png").mkdir(parents=True, exist_ok=True)
        shutil.copy(f, local / "png" / f.name)
        fs.pipe(f"{root}/png/{f.name}", f.read_bytes())
    (local / "npy").mkdir()
    np.save(local / "npy" / "stack.npy", stack)
    np.savez(local / "npy" / "pair.npz", a=stack[:2], b=stack[3])
    for name in ("stack.npy", "pair.npz"):
        fs.pipe(f"{root}/npy/{name}", (local / "npy" / name).read_bytes())
    for store in (str(local / "masks.zarr"), f"{root}/masks.zarr"):
        z = zarr.create_array(store=store, shape=stack.shape, dtype="u1", chunks=(2, 64, 128))
        z[:] = stack
    yield root, local
    fs.rm(root, recursive=True)


def _as_local(sources, root, local):
    return [s.replace(root, str(local)) for s in sources]


def test_memory_store_png_npy_zarr_equal_the_local_copy(inproc_client, memory_dataset):
    root, local = memory_dataset
    parts = ["png", "npy", "masks.zarr"]
    remote = cw.scan([f"{root}/{p}" for p in parts], **OPTS, client=inproc_client)
    here = cw.scan([local / p for p in parts], **OPTS)
    assert remote.num_images == 9 + 6 + 3 + 6
    np.testing.assert_array_equal(remote.counts, here.counts)
    np.testing.assert_array_equal(remote.image_total, here.image_total)
    np.testing.assert_array_equal(remote.image_ignored, here.image_ignored)
    assert _as_local(remote.sources, root, local) == here.sources
    # the same URLs without a cluster read the same (the readers, not Dask, do fsspec)
    assert cw.scan([f"{root}/{p}" for p in parts], **OPTS) == remote


def test_memory_store_sampling_and_glob(inproc_client, memory_dataset):
    root, local = memory_dataset
    a = cw.scan(root, **OPTS, glob="**/*.npy", sample=4, seed=1, client=inproc_client)
    b = cw.scan(local, **OPTS, glob="**/*.npy", sample=4, seed=1)
    np.testing.assert_array_equal(a.counts, b.counts)
    assert _as_local(a.sources, root, local) == b.sources
    assert a.sample == b.sample


def test_file_listing_for_fingerprints(memory_dataset):
    root, local = memory_dataset
    remote = file_listing(discover([f"{root}/png", f"{root}/npy", f"{root}/masks.zarr"]))
    here = file_listing(discover([local / "png", local / "npy", local / "masks.zarr"]))
    assert [(p, size) for p, size, _ in remote] == [
        (p.replace(str(local), root), size) for p, size, _ in here
    ]
    assert any(p.endswith("masks.zarr/zarr.json") for p, _, _ in remote)  # every store file
    stats = {p: os.stat(p) for p, _, _ in here}  # modification and change time of local files
    assert all(v == f"{stats[p].st_mtime_ns}:{stats[p].st_ctime_ns}" for p, _, v in here)
    assert all(isinstance(v, str) and v for _, _, v in remote)  # etag / mtime / ukey
    fsspec.filesystem("memory").pipe(f"{root}/png/scene_0000_labelTrainIds.png", b"changed")
    again = file_listing(discover(f"{root}/png"))
    assert again[0][1:] != remote[0][1:]
    assert again[1:] == remote[1:9]


def test_missing_remote_path_is_a_dataset_error():
    with pytest.raises(cw.DatasetError, match=r"memory://no-such-bucket/masks: no such file"):
        cw.scan("memory://no-such-bucket/masks", **OPTS)


def test_local_paths_never_import_fsspec_or_dask():
    code = (
        "import sys, classweights as cw; "
        f"cw.scan({str(EXAMPLES)!r}, num_classes=19, ignore_index=255); "
        "print([m for m in ('fsspec', 'distributed', 'dask') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr


# ---- the command line ----------------------------------------------------------------------
def _stats_json(*extra):
    from click.testing import CliRunner

    from classweights.cli import cli

    args = ["stats", str(EXAMPLES), "--num-classes", "19", "--ignore-index", "255",
            "--format", "json", "-q", "--no-cache", *extra]  # fmt: skip
    return CliRunner().invoke(cli, args)


def test_cli_dask_local_gives_the_same_counts():
    plain, dask = _stats_json(), _stats_json("--dask-local", "2")
    assert plain.exit_code == 0, plain.output
    assert dask.exit_code == 0, dask.output
    a, b = json.loads(plain.stdout), json.loads(dask.stdout)
    assert a["classes"] == b["classes"]
    assert a["dataset"]["images"] == b["dataset"]["images"] == 40


def test_without_distributed_the_flags_name_the_install_command(monkeypatch):
    from classweights.distributed import open_client

    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    install = r"pip install 'classweights\[dask\]'"
    with pytest.raises(MissingDependencyError, match=install), open_client(local_workers=2):
        pass
    r = _stats_json("--dask-local", "2")
    assert r.exit_code == 2
    assert "pip install 'classweights[dask]'" in r.output
    with open_client() as none:  # no flag: no Dask needed
        assert none is None


def test_cluster_error_names_the_files(client, tmp_path):
    """A task that kills every worker it runs on becomes an error naming its files."""
    import classweights.distributed as d
    from classweights.counting import CountOptions
    from classweights.sources import Entry, ReadOptions

    def crash(task, opts):
        os._exit(1)

    units = [[(Entry("image", "a.png"), [0])], [(Entry("image", "b.png"), [0])]]
    opts = CountOptions(ReadOptions(), 19, 256)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(d, "count_task", crash)
        with pytest.raises(d.ClusterError, match=r"a\.png .. b\.png \(2 files\)"):
            d.run_units(units, 2, opts, client, None, None, images_per_task=2, retries=0)
    client.wait_for_workers(2, timeout=60)


def test_remote_npy_reads_rows(memory_dataset):
    """Remote .npy stacks are read one ranged request per image, not the whole file."""
    from classweights.sources.remote import RemoteNpy

    root, local = memory_dataset
    arr = RemoteNpy(f"{root}/npy/stack.npy")
    want = np.load(local / "npy" / "stack.npy")
    assert arr.shape == want.shape
    assert arr.dtype == want.dtype
    np.testing.assert_array_equal(arr[4], want[4])
    np.testing.assert_array_equal(np.asarray(arr), want)
