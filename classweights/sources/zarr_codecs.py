"""Zarr chunks decoded with a bound: the codec allowlist and the decoders.

zarr and numcodecs decode a whole chunk before anything compares it with the chunk's declared
size: a 177-byte bzip2 chunk inflates to 460 MB. zarr here parses the metadata and names the
chunk keys; the chunks are read by :mod:`.zarr_read` and decoded here (:func:`decode_chunk`),
each into a buffer of the size its chunk declares, through an allowlist of codecs that can be
decoded that way:

- zarr v3: ``bytes``, ``transpose``, ``gzip``, ``zstd``, ``blosc``, ``crc32c``,
  ``sharding_indexed`` (index ``bytes`` [+ ``crc32c``], inner codecs from this list) and the
  numcodecs compressors ``numcodecs.{gzip,zlib,bz2,lzma,zstd,blosc,lz4}``;
- zarr v2: no filters; compressor ``gzip``, ``zlib``, ``bz2``, ``lzma``, ``zstd``, ``blosc``,
  ``lz4`` or none.

gzip, zlib, bzip2 and lzma streams are inflated with ``max_length`` (:mod:`.bounded`); zstd,
blosc and lz4 are decoded by imagecodecs into a buffer of the declared size (blosc and lz4
headers are checked against it first). Any other codec is refused by name, with the fix.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import MaskReadError
from .bounded import inflate_into, memory_blocks

#: the codecs that can be decoded within a bound, as the fix names them
BOUNDED = "gzip, zlib, bz2, lzma, zstd, blosc or lz4 (e.g. zarr.codecs.ZstdCodec())"

_STREAMS = {"gzip": "gzip", "zlib": "zlib", "bz2": "bz2", "lzma": "lzma"}
_BUFFERED = ("zstd", "blosc", "lz4")
_MISSING = 2**64 - 1  # a shard index entry of a chunk that was never written


@dataclass
class _Chain:
    """How the bytes of one stored chunk become an array of ``shape``."""

    shape: tuple[int, ...]
    dtype: np.dtype  # as stored (byte order included)
    order: str = "C"  # v2 arrays may be stored in Fortran order
    transpose: tuple[int, ...] | None = None
    codecs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # bytes -> bytes
    shard: _Shard | None = None


@dataclass
class _Shard:
    inner: _Chain
    index_crc: bool
    index_dtype: np.dtype
    at_end: bool


def _name(codec: dict[str, Any], v2: bool) -> tuple[str, dict[str, Any]]:
    if v2:
        cfg = {k: v for k, v in codec.items() if k != "id"}
        return str(codec.get("id")), cfg
    return str(codec.get("name")), dict(codec.get("configuration") or {})


def _refuse(where: str, name: str) -> MaskReadError:
    return MaskReadError(
        f"{where}: zarr codec {name!r} cannot be decoded within the chunk's declared size, so "
        f"it is not read (a small chunk could inflate to gigabytes); re-save the store with "
        f"{BOUNDED}"
    )


def _compressor(name: str, cfg: dict[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    bare = name.removeprefix("numcodecs.")
    if bare not in _STREAMS and bare not in _BUFFERED and bare != "crc32c":
        raise _refuse(where, name)
    if bare in _BUFFERED:
        import imagecodecs

        if not getattr(getattr(imagecodecs, bare.upper(), None), "available", False):
            raise _refuse(where, name)
    return bare, cfg


def chain_of(arr: Any, where: str) -> _Chain:
    """The decoding chain of a zarr array, or MaskReadError naming a codec outside the list."""
    meta = arr.metadata.to_dict()
    chunks = tuple(int(c) for c in (getattr(arr, "shards", None) or arr.chunks))
    if meta.get("zarr_format") == 2:
        if meta.get("filters"):
            raise _refuse(where, str(_name(meta["filters"][0], True)[0]))
        comp = meta.get("compressor")
        codecs = [_compressor(*_name(comp, True), where)] if comp else []
        return _Chain(chunks, np.dtype(meta["dtype"]), str(meta.get("order") or "C"), None, codecs)
    return _v3_chain(list(meta.get("codecs") or []), chunks, np.dtype(arr.dtype), where)


def _v3_chain(codecs: list[Any], shape: tuple[int, ...], dtype: np.dtype, where: str) -> _Chain:
    chain = _Chain(shape, dtype)
    stage = "array"
    for codec in codecs:
        name, cfg = _name(codec, False)
        if stage == "array" and name == "transpose":
            chain.transpose = tuple(int(i) for i in cfg.get("order", ()))
            if sorted(chain.transpose) != list(range(len(shape))):
                raise MaskReadError(f"{where}: zarr transpose order {chain.transpose} is invalid")
        elif stage == "array" and name == "bytes":
            endian = cfg.get("endian")
            if dtype.itemsize > 1 and endian in ("little", "big"):
                chain.dtype = dtype.newbyteorder("<" if endian == "little" else ">")
            stage = "bytes"
        elif stage == "array" and name == "sharding_indexed":
            chain.shard = _shard(cfg, shape, dtype, where)
            stage = "bytes"
        elif stage == "bytes" and chain.shard is None:
            chain.codecs.append(_compressor(name, cfg, where))
        else:
            raise _refuse(where, name)
    if stage != "bytes":
        raise MaskReadError(f"{where}: zarr codecs {codecs} hold no array-to-bytes codec")
    return chain


def _shard(cfg: dict[str, Any], shape: tuple[int, ...], dtype: np.dtype, where: str) -> _Shard:
    inner_shape = tuple(int(c) for c in cfg.get("chunk_shape", ()))
    if len(inner_shape) != len(shape) or any(
        c <= 0 or s % c for s, c in zip(shape, inner_shape, strict=True)
    ):
        raise MaskReadError(f"{where}: zarr shards {shape} do not divide into chunks {inner_shape}")
    inner = _v3_chain(list(cfg.get("codecs") or []), inner_shape, dtype, where)
    if inner.shard is not None:
        raise _refuse(where, "sharding_indexed (nested)")
    names = [_name(c, False) for c in cfg.get("index_codecs") or []]
    if not names or names[0][0] != "bytes" or [n for n, _ in names[1:]] not in ([], ["crc32c"]):
        raise _refuse(where, f"sharding index codecs {[n for n, _ in names]}")
    endian = names[0][1].get("endian", "little")
    return _Shard(
        inner,
        len(names) == 2,
        np.dtype("<u8" if endian == "little" else ">u8"),
        cfg.get("index_location", "end") != "start",
    )


def bound(n: int) -> int:
    """Most bytes ``n`` bytes may take once compressed by any codec on the list."""
    return n + n // 8 + 65536


def _sizes(chain: _Chain, n: int) -> list[tuple[int, bool]]:
    """``(size, exact)`` of the input of each bytes codec, in encoding order."""
    out, size, exact = [], n, True
    for name, _ in chain.codecs:
        out.append((size, exact))
        if name == "crc32c":
            size += 4
        else:
            size, exact = bound(size), False
    return out


def _decode_bytes(name: str, cfg: dict[str, Any], data: Any, size: int, exact: bool, where: str):
    """One bytes codec decoded: at most ``size`` bytes (exactly ``size`` when ``exact``)."""
    if name == "crc32c":
        import google_crc32c

        body = bytes(data[:-4])
        if len(data) < 4 or google_crc32c.value(body) != int.from_bytes(bytes(data[-4:]), "little"):
            raise MaskReadError(f"{where}: a chunk's crc32c checksum does not match (damaged)")
        return body
    if name in _STREAMS:
        buf = bytearray(size)
        args = {}
        if name == "lzma":
            import lzma

            fmt = int(cfg.get("format", lzma.FORMAT_XZ))
            args = {
                "format": fmt,
                "filters": cfg.get("filters") if fmt == lzma.FORMAT_RAW else None,
            }
        n = inflate_into(
            memory_blocks(data),
            memoryview(buf),
            name,
            where,
            fill="exact" if exact else "upto",
            **args,
        )
        return memoryview(buf)[:n]
    import imagecodecs

    view = memoryview(data).cast("B")
    if name == "blosc" and len(view) >= 16:
        declared = int.from_bytes(view[4:8], "little")
        stored = int.from_bytes(view[12:16], "little")
        if stored != len(view) or declared > size or (exact and declared != size):
            raise _too_big(where, name, size, declared)
    if name == "lz4" and len(view) >= 4:
        declared = int.from_bytes(view[:4], "little")
        if declared > size or (exact and declared != size):
            raise _too_big(where, name, size, declared)
    out = np.empty(size + 1, np.uint8)  # one byte more: a stream that fills it holds too much
    try:
        if name == "lz4":
            got = imagecodecs.lz4_decode(view, header=True, out=out)
        else:
            got = getattr(imagecodecs, f"{name}_decode")(view, out=out)
    except Exception as e:
        raise MaskReadError(
            f"{where}: a {name} chunk does not decode into its declared {size:,} bytes ({e})"
        ) from None
    if got.nbytes > size or (exact and got.nbytes != size):
        raise _too_big(where, name, size, got.nbytes)
    return memoryview(got)


def _too_big(where: str, name: str, size: int, found: int) -> MaskReadError:
    return MaskReadError(
        f"{where}: a {name} chunk holds {found:,} bytes where its declared chunk takes {size:,}; "
        "the store is damaged or forged"
    )


def decode_chunk(chain: _Chain, data: Any, fill: Any, where: str) -> NDArray[Any]:
    """The array of ``chain.shape`` one stored chunk holds."""
    if chain.shard is not None:
        return _decode_shard(chain, data, fill, where)
    n = math.prod(chain.shape) * chain.dtype.itemsize
    for (name, cfg), (size, exact) in reversed(
        list(zip(chain.codecs, _sizes(chain, n), strict=True))
    ):
        data = _decode_bytes(name, cfg, data, size, exact, where)
    if len(data) != n:
        raise _too_big(where, "raw", n, len(data))
    shape = (
        chain.shape if chain.transpose is None else tuple(chain.shape[i] for i in chain.transpose)
    )
    a = np.frombuffer(data, chain.dtype).reshape(shape, order=chain.order)
    return a if chain.transpose is None else a.transpose(np.argsort(chain.transpose))


def _decode_shard(chain: _Chain, data: Any, fill: Any, where: str) -> NDArray[Any]:
    sh = chain.shard
    grid = [s // c for s, c in zip(chain.shape, sh.inner.shape, strict=True)]
    count = math.prod(grid)
    size = count * 16 + (4 if sh.index_crc else 0)
    if len(data) < size:
        raise MaskReadError(f"{where}: a shard of {len(data):,} bytes holds no full index")
    raw = data[len(data) - size :] if sh.at_end else data[:size]
    if sh.index_crc:
        raw = _decode_bytes("crc32c", {}, raw, size - 4, True, where)
    index = np.frombuffer(raw, sh.index_dtype).reshape(count, 2)
    out = np.empty(chain.shape, chain.dtype.newbyteorder("="))
    for i, cell in enumerate(itertools.product(*(range(g) for g in grid))):
        region = tuple(slice(c * s, (c + 1) * s) for c, s in zip(cell, sh.inner.shape, strict=True))
        start, length = (int(v) for v in index[i])
        if start == _MISSING and length == _MISSING:
            out[region] = fill
            continue
        if start + length > len(data):
            raise MaskReadError(f"{where}: a shard's index points past its {len(data):,} bytes")
        out[region] = decode_chunk(sh.inner, data[start : start + length], fill, where)
    return out
