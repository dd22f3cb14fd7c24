"""Reading an NRRD's data into an array of the declared size: raw (read into the array),
gzip/bzip2 (inflated into it, never past it), ascii and hex (block by block, range-checked).
The header and the data files come from :mod:`.nrrd`."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import MaskReadError
from .bounded import BLOCK, file_blocks, inflate_into
from .entries import open_regular
from .nrrd import Header, data_names, read_header, resolve_data, sizes

_INTS = {
    "i1": ("signed char", "int8", "int8_t"),
    "u1": ("uchar", "unsigned char", "uint8", "uint8_t"),
    "i2": ("short", "short int", "signed short", "signed short int", "int16", "int16_t"),
    "u2": ("ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t"),
    "i4": ("int", "signed int", "int32", "int32_t"),
    "u4": ("uint", "unsigned int", "uint32", "uint32_t"),
    "i8": (
        "longlong",
        "long long",
        "long long int",
        "signed long long",
        "signed long long int",
        "int64",
        "int64_t",
    ),
    "u8": ("ulonglong", "unsigned long long", "unsigned long long int", "uint64", "uint64_t"),
    "f4": ("float",),
    "f8": ("double",),
}
_TYPES = {name: code for code, names in _INTS.items() for name in names}
_ENCODINGS = {
    **dict.fromkeys(("raw",), "raw"),
    **dict.fromkeys(("gzip", "gz"), "gzip"),
    **dict.fromkeys(("bzip2", "bz2"), "bz2"),
    **dict.fromkeys(("ascii", "text", "txt"), "ascii"),
    **dict.fromkeys(("hex",), "hex"),
}


def read_nrrd(path: str, max_pixels: int, data_files: Sequence[str] | None = None) -> tuple:
    """``(array in the axis order of sizes, header fields)`` of an NRRD file.

    ``data_files``: the detached data files found when the dataset was listed (None: resolve
    them inside the header's own folder).
    """
    h = read_header(path)
    shape = sizes(h, path)
    voxels = math.prod(shape)
    if voxels > max_pixels:
        raise MaskReadError(
            f"{path}: declares {' x '.join(map(str, shape))} = {voxels:,} voxels, above the "
            f"limit of {max_pixels:,}; raise it with --max-pixels if the file is genuine"
        )
    dtype = _dtype(h, path)
    encoding = _ENCODINGS.get(str(h.fields.get("encoding", "")).lower())
    if encoding is None:
        raise MaskReadError(
            f"{path}: NRRD encoding {h.fields.get('encoding')!r} is not one of raw, gzip, bzip2, "
            "ascii, hex; re-save the file (e.g. with gzip encoding)"
        )
    if h.spec is None:
        if h.offset is None:  # no blank line after the header: no data follows it
            raise MaskReadError(
                f"{path}: the NRRD header is followed by no data (no blank line after it) and "
                "names no 'data file:'; the file is truncated"
            )
        parts = [path]
    elif data_files:  # checked when the dataset was listed: the header must still name them
        base = os.path.dirname(os.path.abspath(path))
        named = [os.path.normpath(os.path.join(base, n)) for n in data_names(h, path)]
        if named != list(data_files):
            raise MaskReadError(
                f"{path}: its data files changed since the dataset was listed; rerun the scan"
            )
        parts = named
    else:  # read on its own: the data must lie in the header's folder
        parts = resolve_data(path, h, os.path.dirname(os.path.abspath(path)))
    out = np.empty(voxels, dtype)
    if voxels % len(parts):
        raise MaskReadError(
            f"{path}: {voxels:,} voxels cannot be split evenly over {len(parts)} data files"
        )
    _check_subdim(h, shape, len(parts), path)
    step = voxels // len(parts) * dtype.itemsize
    view = memoryview(out.view(np.uint8))
    for i, part in enumerate(parts):
        offset = h.offset if part == path else 0
        _read_part(part, offset or 0, view[i * step : (i + 1) * step], encoding, dtype, h)
    if not dtype.isnative:
        out = out.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return out.reshape(shape, order="F"), h.fields


def _dtype(h: Header, path: str) -> np.dtype:
    code = _TYPES.get(str(h.fields.get("type", "")).strip().lower())
    if code is None:
        raise MaskReadError(
            f"{path}: NRRD type {h.fields.get('type')!r} is not a label type (integers or floats)"
        )
    dtype = np.dtype(code)
    if dtype.itemsize > 1 and _ENCODINGS.get(str(h.fields.get("encoding")).lower()) != "ascii":
        endian = str(h.fields.get("endian", "")).lower()
        if endian not in ("little", "big"):
            raise MaskReadError(f"{path}: the NRRD header gives no endian for {dtype} data")
        dtype = dtype.newbyteorder("<" if endian == "little" else ">")
    return dtype


def _check_subdim(h: Header, shape: tuple[int, ...], files: int, path: str) -> None:
    words = (h.spec or "").split()
    sub = words[1:2] if words[:1] == ["LIST"] else words[4:5]
    if not sub:
        return
    try:
        dim = int(sub[0])
    except ValueError:
        raise MaskReadError(
            f"{path}: 'data file: {h.spec}' has a subdim that is not a number"
        ) from None
    if not 1 <= dim <= len(shape) or math.prod(shape[:dim]) * files != math.prod(shape):
        raise MaskReadError(f"{path}: {files} data files of subdim {dim} do not make sizes {shape}")


def _read_part(
    path: str, offset: int, out: memoryview, encoding: str, dtype: np.dtype, h: Header
) -> None:
    """Fill ``out`` with the data of one file (``offset``: where the data starts in it)."""
    line_skip = int(h.fields.get("line skip", h.fields.get("lineskip", 0)) or 0)
    byte_skip = int(h.fields.get("byte skip", h.fields.get("byteskip", 0)) or 0)
    if line_skip < 0 or byte_skip < -1:
        raise MaskReadError(f"{path}: line skip {line_skip} / byte skip {byte_skip} are invalid")
    try:
        with open_regular(path) as fh:
            fh.seek(offset)
            for _ in range(line_skip):
                while (line := fh.readline(BLOCK)) and not line.endswith(b"\n"):
                    pass
            if encoding == "raw":
                return _raw(fh, out, byte_skip, path)
            if byte_skip == -1:
                raise MaskReadError(
                    f"{path}: 'byte skip: -1' with {encoding} encoding is not supported; re-save "
                    "the file with byte skip 0"
                )
            if encoding in ("gzip", "bz2"):
                return inflate_into(file_blocks(fh), out, encoding, path, skip=byte_skip)
            fh.seek(byte_skip, os.SEEK_CUR)
            if encoding == "hex":
                return _hex(fh, out, path)
            return _ascii(fh, out, dtype, path)
    except OSError as e:
        raise MaskReadError(f"{path}: cannot read ({e.strerror or e})") from None


def _raw(fh: Any, out: memoryview, byte_skip: int, path: str) -> None:
    if byte_skip == -1:
        fh.seek(-len(out), os.SEEK_END)
    else:
        fh.seek(byte_skip, os.SEEK_CUR)
    got = 0
    while got < len(out):
        n = fh.readinto(out[got : got + BLOCK])
        if not n:
            raise MaskReadError(
                f"{path}: the raw data holds {got:,} bytes but the header declares {len(out):,} "
                "(truncated); re-export the file"
            )
        got += n


def _hex(fh: Any, out: memoryview, path: str) -> None:
    pos, carry = 0, b""
    for block in file_blocks(fh):
        digits = carry + block.translate(None, b" \t\r\n\v\f")
        carry = digits[len(digits) // 2 * 2 :]
        try:
            data = bytes.fromhex(digits[: len(digits) // 2 * 2].decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise MaskReadError(f"{path}: the hex data holds a non-hex character") from None
        if pos + len(data) > len(out):
            raise MaskReadError(f"{path}: the hex data holds more values than the header declares")
        out[pos : pos + len(data)] = data
        pos += len(data)
    if pos != len(out) or carry:
        raise MaskReadError(f"{path}: the hex data holds {pos:,} of {len(out):,} bytes (truncated)")


def _ascii(fh: Any, out: memoryview, dtype: np.dtype, path: str) -> None:
    """Whitespace-separated numbers, parsed block by block and range-checked before the cast
    (``np.fromstring`` into uint8 would wrap -1 to 255)."""
    target = np.frombuffer(out, dtype)
    wide = np.float64 if dtype.kind == "f" else np.int64
    pos, carry = 0, b""
    for block in [*file_blocks(fh), b" "]:
        text = carry + block
        cut = max(text.rfind(b" "), text.rfind(b"\n"), text.rfind(b"\t"), text.rfind(b"\r"))
        carry, text = text[cut + 1 :], text[: cut + 1]
        words = text.split()
        if not words:
            continue
        try:
            values = (
                np.array(words, dtype=wide) if wide is np.int64 else np.array(words, np.float64)
            )
        except ValueError:
            raise MaskReadError(
                f"{path}: the ascii data holds a value that is not a number"
            ) from None
        if pos + values.size > target.size:
            raise MaskReadError(
                f"{path}: the ascii data holds more values than the header declares"
            )
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            if values.size and (values.min() < info.min or values.max() > info.max):
                raise MaskReadError(f"{path}: the ascii data holds values outside {dtype}")
        target[pos : pos + values.size] = values
        pos += values.size
    if pos != target.size or carry.strip():
        raise MaskReadError(
            f"{path}: the ascii data holds {pos:,} of {target.size:,} values (truncated)"
        )
