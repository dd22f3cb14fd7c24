"""Zarr arrays read chunk by chunk, each chunk decoded within its declared size
(:mod:`.zarr_codecs`): a selection decodes only the chunks it touches, a chunk file larger than
its declared chunk can take is refused before it is decoded, and a missing chunk is the fill
value."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import MaskReadError
from .entries import is_url, open_regular, url_fs
from .zarr_codecs import bound, chain_of, decode_chunk


class BoundedZarr:
    """A zarr array read through :func:`decode_chunk`: basic indexing (integers, slices of step
    1, ``...``) gives NumPy arrays, decoding only the chunks the selection touches."""

    def __init__(self, arr: Any, store: str, where: str):
        self.where = where
        self.chain = chain_of(arr, where)
        self.shape = tuple(int(s) for s in arr.shape)
        self.ndim = len(self.shape)
        self.dtype = self.chain.dtype.newbyteorder("=")
        self.grid = self.chain.shape
        self.fill = 0 if arr.fill_value is None else arr.fill_value
        self._key = arr.metadata.encode_chunk_key
        base = store.rstrip("/") if is_url(store) else store
        self._base = f"{base}/{arr.path}" if arr.path else base
        n = math.prod(self.grid) * self.chain.dtype.itemsize
        self._limit = bound(n) + 4 * len(self.chain.codecs) if self.chain.shard is None else None
        if self.chain.shard is not None:  # inner chunks and their index
            inner = math.prod(self.chain.shard.inner.shape) * self.chain.dtype.itemsize
            cells = n // max(inner, 1)
            self._limit = cells * (bound(inner) + 16) + 65536

    def __array__(self, dtype: Any = None, copy: Any = None) -> NDArray[Any]:
        a = self[...]
        return a if dtype is None else a.astype(dtype)

    def __getitem__(self, key: Any) -> NDArray[Any]:
        box, drop = _selection(key, self.shape)
        out = np.empty(tuple(b - a for a, b in box), self.dtype)
        spans = [
            range(a // c, (b - 1) // c + 1) if b > a else range(0)
            for (a, b), c in zip(box, self.grid, strict=True)
        ]
        cells = list(itertools.product(*spans))
        stored = self._fetch(cells)
        for cell in cells:
            lo = [c * g for c, g in zip(cell, self.grid, strict=True)]
            src = tuple(
                slice(max(a, l0) - l0, min(b, l0 + g) - l0)
                for (a, b), l0, g in zip(box, lo, self.grid, strict=True)
            )
            dst = tuple(
                slice(max(a, l0) - a, min(b, l0 + g) - a)
                for (a, b), l0, g in zip(box, lo, self.grid, strict=True)
            )
            data = stored.get(cell)
            if data is None:
                out[dst] = self.fill
            else:
                out[dst] = decode_chunk(self.chain, data, self.fill, self.where)[src]
        return out[tuple(0 if d else slice(None) for d in drop)] if any(drop) else out

    def _fetch(self, cells: Sequence[tuple[int, ...]]) -> dict[tuple[int, ...], Any]:
        """The stored bytes of each chunk (absent: never written, the fill value)."""
        keys = {cell: self._key(cell) for cell in cells}
        if is_url(self._base):
            return self._fetch_remote(keys)
        out = {}
        for cell, key in keys.items():
            path = os.path.join(self._base, *key.split("/"))
            try:
                with open_regular(path) as fh:
                    data = fh.read(self._limit + 1)
            except FileNotFoundError:
                continue
            except OSError as e:
                raise MaskReadError(f"{self.where}: cannot read chunk {key} ({e})") from None
            out[cell] = self._checked(data, key)
        return out

    def _fetch_remote(self, keys: dict[tuple[int, ...], str]) -> dict[tuple[int, ...], Any]:
        fs, root = url_fs(self._base)
        paths = [f"{root.rstrip('/')}/{k}" for k in keys.values()]
        if not paths:
            return {}
        ends = [self._limit + 1] * len(paths)
        got = fs.cat_ranges(paths, [0] * len(paths), ends, on_error="return")
        out = {}
        for (cell, key), data in zip(keys.items(), got, strict=True):
            if isinstance(data, FileNotFoundError):
                continue
            if isinstance(data, BaseException):
                raise MaskReadError(f"{self.where}: cannot read chunk {key} ({data})")
            out[cell] = self._checked(data, key)
        return out

    def _checked(self, data: bytes, key: str) -> bytes:
        if len(data) > self._limit:
            raise MaskReadError(
                f"{self.where}: chunk {key} holds more than the {self._limit:,} bytes its "
                "declared chunk can take; the store is damaged or forged"
            )
        return data


def _selection(key: Any, shape: tuple[int, ...]) -> tuple[list[tuple[int, int]], list[bool]]:
    """``([start, stop) per axis, axes indexed by an integer)`` of a basic index."""
    items = list(key) if isinstance(key, tuple) else [key]
    if Ellipsis in items:
        i = items.index(Ellipsis)
        items[i : i + 1] = [slice(None)] * (len(shape) - len(items) + 1)
    items += [slice(None)] * (len(shape) - len(items))
    box, drop = [], []
    for item, n in zip(items, shape, strict=True):
        if isinstance(item, slice):
            a, b, step = item.indices(n)
            if step != 1:
                raise IndexError("a zarr selection needs slices of step 1")
            box.append((a, max(a, b)))
            drop.append(False)
        else:
            i = int(item) + (n if int(item) < 0 else 0)
            if not 0 <= i < n:
                raise IndexError(f"index {item} is out of range for axis of size {n}")
            box.append((i, i + 1))
            drop.append(True)
    return box, drop


def open_zarr(path: str, key: str | None) -> BoundedZarr:
    """The array ``key`` of the zarr store at ``path`` (a folder or a URL), read with bounds."""
    import zarr

    try:
        node = zarr.open(path, mode="r")
        arr = node[key] if key else node
    except Exception as e:
        raise MaskReadError(f"{path}: not a readable zarr store ({e})") from None
    return BoundedZarr(arr, path, f"{path}:{key}" if key else path)
