"""NIfTI label volumes (``.nii``, ``.nii.gz``; local files and fsspec URLs), read in the
stored dtype.

nibabel applies ``scl_slope``/``scl_inter`` to every voxel in float64 (a uint8 volume then
takes ~18 bytes a voxel while it is checked and converted). Here the stored values are read
and counted as they are, and only the distinct values are scaled, exactly as nibabel scales
them (:func:`scaled_labels`), so memory stays at the stored dtype. A ``.nii.gz`` reached by URL
is inflated into a buffer of the size its header declares, never past it.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import MaskReadError, require
from .bounded import inflate_into, memory_blocks
from .entries import ReadOptions, url_fs
from .voxels import Volume, as_3d, check_size, in_mm

#: most bytes before the voxels (header and extensions) of a NIfTI read by URL
MAX_VOX_OFFSET = 64 << 20


def read_nifti(path: str, opts: ReadOptions, url: bool) -> Volume:
    """One NIfTI volume: its stored values (with the scaling to apply to the distinct ones)."""
    nib = require("nibabel", "medical", f"reading {path}")
    if url:
        return _from_url(nib, path, opts)
    try:
        with nib.openers.ImageOpener(path) as fh:
            head = fh.read(544)  # the stored header (and the start of any extension)
        check_extensions(nib, path, head)  # nibabel reads each extension whole, whatever size
        img = nib.load(path)
        header = img.header
    except MaskReadError:
        raise
    except Exception as e:
        why = f"{type(e).__name__}: {e}"
        raise MaskReadError(f"{path}: cannot read the NIfTI header ({why})") from None
    check_size(path, tuple(int(s) for s in img.shape), opts)
    try:
        proxy = img.dataobj
        if nib.arrayproxy.is_proxy(proxy):
            raw = np.asanyarray(proxy.get_unscaled())  # the stored dtype (a memory map: .nii)
            scale = (proxy.slope, proxy.inter)
        else:  # pragma: no cover - nib.load always gives a proxy
            raw, scale = np.asanyarray(proxy), (1.0, 0.0)
        if raw.dtype.kind == "f" and not _identity(scale):
            raw, scale = np.asanyarray(img.dataobj), (1.0, 0.0)  # float data: nibabel scales
    except Exception as e:  # truncated or corrupt gzip stream
        raise MaskReadError(f"{path}: cannot decode the voxels ({type(e).__name__}: {e})") from None
    return _volume(path, np.asarray(raw), _stored_header(head, header), scale)


def check_extensions(nib: Any, path: str, head: bytes) -> None:
    """Refuse header extensions that reach past the voxel offset (nibabel reads each one whole,
    whatever size it declares: 1 GB from a 1 MB ``.nii.gz``), or a voxel offset past
    :data:`MAX_VOX_OFFSET`. ``head``: the file's first 544 bytes; the file is opened again only
    when it has extensions."""
    if len(head) < 352:
        return  # nibabel names the short header
    sizeof, order = next(
        ((n, o) for o in ("little", "big") if (n := int.from_bytes(head[:4], o)) in (348, 540)),
        (0, "little"),
    )
    if not sizeof or len(head) < sizeof + 4 or head[sizeof] == 0:
        return  # not a NIfTI header (nibabel names it), or no extensions
    end = (
        int(np.frombuffer(head[108:112], "<f4" if order == "little" else ">f4")[0])
        if sizeof == 348
        else int.from_bytes(head[168:176], order, signed=True)
    )
    pos = sizeof + 4
    if not pos <= end <= MAX_VOX_OFFSET:
        raise MaskReadError(
            f"{path}: the NIfTI header puts the voxels at byte {end:,}, outside "
            f"{pos}..{MAX_VOX_OFFSET:,}; the header is damaged or forged"
        )
    with nib.openers.ImageOpener(path) as fh:
        fh.seek(pos)
        while pos + 16 <= end:
            esize = int.from_bytes(fh.read(8)[:4], order, signed=True)
            if esize < 16 or pos + esize > end:
                raise MaskReadError(
                    f"{path}: a NIfTI header extension declares {esize:,} bytes, past the voxels "
                    f"at byte {end:,}; the header is damaged or forged"
                )
            fh.seek(esize - 8, 1)
            pos += esize


def _stored_header(head: bytes, header: Any) -> Any:
    """The header as stored (``head``: the file's first bytes): nibabel's loader sets a zero
    ``pixdim`` to 1, a spacing the file does not give."""
    try:
        n = type(header).template_dtype.itemsize
        return type(header)(binaryblock=head[:n], check=False)
    except Exception:  # the header was read once already: keep nibabel's
        return header


def _identity(scale: tuple[Any, Any]) -> bool:
    return bool(np.all(np.asarray(scale[0]) == 1) and np.all(np.asarray(scale[1]) == 0))


def _volume(path: str, raw: NDArray[Any], header: Any, scale: tuple[Any, Any]) -> Volume:
    unit = header.get_xyzt_units()[0]  # "unknown", "meter", "mm" or "micron"
    # pixdim[1..3] as stored: 0 or NaN is no spacing (nibabel would say 1 mm); the sign is an
    # axis flip; float32, so keep its shortest decimal (0.8, not 0.800000011920929)
    pixdim = np.abs(np.asarray(header["pixdim"], np.float32)[1 : 1 + min(raw.ndim, 3)])
    zooms = [float(str(z)) if np.isfinite(z) and z > 0 else None for z in pixdim]
    spacing, assumed = in_mm(zooms, [unit] * len(zooms))
    owned = raw.flags.writeable  # a decoded array or a copy-on-write map: ours to convert
    return as_3d(
        path, raw, spacing, assumed, owned=owned, scale=None if _identity(scale) else scale
    )


def scaled_labels(values: NDArray[np.int64], dtype: np.dtype, scale: tuple[Any, Any]) -> Any:
    """The labels the stored ``values`` (of ``dtype``) stand for: ``value * slope + inter``,
    in the float type nibabel picks for ``dtype`` (it depends on the dtype, not the data), so
    each value scales exactly as nibabel scales the whole volume.

    >>> scaled_labels(np.array([0, 1, 2]), np.dtype(np.uint8), (np.float32(2), np.float32(1)))
    array([1., 3., 5.], dtype=float32)
    """
    from nibabel.volumeutils import apply_read_scaling

    slope, inter = (np.asanyarray(v) for v in scale)
    if np.can_cast(inter, slope.dtype):  # as nibabel's ArrayProxy prepares them
        inter = inter.astype(slope.dtype)
    return apply_read_scaling(values.astype(dtype), slope, inter)


def _from_url(nib: Any, path: str, opts: ReadOptions) -> Volume:
    """A NIfTI file read by URL: the header first, the voxels inflated within its size."""
    try:
        fs, p = url_fs(path)
        data = fs.cat_file(p)
    except (OSError, ValueError) as e:
        raise MaskReadError(f"{path}: cannot read ({type(e).__name__}: {e})") from None
    gz = data[:2] == b"\x1f\x8b"
    head = _head(data, gz, path)
    header = _header(nib, head, path)
    shape = tuple(int(s) for s in header.get_data_shape())
    check_size(path, shape, opts)
    dtype = header.get_data_dtype()
    offset = int(header.get_data_offset())
    if dtype.hasobject or dtype.kind not in "biuf" or not 0 <= offset <= MAX_VOX_OFFSET:
        raise MaskReadError(f"{path}: the NIfTI header gives dtype {dtype} at offset {offset}")
    need = offset + math.prod(shape) * dtype.itemsize
    if gz:
        buf = bytearray(need)
        inflate_into(memory_blocks(data), memoryview(buf), "gzip", path, fill="prefix")
    elif len(data) < need:
        raise MaskReadError(
            f"{path}: holds {len(data):,} bytes but its header declares {need:,} (truncated)"
        )
    else:
        buf = data
    raw = np.frombuffer(buf, dtype, count=math.prod(shape), offset=offset)
    if not dtype.isnative:
        raw = raw.astype(dtype.newbyteorder("="))
    raw = raw.reshape(shape, order="F")
    try:
        slope, inter = header.get_slope_inter()
    except Exception as e:  # a valid slope with an infinite intercept
        raise MaskReadError(f"{path}: the NIfTI scaling is invalid ({e})") from None
    scale = (
        (1.0, 0.0)
        if slope is None
        else (np.float64(slope), np.float64(0.0 if inter is None else inter))
    )
    if raw.dtype.kind == "f" and not _identity(scale):
        raw, scale = (raw * scale[0] + scale[1]), (1.0, 0.0)
    return _volume(path, raw, header, scale)


def _head(data: bytes, gz: bool, path: str) -> bytes:
    """The first 540 bytes of the file (the largest NIfTI header), inflated if gzipped."""
    if not gz:
        return bytes(data[:540])
    try:
        d = zlib.decompressobj(zlib.MAX_WBITS | 32)
        out = b""
        for block in memory_blocks(data):
            out += d.decompress(bytes(block), 540 - len(out))
            if len(out) >= 540 or d.eof:
                break
        return out
    except zlib.error as e:
        raise MaskReadError(f"{path}: the gzip data is damaged ({e})") from None


def _header(nib: Any, head: bytes, path: str) -> Any:
    size = int.from_bytes(head[:4], "little") if len(head) >= 4 else 0
    size_be = int.from_bytes(head[:4], "big") if len(head) >= 4 else 0
    kind = nib.Nifti2Header if 540 in (size, size_be) else nib.Nifti1Header
    n = kind.template_dtype.itemsize
    if len(head) < n:
        raise MaskReadError(
            f"{path}: holds {len(head)} bytes, less than a NIfTI header (truncated)"
        )
    try:
        return kind(binaryblock=head[:n], check=False)  # a zero pixdim stays zero
    except Exception as e:
        why = f"{type(e).__name__}: {e}"
        raise MaskReadError(f"{path}: cannot read the NIfTI header ({why})") from None
