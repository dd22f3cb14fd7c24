"""Turning one entry into arrays: PNG (imagecodecs where exact, Pillow otherwise), TIFF, npy/npz,
zarr.

``imagecodecs.png_decode`` expands palette PNGs to RGB and 1-bit PNGs to 0/255, which would
silently turn labels into wrong numbers, so the PNG header's colour type and bit depth decide
the decoder.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import MaskReadError
from .arrays import NpzMember, check_pixels
from .entries import Entry, ReadOptions, is_url, url_fs
from .palettes import Indexed, finish, no_colour_table, pillow_decode
from .png import check_png_chunks, png_header, png_stream
from .scratch import Scratch
from .strict import check_png_data
from .traps import check_one_hot, check_one_hot_stream, colour_array, one_image
from .volumes import Volume, is_volume_path, read_volume
from .zarr_read import open_zarr


def read_entry(
    entry: Entry,
    indices: Sequence[int],
    opts: ReadOptions,
    scratch: Scratch | None = None,
    rows: bool = False,
) -> Iterator[tuple[str, Any]]:
    """Yield ``(source_id, mask)`` for the given image indices of an entry.

    With a ``scratch``, a PNG mask may be decoded into its buffer: that mask is valid only until
    the next one is read (the counting path, done with each mask before the next). With
    ``rows``, a PNG the fused path can count comes as its `PngStream` (see `read_image`).
    """
    if entry.kind == "image":
        if is_volume_path(entry.path):  # NIfTI / NRRD: a 3-D volume with its spacing
            yield entry.path, read_volume(entry.path, opts, [f for _, f in entry.files])
        else:
            size = entry.listing[0][1] if entry.listing else None  # from the folder walk
            yield entry.path, read_image(entry.path, opts, scratch, True, rows, size)
    elif entry.kind == "perclass":
        yield entry.path, _read_perclass(entry, opts)
    elif entry.kind == "npz":  # streamed block by block: never the whole member in memory
        with NpzMember(entry.path, entry.key) as arr:
            per_image = check_pixels(arr.shape, entry, opts)  # from the header, first
            if not opts.multilabel and indices and indices[0] == 0:  # once per member
                check_one_hot_stream(arr, _name(entry))
            if entry.n == 1:
                for i in indices:
                    yield entry.source_id(i), _take(arr, i, entry, opts)
                return
            for start, stop in _runs(indices, max(1, STACK_BLOCK_PIXELS // per_image)):
                block = arr.block(start, stop - start)  # Fortran order: one pass, not n
                for j in range(stop - start):
                    image = np.ascontiguousarray(block[j])  # (a Fortran block is strided)
                    yield entry.source_id(start + j), _volume_or_mask(image, arr.ndim, opts)
    elif entry.kind == "npy":
        arr = _open_array(entry)
        check_pixels(arr.shape, entry, opts)
        if not opts.multilabel and isinstance(arr, np.ndarray):
            check_one_hot(arr, _name(entry))
        for i in indices:
            yield entry.source_id(i), _take(arr, i, entry, opts)
    elif entry.kind == "zarr":
        arr = open_zarr(entry.path, entry.key)  # every chunk decoded within its declared size
        per_image = check_pixels(arr.shape, entry, opts)  # a fill value allocates it all
        if arr.ndim == 2 or (arr.ndim == 3 and opts.multilabel):
            yield entry.source_id(0), np.asarray(arr[...])
            return
        if entry.n == 1 and colour_array(arr.shape):
            yield entry.source_id(0), one_image(arr[...], _name(entry), opts.rgb)
            return
        for start, block in _zarr_runs(arr, entry, indices, opts, per_image):
            for j in range(len(block)):
                yield entry.source_id(start + j), _volume_or_mask(block[j], arr.ndim, opts)
    else:  # pragma: no cover - guarded by discover()
        raise MaskReadError(f"{entry.path}: unknown entry kind {entry.kind}")


def _zarr_runs(
    arr: Any, entry: Entry, indices: Sequence[int], opts: ReadOptions, per_image: int
) -> Iterator[tuple[int, NDArray[Any]]]:
    """``(first index, block)`` for each run of consecutive images of a zarr stack."""
    if indices and indices[0] == 0:  # once per store: patches cost a chunk read each
        check_one_hot(arr, _name(entry))
    for start, stop in _runs(indices, max(1, opts.max_pixels // per_image)):
        yield start, np.asarray(arr[start:stop])


def _runs(indices: Sequence[int], longest: int | None = None) -> Iterator[tuple[int, int]]:
    """Group sorted indices into contiguous ``[start, stop)`` runs of at most ``longest``."""
    idx = list(indices)
    limit = longest or len(idx) or 1
    i = 0
    while i < len(idx):
        j = i
        while j + 1 < len(idx) and idx[j + 1] == idx[j] + 1 and j + 1 - i < limit:
            j += 1
        yield idx[i], idx[j] + 1
        i = j + 1


#: Pixels of one block of an ``.npz`` member read at once by `read_stacks` (64 MiB of uint32).
STACK_BLOCK_PIXELS = 1 << 24


def read_stacks(
    entry: Entry, indices: Sequence[int], opts: ReadOptions
) -> Iterator[tuple[list[str], NDArray[Any]]] | None:
    """The images ``indices`` of an ``.npy``, ``.npz`` or zarr stack as ``(k, H, W)`` blocks
    with their source ids, when they are consecutive plain masks (each block counted in one
    kernel call); None for anything else (read those with `read_entry`). The checks are
    `read_entry`'s.

    An ``.npy`` block is a view of the memory map; an ``.npz`` member is read forward in blocks
    of at most 64 images and :data:`STACK_BLOCK_PIXELS` pixels; zarr runs as `read_entry` reads
    them (local or remote stores).
    """
    if (
        entry.kind not in ("npy", "npz", "zarr")
        or opts.multilabel
        or opts.rgb
        or len(indices) < 2
        or list(indices) != list(range(indices[0], indices[-1] + 1))
    ):
        return None
    if entry.kind == "zarr":
        arr = open_zarr(entry.path, entry.key)
        if arr.ndim != 3 or entry.n < 2 or colour_array(arr.shape):
            return None
        per_image = check_pixels(arr.shape, entry, opts)
        runs = _zarr_runs(arr, entry, indices, opts, per_image)
        return (([entry.source_id(a + j) for j in range(len(b))], b) for a, b in runs)
    if is_url(entry.path):
        return None
    if entry.kind == "npy":
        arr = _open_array(entry)
        if arr.ndim != 3 or entry.n < 2 or colour_array(arr.shape):
            return None
        check_pixels(arr.shape, entry, opts)
        check_one_hot(arr, _name(entry))
        ids = [entry.source_id(i) for i in indices]
        return iter([(ids, arr[indices[0] : indices[-1] + 1])])
    return _npz_blocks(entry, list(indices), opts)


def _npz_blocks(
    entry: Entry, indices: list[int], opts: ReadOptions
) -> Iterator[tuple[list[str], NDArray[Any]]] | None:
    member = NpzMember(entry.path, entry.key)
    if member.ndim != 3 or entry.n < 2 or colour_array(member.shape) or member.fortran:
        member.close()
        return None

    def blocks() -> Iterator[tuple[list[str], NDArray[Any]]]:
        with member:
            check_pixels(member.shape, entry, opts)  # from the header, before decompressing
            if indices[0] == 0:
                check_one_hot_stream(member, _name(entry))
            per = max(1, math.prod(member.shape[1:]))
            k = max(1, min(64, STACK_BLOCK_PIXELS // per))
            for a in range(0, len(indices), k):
                part = indices[a : a + k]
                ids = [entry.source_id(i) for i in part]
                yield ids, member.block(part[0], len(part))

    return blocks()


def _open_array(entry: Entry) -> Any:
    try:
        if is_url(entry.path):
            from .remote import RemoteNpy

            return RemoteNpy(entry.path)
        return np.load(entry.path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, KeyError) as e:
        if "object" in str(e).lower():
            raise MaskReadError(
                f"{entry.path}: holds Python objects (dtype object), not labels; save the masks "
                "as an integer array"
            ) from None
        raise MaskReadError(f"{entry.path}: cannot read the array ({e})") from None


def _name(entry: Entry) -> str:
    return f"{entry.path}:{entry.key}" if entry.key else entry.path


def _take(arr: NDArray[Any], i: int, entry: Entry, opts: ReadOptions) -> NDArray[Any]:
    if entry.n == 1 and not opts.multilabel and colour_array(arr.shape):
        return one_image(np.asarray(arr), _name(entry), opts.rgb)  # not H masks of W x 3
    stacked = arr.ndim == 4 or (arr.ndim == 3 and not (opts.multilabel and entry.n == 1))
    if arr.ndim == 3 and opts.rgb and arr.shape[-1] == 3 and arr.dtype == np.uint8:
        stacked = False  # one H x W x 3 colour mask
    if arr.ndim == 3 and entry.n == 1 and not stacked:
        return np.asarray(arr)
    if arr.ndim == 2:
        return np.asarray(arr)
    return _volume_or_mask(np.asarray(arr[i]), arr.ndim, opts)


def _volume_or_mask(a: NDArray[Any], ndim: int, opts: ReadOptions) -> Any:
    """An item of an N x D x H x W array is a volume (not multi-label, not N x H x W x 3 colour)."""
    if ndim == 4 and not opts.multilabel and not (opts.rgb and a.shape[-1] == 3):
        return Volume(a)
    return a


def read_image(
    path: str,
    opts: ReadOptions,
    scratch: Scratch | None = None,
    indexed: bool = False,
    rows: bool = False,
    size: int | None = None,
) -> Any:
    """Decode one mask image file into an integer array (H x W, or H x W x 3 for colour);
    into ``scratch``'s buffer where it can (see `read_entry`). A palette image reads as its
    indices (with ``indexed``, as :class:`~classweights.sources.palettes.Indexed`: the indices
    and the palette), or with a colour table (``opts.rgb``) as its colours.

    With ``rows`` (and ``opts.png_decoder == "auto"``), a PNG the fused path can count is not
    decoded: it comes back as a `PngStream` (`png.png_stream`: chunks walked and checked, the
    image data not yet inflated); give ``PngStream.data`` to `decode_image` if a later check
    (libdeflate's, or a row's filter byte) fails. ``size``: what the folder walk found.
    """
    data = read_bytes(path, size)
    if rows and (got := png_stream(data, path, opts)) is not None:
        return got
    mask = decode_image(data, path, opts, scratch)
    return mask.array if isinstance(mask, Indexed) and not indexed else mask


def read_bytes(path: str, size: int | None = None) -> bytes:
    """The bytes of a mask file (local or an fsspec URL); an empty file is a read error.

    ``size``: what the folder walk found (a local file is then read without asking again;
    one that changed since is still read whole)."""
    try:
        if is_url(path):
            fs, p = url_fs(path)
            data = fs.cat_file(p)
        else:
            data = _read_local(path, size)
    except OSError as e:
        raise MaskReadError(f"{path}: cannot read ({e.strerror or e})") from None
    if not data:
        raise MaskReadError(f"{path}: the file is empty (0 bytes)")
    return data


def _read_local(path: str, size: int | None = None) -> bytes:
    """A local file's bytes, in one ``read`` call when it holds ``size`` bytes (``fstat``'s
    when not given): half the time of ``open().read()`` for a small mask, and each system call
    releases the GIL, which costs a thread switch when another worker is waiting for it;
    otherwise (it changed meanwhile, or one call returns at most ~2 GB) read to its end."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if size is None:
            size = os.fstat(fd).st_size
        data = os.read(fd, size + 1)
        if len(data) == size:
            return data
        pieces = [data]
        while piece := os.read(fd, 1 << 24):
            pieces.append(piece)
        return b"".join(pieces)
    finally:
        os.close(fd)


def decode_image(
    data: bytes, path: str, opts: ReadOptions, scratch: Scratch | None = None
) -> NDArray[Any]:
    """Decode one encoded mask (the bytes of a file, or of a dataset's ``Image`` cell) with
    every check a mask file gets; ``path`` is how messages name it."""
    if not data:
        raise MaskReadError(f"{path}: the file is empty (0 bytes)")
    head = png_header(data)
    if head is not None:
        w, h, depth, ctype = head
        if w * h > opts.max_pixels:
            raise MaskReadError(
                f"{path}: declares {w}x{h} = {w * h:,} pixels, above the limit of "
                f"{opts.max_pixels:,}; raise it with --max-pixels if the file is genuine"
            )
        if ctype in (2, 6) and not opts.rgb and not opts.multilabel:  # before decoding
            no_colour_table(path, "RGB" if ctype == 2 else "RGBA")
        check_png_chunks(data, path)
        if depth >= 8 and ctype in (0, 2, 4, 6):  # no palette: imagecodecs is exact (Pillow
            arr = _imagecodecs_png(data, _png_out(scratch, head))  # keeps only the high
            # byte of 16-bit grey+alpha)
            if arr is not None and arr.shape[:2] == (h, w):  # libpng refuses short data
                grey = ctype in (0, 4) and arr.ndim == 3  # grey+alpha, or grey with tRNS
                return finish(arr[..., 0] if grey else arr, path, opts)
        check_png_data(data, path)  # Pillow zero-fills missing rows: refuse them first
        if ctype == 0 and depth in (2, 4):  # Pillow scales 2/4-bit grey to 0..255: undo it
            return finish(
                pillow_decode(data, path, opts) // (255 // ((1 << depth) - 1)), path, opts
            )
    elif path.lower().endswith(".png"):
        raise MaskReadError(
            f"{path}: not a PNG file (the signature is {data[:8]!r}); a mask must be a lossless "
            "PNG, not a JPEG renamed to .png"
        )
    mask = pillow_decode(data, path, opts)
    return mask if isinstance(mask, Indexed) else finish(mask, path, opts)


_PNG_CHANNELS = {0: (), 2: (3,), 4: (2,), 6: (4,)}  # colour type -> trailing axis (no palette)


def _png_out(scratch: Scratch | None, head: tuple[int, int, int, int]) -> NDArray[Any] | None:
    """The array ``png_decode`` will fill, in the scratch buffer (None: a fresh one)."""
    w, h, depth, ctype = head
    if scratch is None or ctype not in _PNG_CHANNELS or depth not in (8, 16):
        return None
    return scratch.array((h, w, *_PNG_CHANNELS[ctype]), np.uint8 if depth == 8 else np.uint16)


def _imagecodecs_png(data: bytes, out: NDArray[Any] | None = None) -> NDArray[Any] | None:
    try:
        import imagecodecs
    except ImportError:
        return None
    if out is not None:
        try:
            return imagecodecs.png_decode(data, out=out)
        except Exception:  # e.g. grey with a tRNS chunk decodes to two channels: a fresh array
            pass
    try:
        return imagecodecs.png_decode(data)
    except Exception:  # fall back to Pillow, which gives the error message
        return None


def _read_perclass(
    entry: Entry, opts: ReadOptions
) -> tuple[tuple[int, ...], list[tuple[int, Any]]]:
    """Per-class binary masks of one image: ``(shape, [(class_index, mask), ...])``."""
    masks = []
    shape = None
    for cls, f in entry.files:
        m = read_image(f, ReadOptions(multilabel=True, max_pixels=opts.max_pixels))
        if m.ndim == 3:
            m = m[..., 0]
        if shape is not None and m.shape != shape:
            raise MaskReadError(f"{f}: shape {m.shape} differs from {shape} of the same image")
        shape = m.shape
        masks.append((cls, m))
    return shape, masks
