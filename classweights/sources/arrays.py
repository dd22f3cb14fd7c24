"""Array inputs checked from their declarations before anything is decoded.

``.npy`` headers (of a file or an ``.npz`` member) against the bytes that hold them, images
against ``max_pixels`` from their shape, zarr chunk files against the size their declared chunk
can take, and ``.npz`` members read one image at a time.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import MaskReadError
from .entries import STORE_MARKERS, Entry, ReadOptions, open_binary


def npy_header(fh: Any, f: Any, size: int | None = None) -> tuple[tuple[int, ...], bool, Any]:
    """``(shape, fortran_order, dtype)`` of a ``.npy`` header; with ``size`` (the bytes the file
    or archive member holds), a header declaring more data than that is refused before
    anything trusts it. Leaves ``fh`` at the first data byte."""
    try:
        fmt = np.lib.format
        version = fmt.read_magic(fh)
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read(fh)
        start = fh.tell()
    except Exception as e:
        reason = " ".join(str(e).split())  # numpy's messages span lines
        raise MaskReadError(f"{f}: not a valid .npy array ({reason})") from None
    need = math.prod(shape) * dtype.itemsize
    if size is not None and start + need > size:
        raise MaskReadError(
            f"{f}: its header declares shape {tuple(shape)} of {dtype} ({need:,} bytes) but the "
            f"file holds {max(size - start, 0):,} bytes of data (truncated, or a forged header); "
            "re-export the array"
        )
    return tuple(shape), bool(fortran), dtype


def check_pixels(shape: Sequence[int], entry: Entry, opts: ReadOptions) -> int:
    """Values one image of an array of ``shape`` holds, refused above ``opts.max_pixels``
    (a colour mask ``H x W x 3`` counts ``H x W``; a multi-label one ``C x H x W``).

    >>> check_pixels((4, 30, 40), Entry("npy", "m.npy", n=4), ReadOptions(max_pixels=1000))
    Traceback (most recent call last):
    ...
    classweights.errors.MaskReadError: m.npy: each image of shape (4, 30, 40) holds 1,200
    values, above the limit of 1,000; raise it with --max-pixels if the file is genuine
    """
    nd = len(shape)
    if nd == 3 and opts.rgb and shape[-1] == 3:
        per_image = int(shape[0]) * int(shape[1])
    elif nd == 4 or (nd == 3 and not (opts.multilabel and entry.n == 1)):
        per_image = math.prod(int(d) for d in shape[1:])
    else:
        per_image = math.prod(int(d) for d in shape)
    if per_image > opts.max_pixels:
        raise MaskReadError(
            f"{entry.path}{':' + entry.key if entry.key else ''}: each image of shape "
            f"{tuple(int(d) for d in shape)} holds {per_image:,} values, above the limit of "
            f"{opts.max_pixels:,}; raise it with --max-pixels if the file is genuine"
        )
    return max(per_image, 1)


class NpzMember:
    """One array of an ``.npz`` archive, decompressed one image (first-axis slice) at a time.

    ``np.load`` of a member decompresses all of it; a stack of thousands of masks would take
    its full size in memory. The header is read first (shape, dtype); ``member[i]`` seeks the
    decompressed stream forward to image ``i`` (indices of a unit come in ascending order).
    """

    def __init__(self, path: str, key: str | None) -> None:
        where = f"{path}:{key}"
        try:
            self._fh = open_binary(path)
            zf = zipfile.ZipFile(self._fh)
            info = zf.getinfo(f"{key}.npy")
            self._member = zf.open(info)
            shape, self._fortran, self.dtype = npy_header(self._member, where, info.file_size)
            self._start = self._member.tell()
        except (zipfile.BadZipFile, OSError, KeyError, NotImplementedError, EOFError) as e:
            self.close()
            raise MaskReadError(f"{path}: not a readable .npz archive ({e})") from None
        except BaseException:
            self.close()
            raise
        if self.dtype.hasobject:
            self.close()
            raise MaskReadError(
                f"{path}: holds Python objects (dtype object), not labels; save the masks as an "
                "integer array"
            )
        self.shape, self.ndim, self._where = shape, len(shape), where

    def _read(self, offset: int, shape: tuple[int, ...]) -> NDArray[Any]:
        n = math.prod(shape) * self.dtype.itemsize
        try:
            self._member.seek(self._start + offset)
            buf = self._member.read(n)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as e:
            raise MaskReadError(f"{self._where}: cannot read the array ({e})") from None
        if len(buf) != n:
            raise MaskReadError(f"{self._where}: the array data ends early (truncated)")
        return np.frombuffer(buf, self.dtype).reshape(shape)

    @property
    def fortran(self) -> bool:
        """Stored in Fortran order: first-axis slices are not contiguous in the stream."""
        return self._fortran

    def block(self, start: int, count: int) -> NDArray[Any]:
        """Images ``start .. start + count - 1`` as one ``(count, ...)`` array."""
        per_image = self.shape[1:]
        if self._fortran:
            return self._gather(start, count)
        size = math.prod(per_image) * self.dtype.itemsize
        return self._read(start * size, (count, *per_image))

    def _gather(self, start: int, count: int) -> NDArray[Any]:
        """Images of a Fortran-ordered member in one pass over its stream: the stream is a
        ``pixels x images`` table, read a band of pixels at a time (never the whole member)."""
        n, per_image = self.shape[0], self.shape[1:]
        pixels, item = math.prod(per_image), self.dtype.itemsize
        out = np.empty((count, pixels), self.dtype)
        band = max(1, (1 << 20) // max(1, n * item))
        for p0 in range(0, pixels, band):
            k = min(band, pixels - p0)
            table = self._read(p0 * n * item, (k, n))
            out[:, p0 : p0 + k] = table[:, start : start + count].T
        dims = len(per_image)  # pixel p of an image is in Fortran order: reverse the axes
        folded = out.reshape((count, *per_image[::-1]))
        return folded.transpose(0, *range(dims, 0, -1))

    def __getitem__(self, i: int) -> NDArray[Any]:
        if self._fortran:  # a first-axis slice is not contiguous: gathered in one pass
            return self._gather(int(i), 1)[0]
        per_image = self.shape[1:]
        return self._read(int(i) * math.prod(per_image) * self.dtype.itemsize, per_image)

    def __array__(self, dtype: Any = None, copy: Any = None) -> NDArray[Any]:
        order = "F" if self._fortran else "C"
        n = math.prod(self.shape) * self.dtype.itemsize
        self._member.seek(self._start)
        buf = self._member.read(n)
        if len(buf) != n:
            raise MaskReadError(f"{self._where}: the array data ends early (truncated)")
        arr = np.frombuffer(buf, self.dtype).reshape(self.shape, order=order)
        return arr if dtype is None else arr.astype(dtype)

    def close(self) -> None:
        for f in (getattr(self, "_member", None), getattr(self, "_fh", None)):
            if f is not None:
                f.close()

    def __enter__(self) -> NpzMember:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_chunk_files(folder: Path, arr: Any, where: str) -> None:
    """Refuse a chunk file larger than its declared chunk could compress to, before decoding.

    A chunk's stored size is at most its decoded size plus codec overhead, so a file far larger
    than that is not a chunk of this array (e.g. a 30000 x 30000 chunk in an array declaring
    64 x 64 chunks, which gzip would decode to gigabytes). Decoding is then bounded by the
    codec's ratio times this size.
    """
    chunk = getattr(arr, "shards", None) or arr.chunks
    bound = math.prod(chunk) * max(arr.dtype.itemsize, 8) * 11 // 10 + 4096
    for root, _, files in os.walk(folder):
        for fname in files:
            if fname in _ZARR_METADATA:
                continue
            path = os.path.join(root, fname)
            try:
                size = os.path.getsize(path)
            except OSError:
                continue  # a broken link: reading names it
            if size > bound:
                raise MaskReadError(
                    f"{where}: chunk file {os.path.relpath(path, folder)} holds {size:,} bytes, "
                    f"more than a {'x'.join(map(str, chunk))} chunk of {arr.dtype} can take "
                    f"({bound:,}); the store is damaged or forged"
                )


_ZARR_METADATA = (*STORE_MARKERS, ".zattrs", ".zmetadata")
