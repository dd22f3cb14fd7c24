"""PNG decoders on label masks, per colour type and bit depth, in threads.

    python benchmarks/bench_decoders.py [--size 1024x2048] [--images 8] [--repeats 5]

For each kind of mask (8-bit grey, 16-bit grey, 8-bit palette, 1-bit, 8-bit RGB) writes
Cityscapes-like masks with Pillow, then decodes them with every decoder installed
(imagecodecs' ``png_decode`` (libpng) and ``spng_decode`` (libspng), Pillow, OpenCV's
``imdecode`` and ``pyspng`` if present) and prints, from one run with interleaved repeats:

* exact: does the decoder return the label values that were written (palette *indices*,
  0/1 for 1-bit, native 16-bit values), or something else (RGB expansion, 0/255, ...)?
* img/s with 1 thread and with 2 threads, and their ratio: ~2 on two idle cores means the
  decoder releases the GIL (on a shared machine, compare the decoders with each other).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from classweights.labels import CITYSCAPES_COLORS
from classweights.synthetic import street_scene


def masks(kind: str, n: int, h: int, w: int) -> list[tuple[bytes, np.ndarray]]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        m = street_scene(h, w, rng)
        buf = io.BytesIO()
        if kind == "grey 8-bit":
            truth = m
            Image.fromarray(m).save(buf, "PNG")
        elif kind == "grey 16-bit":
            truth = m.astype(np.uint16) * 1000 + 7  # instance-id-like values
            Image.fromarray(truth).save(buf, "PNG")
        elif kind == "palette 8-bit":
            truth = m
            im = Image.frombuffer("P", (w, h), m.tobytes(), "raw", "P", 0, 1)
            im.putpalette(np.repeat(np.arange(256, dtype=np.uint8), 3).tobytes())
            im.save(buf, "PNG")
        elif kind == "1-bit":
            truth = (m == 0).astype(np.uint8)
            Image.fromarray(truth.astype(bool)).save(buf, "PNG")
        elif kind == "RGB 8-bit":
            lut = np.zeros((256, 3), np.uint8)
            lut[: len(CITYSCAPES_COLORS)] = CITYSCAPES_COLORS
            truth = lut[m]
            Image.fromarray(truth).save(buf, "PNG")
        else:  # pragma: no cover
            raise ValueError(kind)
        out.append((buf.getvalue(), truth))
    return out


def decoders() -> dict[str, Callable[[bytes], np.ndarray]]:
    found: dict[str, Callable[[bytes], np.ndarray]] = {}
    try:
        import imagecodecs

        if imagecodecs.PNG.available:
            found["imagecodecs png (libpng)"] = imagecodecs.png_decode
        if getattr(imagecodecs, "SPNG", None) is not None and imagecodecs.SPNG.available:
            found["imagecodecs spng (libspng)"] = imagecodecs.spng_decode
    except ImportError:
        pass
    found["Pillow"] = lambda data: np.asarray(Image.open(io.BytesIO(data)))
    try:
        import cv2

        found["OpenCV imdecode"] = lambda data: cv2.imdecode(
            np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED
        )
    except ImportError:
        pass
    try:
        import pyspng

        found["pyspng"] = pyspng.load
    except ImportError:
        pass
    return found


def exact(decode: Callable[[bytes], np.ndarray], data: bytes, truth: np.ndarray) -> str:
    try:
        got = np.asarray(decode(data))
    except Exception as e:  # a decoder that refuses a kind
        return f"error ({type(e).__name__})"
    if got.shape != truth.shape:
        return f"no: shape {got.shape}"
    if not np.array_equal(got.astype(np.int64), truth.astype(np.int64)):
        return "no: values differ"
    return "yes"


def rate(decode: Callable[[bytes], np.ndarray], blobs: list[bytes], threads: int) -> float:
    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(decode, blobs))
    return len(blobs) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1024x2048", help="HxW")
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    h, w = (int(x) for x in args.size.split("x"))
    decs = decoders()
    kinds = ["grey 8-bit", "grey 16-bit", "palette 8-bit", "1-bit", "RGB 8-bit"]
    print(f"{args.images} masks of {h}x{w} per kind, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}, median of {args.repeats}; Python {sys.version.split()[0]}")  # fmt: skip
    print(f"\n{'kind':<14} {'decoder':<28} {'exact':<22} {'1 thread':>9} {'2 threads':>10} "
          f"{'ratio':>6}")  # fmt: skip
    for kind in kinds:
        data = masks(kind, args.images, h, w)
        blobs = [d for d, _ in data]
        ok = {name: exact(dec, *data[0]) for name, dec in decs.items()}
        runs: dict[tuple[str, int], list[float]] = {}
        for name, dec in decs.items():  # warm-up
            if not ok[name].startswith("error"):
                rate(dec, blobs[:2], 1)
        for _ in range(args.repeats):
            for name, dec in decs.items():
                if ok[name].startswith("error"):
                    continue
                for threads in (1, 2):
                    runs.setdefault((name, threads), []).append(rate(dec, blobs, threads))
        for name in decs:
            if ok[name].startswith("error"):
                print(f"{kind:<14} {name:<28} {ok[name]:<22}")
                continue
            one = statistics.median(runs[(name, 1)])
            two = statistics.median(runs[(name, 2)])
            print(f"{kind:<14} {name:<28} {ok[name]:<22} {one:9.0f} {two:10.0f} {two / one:6.2f}")


if __name__ == "__main__":
    main()
