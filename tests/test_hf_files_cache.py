"""Hugging Face datasets from the CLI (a ``save_to_disk`` folder, ``.arrow`` and ``.parquet``
files, read with pyarrow without importing ``datasets``) and through the cache (a Dataset under
its fingerprint; a stream never, and said so) (issue 31).

Counts are compared with ``np.bincount`` of the arrays the datasets were built from.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import classweights as cw
from classweights.cache.loader import CacheWarning
from classweights.pipeline import cached_scan, load_weights

datasets = pytest.importorskip("datasets", reason="datasets is in the test extra (CI installs it)")
pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is in the test extra")

ROOT = Path(__file__).resolve().parents[1]
H, W, C = 6, 9, 4


def masks(n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, C, (H, W), dtype=np.uint8) for _ in range(n)]


def bincount(ms):
    return np.bincount(np.concatenate([m.ravel() for m in ms]), minlength=C)


def dataset(ms, seed=1):
    rng = np.random.default_rng(seed)
    photos = [Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)) for _ in ms]
    return datasets.Dataset.from_dict(
        {
            "image": photos,
            "annotation": [Image.fromarray(m) for m in ms],
            "label": [i % 3 for i in range(len(ms))],
        },
        features=datasets.Features(
            {
                "image": datasets.Image(),
                "annotation": datasets.Image(),
                "label": datasets.ClassLabel(names=["a", "b", "c"]),
            }
        ),
    )


def cli(*args, cache, cwd=None):
    """Run the CLI in a fresh interpreter; report whether `datasets` got imported."""
    code = (
        "import sys\nfrom classweights.cli import main\ntry:\n    main()\nfinally:\n"
        "    print('DATASETS_IMPORTED' if 'datasets' in sys.modules else '', file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CLASSWEIGHTS_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A Dataset of 150 rows in two shards written by save_to_disk, and as parquet."""
    root = tmp_path_factory.mktemp("hf")
    ms = masks(150, seed=2)
    ds = dataset(ms)
    ds.save_to_disk(str(root / "train"), num_shards=2)
    ds.to_parquet(str(root / "train.parquet"), batch_size=40)  # several row groups
    return root, ms


def test_the_cli_reads_a_saved_folder_and_parquet_without_importing_datasets(saved, tmp_path):
    root, ms = saved
    assert len(list((root / "train").glob("*.arrow"))) == 2
    for target in ("train", "train.parquet"):
        out = cli(
            "stats", str(root / target), "--num-classes", str(C), "--format", "json", cache=tmp_path
        )
        assert out.returncode == 0, out.stderr
        assert "DATASETS_IMPORTED" not in out.stderr
        data = json.loads(out.stdout)
        assert [c["pixels"] for c in data["classes"]] == bincount(ms).tolist()
        assert data["dataset"]["images"] == 150


def test_the_cli_samples_parquet_rows_and_names_columns(saved, tmp_path):
    root, ms = saved
    out = cli(
        "stats",
        str(root / "train.parquet"),
        "--num-classes",
        str(C),
        "--sample",
        "9",
        "--format",
        "json",
        "--mask-column",
        "annotation",
        cache=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    rows = cw.scan(root / "train.parquet", num_classes=C, sample=9).sources
    assert len(rows) == 9
    want = bincount([ms[int(r.strip("[]"))] for r in rows])
    assert [c["pixels"] for c in json.loads(out.stdout)["classes"]] == want.tolist()
    bad = cli("stats", str(root / "train"), "--mask-column", "annotaton", cache=tmp_path)
    assert bad.returncode == 2
    assert "error: --mask-column 'annotaton' is not a column" in bad.stderr
    assert "did you mean 'annotation'?" in bad.stderr


def test_a_saved_dataset_dict_names_its_splits(tmp_path):
    ms = masks(3)
    datasets.DatasetDict({"train": dataset(ms), "validation": dataset(ms)}).save_to_disk(
        str(tmp_path / "dd")
    )
    out = cli("stats", str(tmp_path / "dd"), cache=tmp_path / "c")
    assert out.returncode == 2
    assert "a DatasetDict saved with save_to_disk (splits: train, validation)" in out.stderr
    assert str(tmp_path / "dd" / "train") in out.stderr


def test_plain_parquet_and_arrow_files_and_damaged_files(tmp_path):
    """Files written without datasets' metadata (parquet, an Arrow IPC file): a
    struct<bytes, path> column is an image column; a damaged file is one error naming it."""
    import io

    import pyarrow as pa

    ms = masks(5, seed=4)

    def png(m):
        buf = io.BytesIO()
        Image.fromarray(m).save(buf, format="PNG")
        return buf.getvalue()

    table = pa.table(
        {"seg_mask": [{"bytes": png(m), "path": None} for m in ms], "id": list(range(5))}
    )
    pq.write_table(table, tmp_path / "plain.parquet")
    s = cw.scan(tmp_path / "plain.parquet", num_classes=C)
    assert s.pixels.tolist() == bincount(ms).tolist()
    data = (tmp_path / "plain.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(cw.MaskReadError, match=r"cut\.parquet: cannot read the dataset file"):
        cw.scan(tmp_path / "cut.parquet", num_classes=C)
    with pa.ipc.new_file(tmp_path / "plain.arrow", table.schema) as writer:
        writer.write_table(table, max_chunksize=2)
    assert cw.scan(tmp_path / "plain.arrow", num_classes=C).pixels.tolist() == bincount(ms).tolist()
    dataset(ms).save_to_disk(str(tmp_path / "saved"))
    shard = next((tmp_path / "saved").glob("*.arrow"))
    whole = shard.read_bytes()
    shard.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(cw.MaskReadError, match=r"data-00000-of-00001\.arrow: .*cut short"):
        cw.scan(tmp_path / "saved", num_classes=C)
    # cut exactly between two batches: pyarrow alone would read it as a shorter stream
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.slice(0, 2))
    first_batch = sink.getvalue().to_pybytes()[:-8]  # without the end-of-stream marker
    (tmp_path / "cut.arrow").write_bytes(first_batch)
    assert pa.ipc.open_stream(first_batch).read_all().num_rows == 2
    with pytest.raises(cw.MaskReadError, match=r"cut\.arrow: the Arrow stream ends without"):
        cw.scan(tmp_path / "cut.arrow", num_classes=C)


# ---- the cache --------------------------------------------------------------------------------
def test_a_dataset_is_cached_under_its_fingerprint(tmp_path, caplog):
    ms = masks(30, seed=5)
    ds = dataset(ms)
    scanned = []  # a scan reports its progress; a hit reads no mask
    first = load_weights(
        ds, num_classes=C, cache_dir=tmp_path, progress=lambda d, t: scanned.append(d)
    )
    assert scanned[-1] == 30
    stats, info = cached_scan(ds, num_classes=C, cache_dir=tmp_path)
    assert info.hit and stats.pixels.tolist() == bincount(ms).tolist()
    again = dataset(ms)  # built again from the same data: datasets gives the same fingerprint
    assert again._fingerprint == ds._fingerprint
    read = []
    with caplog.at_level(logging.INFO, logger="classweights"):
        second = load_weights(
            again, num_classes=C, cache_dir=tmp_path, progress=lambda d, t: read.append(d)
        )
    assert second.tolist() == first.tolist() and read == []
    assert not any("scanned" in r.message for r in caplog.records)
    meta = json.loads((Path(info.path) / "meta.json").read_text())
    assert meta["place"] == [] and meta["probe"] is None and meta["root"] == ""
    # a transform is another dataset: a new fingerprint, a new entry, its own numbers
    for changed, rows in (
        (ds.select(range(10)), ms[:10]),
        (ds.filter(lambda r: r["label"] == 1), ms[1::3]),
    ):
        stats, info = cached_scan(changed, num_classes=C, cache_dir=tmp_path)
        assert not info.hit and stats.pixels.tolist() == bincount(rows).tolist()
    # another column (all zeros here) is another key
    blank = datasets.Dataset.from_dict(
        {"mask2": [Image.fromarray(np.zeros((H, W), np.uint8))] * 30},
        features=datasets.Features({"mask2": datasets.Image()}),
    )
    zeros = datasets.concatenate_datasets([ds, blank], axis=1)
    stats, info = cached_scan(zeros, num_classes=C, cache_dir=tmp_path, mask_column="mask2")
    assert not info.hit and stats.pixels.tolist() == [30 * H * W, 0, 0, 0]


def test_a_stream_is_not_cached_and_says_so_once(tmp_path, caplog):
    ms = masks(12, seed=6)
    stream = dataset(ms).to_iterable_dataset()
    from classweights.pipeline import stages as pipeline

    pipeline._WARNED.clear()
    with (
        warnings.catch_warnings(record=True) as seen,
        caplog.at_level(logging.INFO, "classweights"),
    ):
        warnings.simplefilter("always")
        for _ in range(2):
            stats, info = cached_scan(stream, num_classes=C, cache_dir=tmp_path)
            assert info.key is None and not info.hit
            assert stats.pixels.tolist() == bincount(ms).tolist()
    said = [w for w in seen if issubclass(w.category, CacheWarning)]
    assert len(said) == 1 and "streaming IterableDataset has no fingerprint" in str(said[0].message)
    assert sum("IterableDataset has no fingerprint" in r.message for r in caplog.records) == 2
    assert not any(p.is_dir() and len(p.name) == 24 for p in tmp_path.iterdir())


def test_saved_files_are_cached_by_their_listing_never_incrementally(tmp_path):
    ms = masks(20, seed=7)
    dataset(ms).save_to_disk(str(tmp_path / "d"))
    cache = tmp_path / "cache"
    _, info = cached_scan(tmp_path / "d", num_classes=C, cache_dir=cache)
    stats, hit = cached_scan(tmp_path / "d", num_classes=C, cache_dir=cache)
    assert hit.hit and hit.key == info.key and stats.pixels.tolist() == bincount(ms).tolist()
    more = masks(25, seed=8)  # saved again over it: other files, the same folder
    dataset(more).save_to_disk(str(tmp_path / "d2"))
    for f in (tmp_path / "d2").iterdir():
        os.replace(f, tmp_path / "d" / f.name)
    stats, fresh = cached_scan(tmp_path / "d", num_classes=C, cache_dir=cache)
    assert not fresh.hit and fresh.incremental is None and fresh.key != info.key
    assert stats.pixels.tolist() == bincount(more).tolist()


def test_files_changed_during_the_scan_are_not_cached(tmp_path):
    ms = masks(20, seed=9)
    dataset(ms).save_to_disk(str(tmp_path / "d"))
    shard = next((tmp_path / "d").glob("*.arrow"))

    def touch(done, total):
        os.utime(shard, ns=(1, 1))

    with pytest.warns(CacheWarning, match="changed while they were scanned"):
        stats, info = cached_scan(
            tmp_path / "d", num_classes=C, cache_dir=tmp_path / "c", progress=touch
        )
    assert info.path is None and stats.pixels.tolist() == bincount(ms).tolist()
