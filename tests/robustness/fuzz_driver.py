"""Seeded mutation fuzzing of the CLI (run by test_fuzz.py in a child under a memory ceiling).

Each case writes one valid small input (PNG grey/palette, TIFF, .npy, .npz, zarr; or a remap
table in YAML/JSON), mutates it (truncate, flip bytes, insert, zero a range, cut a chunk), and
runs ``classweights stats`` in this process. The outcome must be one of:

- exit 0 with exactly the counts of the original mask, or of what an independent decoder reads
  from the mutated file (np.load, zarr, imagecodecs' TIFF decoder; a remap table parsed with
  ``yaml.safe_load`` and applied with a NumPy lookup);
- exit 2 with one line on stderr that names the file.

Anything else (exit 1, a traceback, several lines, other numbers) is reported as a failure.
Usage: python fuzz_driver.py OUT_DIR CASES TABLE_CASES SEED  -> one JSON summary on stdout.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import random
import shutil
import signal
import struct
import sys
import time
import zlib
from pathlib import Path

import numpy as np

C = 8  # --num-classes; labels up to 9 are drawn, so some pixels are unknown (ignored)
KINDS = ("png", "png_p", "tif", "npy", "npz", "zarr")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(a: np.ndarray, palette: bool) -> bytes:
    h, w = a.shape
    raw = b"".join(b"\x00" + a[r].tobytes() for r in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 3 if palette else 0, 0, 0, 0)
    plte = _chunk(b"PLTE", np.arange(768, dtype=np.uint8).tobytes()) if palette else b""
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + plte
            + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))  # fmt: skip


def _tiff(a: np.ndarray) -> bytes:
    """A minimal uncompressed 8-bit grey baseline TIFF (one strip), written by hand."""
    h, w = a.shape
    data = a.tobytes()
    tags = [(256, 3, 1, w), (257, 3, 1, h), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
            (273, 4, 1, 0), (277, 3, 1, 1), (278, 3, 1, h), (279, 4, 1, len(data))]  # fmt: skip
    ifd_at = 8
    data_at = ifd_at + 2 + 12 * len(tags) + 4
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_at) + struct.pack("<H", len(tags)))
    for tag, typ, count, value in tags:
        value = data_at if tag == 273 else value
        packed = struct.pack("<H", value) + b"\0\0" if typ == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, typ, count) + packed
    return bytes(out + struct.pack("<I", 0) + data)


def _mutate(data: bytes, rng: random.Random, ops: tuple[str, ...] = ()) -> bytes:
    b = bytearray(data)
    op = rng.choice(ops or ("truncate", "flip", "flip", "insert", "zero", "cut"))
    if op == "truncate":
        return bytes(b[: rng.randrange(len(b))])
    if op == "flip":
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        return bytes(b)
    i = rng.randrange(len(b))
    if op == "insert":
        return bytes(b[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + b[i:])
    j = min(len(b), i + rng.randint(1, 16))
    if op == "zero":
        b[i:j] = bytes(j - i)
        return bytes(b)
    return bytes(b[:i] + b[j:])


def _counts(a: np.ndarray) -> list[int]:
    v = np.asarray(a).astype(np.int64, copy=False).ravel()
    return np.bincount(v[(v >= 0) & (v < C)], minlength=C)[:C].tolist()


def _reference(kind: str, path: Path) -> list[int] | None:
    """What an independent decoder reads from the (mutated) input, or None if it cannot."""
    try:
        if kind == "npy":
            a = np.load(path, allow_pickle=False)
        elif kind == "npz":
            with np.load(path, allow_pickle=False) as z:
                a = z["masks"]
        elif kind == "zarr":
            import zarr

            a = zarr.open_array(str(path), mode="r")[...]
        elif kind == "tif":
            import imagecodecs

            a = imagecodecs.tiff_decode(path.read_bytes())
        else:  # PNG: the checksums make a silently different valid image practically impossible
            return None
        if a.dtype.kind not in "iub" or a.ndim not in (2, 3):
            return None
        return _counts(a)
    except Exception:
        return None


def _write(kind: str, a: np.ndarray, where: Path, rng: random.Random) -> Path:
    if kind in ("png", "png_p"):
        path = where / "m.png"
        path.write_bytes(_mutate(_png(a[0], kind == "png_p"), rng))
    elif kind == "tif":
        path = where / "m.tif"
        # an uncompressed TIFF has no checksum: a changed header byte makes another valid file
        # (other bit depth, offsets, photometric), so only a cut-short file has one right answer
        path.write_bytes(_mutate(_tiff(a[0]), rng, ("truncate",)))
    elif kind == "npy":
        path = where / "m.npy"
        buf = io.BytesIO()
        np.save(buf, a)
        path.write_bytes(_mutate(buf.getvalue(), rng))
    elif kind == "npz":
        path = where / "m.npz"
        buf = io.BytesIO()
        np.savez_compressed(buf, masks=a)
        path.write_bytes(_mutate(buf.getvalue(), rng))
    else:
        import zarr

        path = where / "m.zarr"
        z = zarr.create_array(str(path), shape=a.shape, chunks=(1, *a.shape[1:]), dtype=a.dtype)
        z[...] = a
        files = sorted(p for p in path.rglob("*") if p.is_file())
        victim = rng.choice(files)
        victim.write_bytes(_mutate(victim.read_bytes(), rng))
    return path


def _run_cli(args: list[str]) -> tuple[int, str, str]:
    from classweights.cli import main

    out, err = io.StringIO(), io.StringIO()
    logging.getLogger().handlers.clear()  # the CLI attaches its handler to this case's stderr
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            sys.argv = ["classweights", *args]
            main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return code, out.getvalue(), err.getvalue()


def _judge(code: int, out: str, err: str, path: Path, allowed: list[list[int]]) -> str | None:
    if code == 0:
        got = [c["pixels"] for c in json.loads(out)["classes"]]
        return None if got in allowed else f"exit 0 with counts {got}, expected one of {allowed}"
    lines = err.strip().splitlines()
    if code != 2 or "Traceback" in err or len(lines) != 1:
        return f"exit {code}, stderr {err[-400:]!r}"
    return None if path.name in lines[0] else f"the error does not name {path.name}: {lines[0]}"


def _table_text(rng: random.Random) -> tuple[str, str]:
    pairs = {k: rng.randrange(C) for k in rng.sample(range(10), rng.randint(1, 4))}
    if rng.random() < 0.5:
        return "remap.json", json.dumps({str(k): v for k, v in pairs.items()})
    return "remap.yaml", "".join(f"{k}: {v}\n" for k, v in pairs.items())


def _table_reference(text: str, a: np.ndarray) -> list[int] | None:
    import yaml

    try:
        table = yaml.safe_load(text)
        lut = np.arange(256, dtype=np.int64)
        for k, v in table.items():
            if isinstance(k, bool) or isinstance(v, bool):
                return None
            k, v = int(str(k)), int(str(v))
            if not 0 <= k < 256:
                return None
            lut[k] = v
        return _counts(lut[a])
    except Exception:
        return None


def main() -> None:
    out_dir, cases, table_cases, seed = Path(sys.argv[1]), *map(int, sys.argv[2:5])
    rng = random.Random(seed)
    failures: list[str] = []
    slowest = 0.0
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("case hung")))
    for i in range(cases + table_cases):
        where = out_dir / f"case{i}"
        where.mkdir(parents=True)
        a = np.random.default_rng(rng.randrange(2**32)).integers(0, 10, (3, 12, 16), np.uint8)
        start = time.perf_counter()
        signal.alarm(30)  # a hang is a failure, not a stuck CI
        try:
            if i < cases:
                kind = KINDS[i % len(KINDS)]
                single = a[:1] if kind in ("png", "png_p", "tif") else a
                path = _write(kind, single, where, rng)
                allowed = [_counts(single)] + [r for r in [_reference(kind, path)] if r]
                args = [str(path), "--num-classes", str(C), "--unknown", "ignore"]
                code, out, err = _run_cli(["stats", *args, "--format", "json", "--no-cache"])
                why = _judge(code, out, err, path, allowed)
            else:
                kind = "table"
                name, text = _table_text(rng)
                mutated = _mutate(text.encode(), rng)
                table = where / name
                table.write_bytes(mutated)
                np.save(where / "m.npy", a)
                ref = _table_reference(mutated.decode("utf-8", "replace"), a)
                allowed = [ref] if ref else []
                args = [str(where / "m.npy"), "--num-classes", str(C), "--unknown", "ignore"]
                code, out, err = _run_cli(
                    ["stats", *args, "--remap", str(table), "--format", "json", "--no-cache"]
                )
                why = _judge(code, out, err, table, allowed) if code or allowed else None
        except TimeoutError:
            why = "did not finish within 30 s"
        finally:
            signal.alarm(0)
        slowest = max(slowest, time.perf_counter() - start)
        if why:
            failures.append(f"case {i} ({kind}, seed {seed}): {why}")
        shutil.rmtree(where, ignore_errors=True)
    with open("/proc/self/status") as fh:  # this process's own mark (ru_maxrss survives exec)
        peak = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) * 1024
    print(json.dumps({"failures": failures, "slowest_s": slowest, "peak_rss": peak}))


if __name__ == "__main__":
    main()
