"""Finding masks and turning each into an array.

A source (folder, file, list file, zarr store, Python iterable, torch Dataset) is resolved into
:class:`Entry` objects, each holding one or more images. ``read_entry`` yields ``(source_id,
array)`` for the requested images of an entry. No counting happens here.

PNG masks are decoded by ``imagecodecs`` where it is exact (8/16-bit grey and 8-bit RGB) and by
Pillow for the rest: ``imagecodecs.png_decode`` expands palette PNGs to RGB and 1-bit PNGs to
0/255, which would silently turn labels into wrong numbers, so the PNG header's colour type
and bit depth decide the decoder.

Paths may be fsspec URLs (``s3://``, ``gs://``, ``file://``, ``memory://``...) for every
reader: entries keep the URL so that Dask workers re-open it, and credentials come from the
environment and the fsspec configuration. Local paths keep the plain ``open``/``os.walk`` path
and never import fsspec.
"""

from __future__ import annotations

import io
import os
import re
import struct
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ClassWeightsError, DatasetError, MaskReadError, MissingDependencyError, require

IMAGE_EXTS = (".png", ".tif", ".tiff", ".bmp", ".gif")
ARRAY_EXTS = (".npy", ".npz")
LIST_EXTS = (".txt", ".lst", ".list")
DEFAULT_MAX_PIXELS = 1 << 30
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Entry:
    """One readable thing holding ``n`` images.

    kind: ``image`` (one mask file), ``npy``, ``npz`` (``key`` names the array), ``zarr``
    (``key`` names the array inside a group), ``perclass`` (multi-label: one binary PNG per
    class, ``files`` lists ``(class_index, path)``).
    """

    kind: str
    path: str
    n: int = 1
    key: str | None = None
    files: tuple[tuple[int, str], ...] = ()
    # rows of `file_listing` already known from a remote listing (saves a request per file);
    # not pickled, so tasks sent to Dask workers do not carry a zarr store's whole listing
    listing: tuple[tuple[str, int, int | str], ...] = field(default=(), compare=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__ | {"listing": ()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def source_id(self, i: int) -> str:
        name = f"{self.path}:{self.key}" if self.key else self.path
        return f"{name}[{i}]" if self.kind in ("npy", "npz", "zarr") and self.n > 1 else name


@dataclass(frozen=True)
class ReadOptions:
    """Decoder settings that change what a mask reads as."""

    multilabel: bool = False
    rgb: bool = False  # a colour table is given: 3-channel masks are colours
    max_pixels: int = DEFAULT_MAX_PIXELS


# ---- discovery -----------------------------------------------------------------------------
def is_zarr_dir(p: Path) -> bool:
    return p.is_dir() and any((p / m).exists() for m in ("zarr.json", ".zarray", ".zgroup"))


def discover(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    glob: str | None = None,
    multilabel: bool = False,
    class_names: Sequence[str] | None = None,
) -> list[Entry]:
    """Resolve paths (folders, files, list files, zarr stores) into entries, in a stable order.

    Raises:
        DatasetError: nothing found, a glob matching nothing, or a folder mixing layouts.
    """
    paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not paths:
        raise DatasetError("no input paths given")
    entries: list[Entry] = []
    seen: set[str] = set()
    for p in paths:
        found = (
            _discover_url(p, glob, multilabel, class_names)
            if is_url(p)
            else _discover_one(Path(p), glob, multilabel, class_names)
        )
        for e in found:
            ident = f"{e.path}:{e.key}"
            if ident in seen:
                continue
            seen.add(ident)
            entries.append(e)
    if not entries:
        where = ", ".join(map(str, paths))
        if glob:
            raise DatasetError(f"the glob {glob!r} matched no mask files under {where}")
        raise DatasetError(
            f"no mask files found under {where} (looked for {', '.join(IMAGE_EXTS + ARRAY_EXTS)} "
            "and zarr stores); pass --glob to choose files"
        )
    return entries


def _discover_one(
    p: Path, glob: str | None, multilabel: bool, class_names: Sequence[str] | None
) -> list[Entry]:
    if not p.exists():
        raise DatasetError(f"{p}: no such file or folder")
    if is_zarr_dir(p):
        return zarr_entries(p, multilabel)
    if p.is_file():
        if p.suffix.lower() in LIST_EXTS:
            return _list_file_entries(p, multilabel, class_names)
        return file_entries(p, multilabel)
    files = sorted(p.glob(glob)) if glob else sorted(_walk(p))
    files = [f for f in files if f.is_file() or is_zarr_dir(f)]
    if multilabel and files and all(f.suffix.lower() == ".png" for f in files):
        per_class = _perclass_entries(files, class_names)
        if per_class is not None:
            return per_class
    if not glob:
        _check_single_layout(p, files, [is_zarr_dir(f) for f in files])
    out: list[Entry] = []
    for f in files:
        out.extend(zarr_entries(f, multilabel) if is_zarr_dir(f) else file_entries(f, multilabel))
    return out


def _walk(root: Path) -> Iterator[Path]:
    """Mask files and zarr stores under ``root`` (symlinked folders are not followed)."""
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        for name in list(dirnames):
            if is_zarr_dir(d / name):
                dirnames.remove(name)
                yield d / name
        dirnames.sort()
        for name in filenames:
            if name.lower().endswith(IMAGE_EXTS + ARRAY_EXTS):
                yield d / name


def _check_single_layout(root: Any, files: Sequence[PurePath], stores: Sequence[bool]) -> None:
    """Refuse a folder that mixes layouts we cannot tell apart (e.g. Cityscapes gtFine)."""
    kinds = Counter(
        "zarr" if store else ("array" if f.suffix.lower() in ARRAY_EXTS else "image")
        for f, store in zip(files, stores, strict=True)
    )
    if len(kinds) > 1:
        raise DatasetError(
            f"{root} mixes {' and '.join(sorted(kinds))} files ({dict(kinds)}); pass --glob to "
            "choose one layout, e.g. --glob '**/*.png'"
        )
    suffixes = Counter(m.group(1) for f in files if (m := re.search(r"_([A-Za-z]+)$", f.stem)))
    common = [s for s, n in suffixes.items() if n >= 2]
    if len(common) > 1 and sum(suffixes[s] for s in common) == len(files):
        shown = ", ".join(f"*_{s}{files[0].suffix}" for s in sorted(common))
        raise DatasetError(
            f"{root} holds several kinds of masks side by side ({shown}); pass --glob to choose "
            f"one, e.g. --glob '**/*_{sorted(common)[0]}{files[0].suffix}'"
        )


def _list_file_entries(p: Path, multilabel: bool, class_names: Sequence[str] | None) -> list[Entry]:
    base = p.parent
    out: list[Entry] = []
    missing = []
    for raw in p.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if is_url(line):
            out.extend(_discover_url(line, None, multilabel, class_names))
            continue
        f = Path(line) if Path(line).is_absolute() else base / line
        if not f.exists():
            missing.append(line)
            continue
        out.extend(_discover_one(f, None, multilabel, class_names))
    if missing:
        raise DatasetError(
            f"{p} lists {len(missing)} path(s) that do not exist, first: {missing[0]!r} "
            f"(paths are relative to {base})"
        )
    return out


def _images_in(shape: tuple[int, ...], multilabel: bool) -> int:
    """Images in an array: N x H x W (or N x C x H x W multi-label) stacks hold N."""
    if len(shape) == 4 or (len(shape) == 3 and not multilabel):
        return int(shape[0])
    return 1


def file_entries(f: Path | str, multilabel: bool = False) -> list[Entry]:
    ext = PurePosixPath(str(f)).suffix.lower()
    if ext == ".npy":
        return [Entry("npy", str(f), n=_images_in(_npy_shape(f), multilabel))]
    if ext == ".npz":
        try:
            with _open_binary(str(f)) as fh, zipfile.ZipFile(fh) as zf:
                names = sorted(n[:-4] for n in zf.namelist() if n.endswith(".npy"))
                shapes = {}
                for name in names:
                    with zf.open(name + ".npy") as fh:
                        shapes[name] = _npy_header(fh, f)
        except (zipfile.BadZipFile, OSError) as e:
            raise MaskReadError(f"{f}: not a readable .npz archive ({e})") from None
        return [
            Entry("npz", str(f), n=_images_in(s, multilabel), key=k) for k, s in shapes.items()
        ]
    return [Entry("image", str(f))]


def _npy_header(fh: Any, f: Path) -> tuple[int, ...]:
    try:
        fmt = np.lib.format
        version = fmt.read_magic(fh)
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, _ = read(fh)
    except Exception as e:
        raise MaskReadError(f"{f}: not a valid .npy array ({e})") from None
    return tuple(shape)


def _npy_shape(f: Path | str) -> tuple[int, ...]:
    try:
        with _open_binary(str(f)) as fh:
            return _npy_header(fh, f)
    except OSError as e:
        raise MaskReadError(f"{f}: cannot read ({e.strerror or e})") from None


def zarr_entries(p: Path | str, multilabel: bool = False) -> list[Entry]:
    import zarr

    try:
        node = zarr.open(str(p), mode="r")
    except Exception as e:
        raise MaskReadError(f"{p}: not a readable zarr store ({e})") from None
    arrays = [("", node)] if isinstance(node, zarr.Array) else sorted(node.arrays())
    out = []
    for name, arr in arrays:
        if arr.ndim not in (2, 3, 4):
            raise MaskReadError(
                f"{p}{'/' + name if name else ''}: zarr array has shape {arr.shape}; expected "
                "H x W, N x H x W (or N x C x H x W for multi-label masks)"
            )
        out.append(Entry("zarr", str(p), n=_images_in(arr.shape, multilabel), key=name or None))
    return out


def _perclass_entries(files: list[Path], class_names: Sequence[str] | None) -> list[Entry] | None:
    """CelebAMask-HQ layout: ``{image_id}_{class}.png``, one binary mask per class present."""
    if not class_names:
        return None
    index = {n: i for i, n in enumerate(class_names)}
    groups: dict[str, list[tuple[int, str]]] = {}
    for f in files:
        # the class name itself may contain underscores (l_eye): try every split point
        parts = f.stem.split("_")
        hit = None
        for k in range(1, len(parts)):
            name = "_".join(parts[k:])
            if name in index:
                hit = ("_".join(parts[:k]), index[name])
                break
        if hit is None:
            return None
        groups.setdefault(str(f.parent / hit[0]), []).append((hit[1], str(f)))
    return [
        Entry("perclass", key, files=tuple(sorted(v))) for key, v in sorted(groups.items())
    ]


# ---- reading -------------------------------------------------------------------------------
def read_entry(
    entry: Entry, indices: Sequence[int], opts: ReadOptions
) -> Iterator[tuple[str, Any]]:
    """Yield ``(source_id, mask)`` for the given image indices of an entry."""
    if entry.kind == "image":
        yield entry.path, read_image(entry.path, opts)
    elif entry.kind == "perclass":
        yield entry.path, _read_perclass(entry, opts)
    elif entry.kind in ("npy", "npz"):
        arr = _open_array(entry)
        for i in indices:
            yield entry.source_id(i), _take(arr, i, entry, opts)
    elif entry.kind == "zarr":
        import zarr

        node = zarr.open(entry.path, mode="r")
        arr = node[entry.key] if entry.key else node
        if arr.ndim == 2 or (arr.ndim == 3 and opts.multilabel):
            yield entry.source_id(0), np.asarray(arr[...])
            return
        for start, stop in _runs(indices):
            block = np.asarray(arr[start:stop])
            for j in range(stop - start):
                yield entry.source_id(start + j), block[j]
    else:  # pragma: no cover - guarded by discover()
        raise MaskReadError(f"{entry.path}: unknown entry kind {entry.kind}")


def _runs(indices: Sequence[int]) -> Iterator[tuple[int, int]]:
    """Group sorted indices into contiguous ``[start, stop)`` runs."""
    idx = list(indices)
    i = 0
    while i < len(idx):
        j = i
        while j + 1 < len(idx) and idx[j + 1] == idx[j] + 1:
            j += 1
        yield idx[i], idx[j] + 1
        i = j + 1


def _open_array(entry: Entry) -> Any:
    try:
        if entry.kind == "npy":
            if is_url(entry.path):
                return _RemoteNpy(entry.path)
            return np.load(entry.path, mmap_mode="r", allow_pickle=False)
        with _open_binary(entry.path) as fh, np.load(fh, allow_pickle=False) as z:
            return z[entry.key]
    except (ValueError, OSError, zipfile.BadZipFile, KeyError) as e:
        raise MaskReadError(f"{entry.path}: cannot read the array ({e})") from None


def _take(arr: NDArray[Any], i: int, entry: Entry, opts: ReadOptions) -> NDArray[Any]:
    stacked = arr.ndim == 4 or (arr.ndim == 3 and not (opts.multilabel and entry.n == 1))
    if arr.ndim == 3 and opts.rgb and arr.shape[-1] == 3 and arr.dtype == np.uint8:
        stacked = False  # one H x W x 3 colour mask
    if arr.ndim == 3 and entry.n == 1 and not stacked:
        return np.asarray(arr)
    if arr.ndim == 2:
        return np.asarray(arr)
    return np.asarray(arr[i])


def png_header(data: bytes) -> tuple[int, int, int, int] | None:
    """``(width, height, bit_depth, colour_type)`` of a PNG, or None if it is not a PNG."""
    if len(data) < 33 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    w, h, depth, ctype = struct.unpack(">IIBB", data[16:26])
    return w, h, depth, ctype


def read_image(path: str, opts: ReadOptions) -> NDArray[Any]:
    """Decode one mask image file into an integer array (H x W, or H x W x 3 for colour)."""
    try:
        if is_url(path):
            fs, p = _url_fs(path)
            data = fs.cat_file(p)
        else:
            with open(path, "rb") as fh:
                data = fh.read()
    except OSError as e:
        raise MaskReadError(f"{path}: cannot read ({e.strerror or e})") from None
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
        if depth >= 8 and ctype in (0, 2):  # grey 8/16-bit and RGB: imagecodecs is exact
            arr = _imagecodecs_png(data)
            if arr is not None:
                return _finish(arr, path, opts)
    elif path.lower().endswith(".png"):
        raise MaskReadError(
            f"{path}: not a PNG file (the signature is {data[:8]!r}); a mask must be a lossless "
            "PNG, not a JPEG renamed to .png"
        )
    return _finish(_pillow(data, path, opts), path, opts)


def _imagecodecs_png(data: bytes) -> NDArray[Any] | None:
    try:
        import imagecodecs

        return imagecodecs.png_decode(data)
    except Exception:  # fall back to Pillow, which gives the error message
        return None


def _pillow(data: bytes, path: str, opts: ReadOptions) -> NDArray[Any]:
    import io
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = opts.max_pixels
            im = Image.open(io.BytesIO(data))
            if getattr(im, "n_frames", 1) > 1:
                raise MaskReadError(
                    f"{path}: has {im.n_frames} frames; a mask must be a single image"
                )
            im.load()
    except MaskReadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MaskReadError(
            f"{path}: the image is larger than the limit of {opts.max_pixels:,} pixels; raise it "
            "with --max-pixels if the file is genuine"
        ) from None
    except Exception as e:
        raise MaskReadError(f"{path}: cannot decode the image ({e})") from None
    mode = im.mode
    if mode == "1":
        return np.asarray(im, dtype=np.uint8)
    if mode in ("L", "P", "I;16", "I;16B", "I;16L", "I", "RGB", "RGBA", "LA", "PA"):
        arr = np.asarray(im)
        if mode in ("LA", "PA"):
            arr = arr[..., 0]
        return arr
    raise MaskReadError(
        f"{path}: image mode {mode!r} is not a label mask (expected L, P, I;16, I, 1 or RGB)"
    )


def _finish(arr: NDArray[Any], path: str, opts: ReadOptions) -> NDArray[Any]:
    if arr.ndim == 3:
        if arr.shape[-1] == 4:
            arr = arr[..., :3]
        if arr.shape[-1] == 3 and not opts.rgb and not opts.multilabel:
            raise MaskReadError(
                f"{path}: is an RGB colour mask but no colour table was given; pass "
                "--palette PRESET|FILE (e.g. --palette cityscapes) to map colours to labels"
            )
    elif opts.rgb:
        raise MaskReadError(
            f"{path}: is a single-channel mask but a colour table (--palette) was given; "
            "drop --palette for index masks, or pass only colour masks"
        )
    return arr


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


# ---- fsspec URLs -------------------------------------------------------------------------
STORE_MARKERS = ("zarr.json", ".zarray", ".zgroup")


def is_url(path: Any) -> bool:
    """True for an fsspec URL such as ``s3://bucket/masks`` (local paths take the fast path)."""
    return isinstance(path, str) and "://" in path


def _url_fs(url: str) -> tuple[Any, str]:
    fsspec = require("fsspec", "dask", f"reading {url}")
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as e:  # e.g. s3fs / gcsfs missing: fsspec names the package
        raise MissingDependencyError(f"{url}: {e}") from None


def _open_binary(path: str) -> Any:
    if is_url(path):
        fs, p = _url_fs(path)
        return fs.open(p, "rb")
    return open(path, "rb")


def _discover_url(
    url: str, glob: str | None, multilabel: bool, class_names: Sequence[str] | None
) -> list[Entry]:
    """The remote twin of ``_discover_one``: same entries, same order, paths kept as URLs."""
    fs, root = _url_fs(url)
    url, root = url.rstrip("/"), root.rstrip("/")
    try:
        if not fs.exists(root):
            raise DatasetError(f"{url}: no such file or folder")
        if any(fs.exists(f"{root}/{m}") for m in STORE_MARKERS):
            return _with_listing(zarr_entries(url, multilabel), fs)
        if not fs.isdir(root):
            if PurePosixPath(root).suffix.lower() in LIST_EXTS:
                return _url_list_entries(url, fs, root, multilabel, class_names)
            return _with_listing(file_entries(url, multilabel), fs)
        found = fs.glob(f"{root}/{glob}", detail=True) if glob else fs.find(root, detail=True)
    except (OSError, ValueError) as e:
        if isinstance(e, ClassWeightsError):
            raise
        raise DatasetError(
            f"{url}: cannot list ({type(e).__name__}: {e}); credentials come from the "
            "environment or the fsspec configuration"
        ) from None
    infos = {_rel(root, info.get("name", name)): info for name, info in found.items()}
    infos.pop("", None)
    stores = {r.rpartition("/")[0] for r in infos if r.rpartition("/")[2] in STORE_MARKERS}
    stores |= {  # a glob may match the store folders themselves
        r for r, i in infos.items()
        if i.get("type") == "directory" and any(fs.exists(f"{root}/{r}/{m}") for m in STORE_MARKERS)
    }  # fmt: skip
    tops: list[str] = []
    for t in sorted(stores, key=len):  # a store's nested groups belong to the store
        if not any(t.startswith(u + "/") for u in tops):
            tops.append(t)
    inside: dict[str, list[str]] = {t: [] for t in tops}
    items: list[tuple[str, bool]] = [(t, True) for t in tops]
    for r, info in infos.items():
        top = next((t for t in tops if r.startswith(t + "/")), None)
        if top is not None:
            inside[top].append(r)
        elif info.get("type", "file") == "file" and (
            glob or r.lower().endswith(IMAGE_EXTS + ARRAY_EXTS)
        ):
            items.append((r, False))
    items.sort(key=lambda it: _parts(it[0]))

    def join(r: str) -> str:
        return f"{url}/{r}"

    paths = [PurePosixPath(r) for r, _ in items]
    if multilabel and items and all(p.suffix.lower() == ".png" for p in paths):
        per_class = _perclass_entries(paths, class_names)
        if per_class is not None:
            return [
                Entry("perclass", join(e.path), files=tuple((c, join(f)) for c, f in e.files),
                      listing=tuple(_stamp(join(f), infos[f], fs) for _, f in e.files))
                for e in per_class
            ]  # fmt: skip
    if not glob:
        _check_single_layout(url, paths, [store for _, store in items])
    out: list[Entry] = []
    for r, store in items:
        if store:
            rows = tuple(_stamp(join(f), infos[f], fs) for f in sorted(inside[r], key=_parts))
            out.extend(_replace_listing(e, rows) for e in zarr_entries(join(r), multilabel))
        else:
            rows = (_stamp(join(r), infos[r], fs),)
            out.extend(_replace_listing(e, rows) for e in file_entries(join(r), multilabel))
    return out


def _parts(rel: str) -> list[str]:
    """Sort key of a relative path: the order ``sorted()`` gives the same local ``Path``s."""
    return rel.split("/")


def _rel(root: str, name: str) -> str:
    name = name.rstrip("/")
    if name == root:
        return ""
    return name[len(root) + 1 :] if name.startswith(root + "/") else name


def _url_list_entries(url, fs, root, multilabel, class_names) -> list[Entry]:
    base = url.rsplit("/", 1)[0]
    out: list[Entry] = []
    for raw in fs.cat_file(root).decode("utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if is_url(line):
            target = line
        elif line.startswith("/"):
            target = fs.unstrip_protocol(line)
        else:
            target = f"{base}/{line}"
        out.extend(_discover_url(target, None, multilabel, class_names))
    return out


def _replace_listing(e: Entry, rows: tuple[tuple[str, int, int | str], ...]) -> Entry:
    return Entry(e.kind, e.path, e.n, e.key, e.files, rows)


def _with_listing(entries: list[Entry], fs: Any) -> list[Entry]:
    return [_replace_listing(e, tuple(_remote_listing(e, fs))) for e in entries]


def _stamp(url: str, info: dict[str, Any], fs: Any) -> tuple[str, int, int | str]:
    """``(url, size, version)``: the etag when the store gives one, else the modification time."""
    for key in ("ETag", "etag", "Etag", "md5Hash", "generation"):
        if info.get(key):
            return url, int(info.get("size") or 0), str(info[key]).strip('"')
    for key in ("mtime", "LastModified", "last_modified", "updated", "modified", "created"):
        v = info.get(key)
        if v is None:
            continue
        if hasattr(v, "timestamp"):
            v = v.timestamp()
        try:
            return url, int(info.get("size") or 0), f"mtime:{round(float(v) * 1e6)}"
        except (TypeError, ValueError):
            return url, int(info.get("size") or 0), f"mtime:{v}"
    return url, int(info.get("size") or 0), f"ukey:{fs.ukey(info['name'])}"


def _remote_listing(e: Entry, fs: Any) -> list[tuple[str, int, int | str]]:
    if e.kind == "zarr":
        root = _url_fs(e.path)[1].rstrip("/")
        found = {_rel(root, n): i for n, i in fs.find(root, detail=True).items()}
        base = e.path.rstrip("/")
        return [_stamp(f"{base}/{r}", found[r], fs) for r in sorted(found, key=_parts)]
    urls = [f for _, f in e.files] if e.kind == "perclass" else [e.path]
    return [_stamp(u, fs.info(_url_fs(u)[1]), fs) for u in urls]


def file_listing(entries: Sequence[Entry]) -> list[tuple[str, int, int | str]]:
    """Every file behind the entries as ``(path, size, version)``, for dataset fingerprints.

    ``version`` is ``st_mtime_ns`` for local files and, for URLs, the store's etag (or its
    modification time, or fsspec's ``ukey``) taken from the listing made by :func:`discover`.
    A zarr store lists every file inside it. Each file appears once, in entry order.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); f = os.path.join(d, "m.png"); _ = open(f, "wb").write(b"x" * 3)
    >>> [(os.path.basename(p), size) for p, size, _ in file_listing([Entry("image", f)])]
    [('m.png', 3)]
    """
    out: list[tuple[str, int, int | str]] = []
    seen: set[str] = set()
    for e in entries:
        if e.listing:
            rows: Iterable[tuple[str, int, int | str]] = e.listing
        elif is_url(e.path):
            fs, _ = _url_fs(e.path)
            rows = _remote_listing(e, fs)
        else:
            rows = _local_listing(e)
        for row in rows:
            if row[0] not in seen:
                seen.add(row[0])
                out.append(row)
    return out


def _local_listing(e: Entry) -> Iterator[tuple[str, int, int]]:
    if e.kind == "zarr":
        files = sorted(Path(d) / n for d, _, names in os.walk(e.path) for n in names)
    elif e.kind == "perclass":
        files = [Path(f) for _, f in e.files]
    else:
        files = [Path(e.path)]
    for f in files:
        st = f.stat()
        yield str(f), st.st_size, st.st_mtime_ns


class _RemoteNpy:
    """A remote ``.npy`` read lazily: one ranged request per image instead of the whole file."""

    def __init__(self, url: str):
        self.url = url
        self.fs, self.p = _url_fs(url)
        with self.fs.open(self.p, "rb", block_size=1 << 16) as fh:
            fmt = np.lib.format
            version = fmt.read_magic(fh)
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            self.shape, self.fortran, self.dtype = read(fh)
            self.offset = fh.tell()
        if self.dtype.hasobject:
            raise ValueError("object arrays are not label masks")
        self.ndim = len(self.shape)

    def __array__(self, dtype: Any = None, copy: Any = None) -> NDArray[Any]:
        arr = np.load(io.BytesIO(self.fs.cat_file(self.p)), allow_pickle=False)
        return arr if dtype is None else arr.astype(dtype)

    def __getitem__(self, i: int) -> NDArray[Any]:
        if self.fortran or not isinstance(i, (int, np.integer)):
            return np.asarray(self)[i]
        row = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        start = self.offset + int(i) * row
        buf = self.fs.cat_file(self.p, start, start + row)
        return np.frombuffer(buf, self.dtype).reshape(self.shape[1:])


# ---- in-memory sources --------------------------------------------------------------------
def mask_from_item(item: Any, index: int) -> NDArray[Any]:
    """The mask of one item of an iterable/Dataset: an array, ``(image, mask)``, or a dict."""
    if isinstance(item, dict):
        for key in ("mask", "label", "labels", "target", "seg", "segmentation", "gt"):
            if key in item:
                return _to_numpy(item[key])
        raise DatasetError(
            f"item {index} is a dict without a mask key; keys: {', '.join(map(str, item))} "
            "(expected one of mask, label, target, seg)"
        )
    if isinstance(item, (tuple, list)):
        if len(item) < 2:
            raise DatasetError(f"item {index} is a {type(item).__name__} of length {len(item)}")
        return _to_numpy(item[1])
    return _to_numpy(item)


def _to_numpy(x: Any) -> NDArray[Any]:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    elif hasattr(x, "__array__") and not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if not isinstance(x, np.ndarray):
        raise DatasetError(f"expected an array-like mask, got {type(x).__name__}")
    return x


def is_torch_dataset(obj: Any) -> bool:
    return any(c.__module__.startswith("torch.utils.data") for c in type(obj).__mro__)


def iter_torch_dataset(ds: Any, workers: int) -> Iterator[Any]:
    """Iterate a map-style/iterable torch Dataset through a DataLoader with worker processes."""
    from torch.utils.data import DataLoader

    loader = DataLoader(
        ds, batch_size=None, shuffle=False, num_workers=workers, collate_fn=_identity
    )
    yield from loader


def _identity(x: Any) -> Any:
    return x


def iter_items(obj: Iterable[Any]) -> Iterator[Any]:
    yield from obj
