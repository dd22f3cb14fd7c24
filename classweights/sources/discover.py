"""Finding masks: folders, files, list files, zarr stores and per-class PNG layouts, in a stable
order."""

from __future__ import annotations

import os
import zipfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import DatasetError, DuplicateWarning, MaskReadError, warn_data
from .arrays import check_chunk_files, npy_header
from .entries import (
    ARRAY_EXTS,
    LIST_EXTS,
    Entry,
    enter_list,
    is_url,
    is_zarr_dir,
    open_binary,
    special_kind,
)
from .families import check_families
from .nrrd import with_data_files
from .traps import check_tree, colour_array
from .volumes import volume_ext
from .walk import MASK_EXTS, hidden, log_hidden, unique_masks, walk_masks
from .zarr_codecs import chain_of


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
    found: list[Entry] = []
    links: set[str] = set()  # entries that are symlinks (a walk knows it from the listing)
    for p in paths:
        found += (
            _remote().discover_url(p, glob, multilabel, class_names)
            if is_url(p)
            else _discover_one(Path(p), glob, multilabel, class_names, links)
        )
    kept, duplicates = unique_masks([(e.path, e.key) for e in found], links)
    entries = [found[i] for i in kept]
    if duplicates:
        warn_data(
            f"{len(duplicates)} mask(s) given more than once are counted once, first: "
            f"{duplicates[0]} (a path listed twice or spelt two ways, a folder given twice or "
            "inside another, or a symlink to a listed file)",
            DuplicateWarning,
            stacklevel=2,
        )
    if not entries:
        where = ", ".join(map(str, paths))
        if glob:
            raise DatasetError(f"the glob {glob!r} matched no mask files under {where}")
        raise DatasetError(
            f"no mask files found under {where} (looked for {', '.join(MASK_EXTS)} "
            "and zarr stores); pass --glob to choose files"
        )
    return entries


def _discover_one(
    p: Path,
    glob: str | None,
    multilabel: bool,
    class_names: Sequence[str] | None,
    links: set[str],
    chain: tuple[tuple[str, str], ...] = (),
) -> list[Entry]:
    """The entries under one path; symlinked mask files are added to ``links``."""
    if not p.exists():
        raise DatasetError(f"{p}: no such file or folder")
    if not p.is_dir() and not p.is_file():  # a FIFO would block the scan that reads it
        raise DatasetError(
            f"{p}: is {special_kind(p.stat().st_mode)}, not a regular file or a folder; pass "
            "the mask files themselves"
        )
    if is_zarr_dir(p):
        return zarr_entries(p, multilabel)
    if p.is_file():
        if p.suffix.lower() in LIST_EXTS:
            return _list_file_entries(p, multilabel, class_names, links, chain)
        if p.is_symlink():
            links.add(str(p))
        return [with_data_files(e, str(p.parent)) for e in file_entries(p, multilabel)]
    if glob:
        found = sorted(p.glob(glob), key=lambda f: f.parts)
        if not any(hidden(part) for part in Path(glob).parts):  # unless the glob names them
            kept = [f for f in found if not any(hidden(x) for x in f.relative_to(p).parts)]
            log_hidden(p, len(found) - len(kept))
            found = kept
        items = [(str(f), is_zarr_dir(f)) for f in found if f.is_file() or is_zarr_dir(f)]
        links.update(f for f, store in items if not store and os.path.islink(f))
        stats: dict[str, tuple[int, str]] = {}
    else:
        items, stats, skipped = walk_masks(os.path.abspath(p), links)
        log_hidden(p, skipped)
    names = [f for f, _ in items]
    if glob and not names and not glob.startswith("**"):
        _check_glob_depth(p, glob)
    check_tree(p, names, multilabel=multilabel, class_names=class_names)
    if multilabel and items and all(f.lower().endswith(".png") for f in names):
        per_class = _perclass_entries([Path(f) for f in names], class_names)
        if per_class is not None:
            return per_class
    _check_single_layout(p, names, [store for _, store in items], kinds=not glob)
    out: list[Entry] = []
    for f, store in items:
        st = stats.get(f)
        if store:
            out.extend(zarr_entries(f, multilabel))
        elif st is not None and not f.endswith(_ARRAY_SUFFIXES):
            out.append(Entry("image", f, 1, None, (), ((f, st[0], st[1]),)))
        else:
            out.extend(file_entries(f, multilabel))
    # detached NRRD data, inside p only
    return [with_data_files(e, str(p)) if e.path[-5:].lower() in _NRRD else e for e in out]


_ARRAY_SUFFIXES = ARRAY_EXTS + tuple(e.upper() for e in ARRAY_EXTS)
_NRRD = (".nrrd", ".nhdr")


def _stem_ext(path: str) -> tuple[str, str]:
    """``("a_labelIds", ".png")`` for ``".../a_labelIds.png"`` (what splitext gives, faster)."""
    name = path.rpartition("/")[2]
    stem, dot, ext = name.rpartition(".")
    return (stem, dot + ext) if dot and stem else (name, "")


def _check_glob_depth(root: Path, glob: str) -> None:
    """A glob without ``**/`` that matches nothing at its own depth, while deeper files match."""
    deeper = [f for f, _ in zip(root.glob(f"**/{glob}"), range(1000), strict=False) if f.is_file()]
    if deeper:
        rel = deeper[0].relative_to(root).as_posix()
        raise DatasetError(
            f"the glob {glob!r} matched nothing directly under {root}, but "
            f"{len(deeper)}{'+' if len(deeper) == 1000 else ''} file(s) deeper do (first: {rel}); "
            f"a glob without '**/' does not look into subfolders: pass --glob '**/{glob}'"
        )


def _kind(path: str, ext: str, store: bool) -> str:
    if store:
        return "zarr"
    low = ext.lower()
    if low in ARRAY_EXTS:
        return "array"
    return "volume" if low in _VOLUME_TAILS and volume_ext(path) else "image"


_VOLUME_TAILS = (".nii", ".gz", ".nrrd", ".nhdr")  # the last suffix of a volume file


def _check_single_layout(
    root: Any, files: Sequence[Any], stores: Sequence[bool], *, kinds: bool = True
) -> None:
    """Refuse a folder that mixes layouts we cannot tell apart: files of several kinds (images
    beside arrays, 2-D masks beside 3-D volumes; with ``kinds``), or several encodings of the
    same frames (Cityscapes labelIds, instanceIds and color side by side;
    `families.check_families`)."""
    split = [_stem_ext(str(f)) for f in files]
    if kinds:
        found = Counter(
            _kind(str(f), ext, store)
            for f, (_, ext), store in zip(files, split, stores, strict=True)
        )
        if len(found) > 1:
            example = "**/*.png"
            if "volume" in found:  # 2-D masks (previews, slices) beside 3-D label volumes
                ext = Counter(e for f in map(str, files) if (e := volume_ext(f))).most_common(1)
                example = f"**/*{ext[0][0]}"
            raise DatasetError(
                f"{root} mixes {' and '.join(sorted(found))} files ({dict(found)}); pass --glob to "
                f"choose one layout, e.g. --glob '{example}'"
            )
    check_families(root, _relative(root, files))


def _relative(root: Any, files: Sequence[Any]) -> list[str]:
    """``files`` relative to ``root``, ``/``-separated (names not under it stay as they are)."""
    heads = {os.path.join(str(root), ""), os.path.join(os.path.abspath(str(root)), "")}
    out = []
    for f in map(str, files):
        head = next((h for h in heads if f.startswith(h)), "")
        rel = f[len(head) :]
        out.append(rel.replace(os.sep, "/") if os.sep != "/" else rel)
    return out


def _list_file_entries(
    p: Path,
    multilabel: bool,
    class_names: Sequence[str] | None,
    links: set[str],
    chain: tuple[tuple[str, str], ...] = (),
) -> list[Entry]:
    chain = enter_list(chain, os.path.realpath(p), str(p))  # a cycle ends here, named
    base = p.parent
    out: list[Entry] = []
    missing = []
    for raw in p.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if is_url(line):
            out.extend(_remote().discover_url(line, None, multilabel, class_names, chain))
            continue
        f = Path(line) if Path(line).is_absolute() else base / line
        if not f.exists():
            missing.append(line)
            continue
        out.extend(_discover_one(f, None, multilabel, class_names, links, chain))
    if missing:
        raise DatasetError(
            f"{p} lists {len(missing)} path(s) that do not exist, first: {missing[0]!r} "
            f"(paths are relative to {base})"
        )
    return out


def _images_in(shape: tuple[int, ...], multilabel: bool, where: Any = None) -> int:
    """Images in an array: N x H x W (or N x C x H x W multi-label) stacks hold N.

    With ``where`` (the file), an array of another rank or holding no pixels is refused there.
    """
    if where is not None:
        if len(shape) not in (2, 3, 4):
            raise MaskReadError(
                f"{where}: array has shape {tuple(shape)}; expected H x W, N x H x W (or "
                "N x C x H x W for multi-label masks)"
            )
        if 0 in shape:
            raise MaskReadError(
                f"{where}: array has shape {tuple(shape)} and holds no pixels; remove the file "
                "or save the masks it should hold"
            )
    if len(shape) == 3 and not multilabel and colour_array(shape):
        return 1  # H x W x 3 (or x 1, x 4): one mask, read as such or refused by the reader
    if len(shape) == 4 or (len(shape) == 3 and not multilabel):
        return int(shape[0])
    return 1


def file_entries(f: Path | str, multilabel: bool = False) -> list[Entry]:
    ext = PurePosixPath(str(f)).suffix.lower()
    if ext == ".npy":
        return [Entry("npy", str(f), n=_images_in(_npy_shape(f), multilabel, f))]
    if ext == ".npz":
        try:
            with open_binary(str(f)) as fh, zipfile.ZipFile(fh) as zf:
                infos = [i for i in zf.infolist() if i.filename.endswith(".npy")]
                members = sorted((i.filename[:-4], i) for i in infos)
                shapes = {}
                for name, info in members:
                    with zf.open(info) as fh:
                        shapes[name] = _npy_header(fh, f"{f}:{name}", info.file_size)
        except (zipfile.BadZipFile, OSError, NotImplementedError, EOFError) as e:
            raise MaskReadError(f"{f}: not a readable .npz archive ({e})") from None
        return [
            Entry("npz", str(f), n=_images_in(s, multilabel, f"{f}:{k}"), key=k)
            for k, s in shapes.items()
        ]
    return [Entry("image", str(f))]


def _npy_header(fh: Any, f: Any, size: int | None = None) -> tuple[int, ...]:
    return npy_header(fh, f, size)[0]


def _npy_shape(f: Path | str) -> tuple[int, ...]:
    try:
        with open_binary(str(f)) as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(0)
            return _npy_header(fh, f, size)
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
        where = f"{p}{'/' + name if name else ''}"
        if arr.ndim not in (2, 3, 4):
            raise MaskReadError(
                f"{where}: zarr array has shape {arr.shape}; expected "
                "H x W, N x H x W (or N x C x H x W for multi-label masks)"
            )
        n = _images_in(arr.shape, multilabel, where)
        chain_of(arr, where)  # a codec that cannot be decoded within a bound: refused here
        if not is_url(str(p)):
            check_chunk_files(Path(p) / name if name else Path(p), arr, where)
        out.append(Entry("zarr", str(p), n=n, key=name or None))
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
    return [Entry("perclass", key, files=tuple(sorted(v))) for key, v in sorted(groups.items())]


def _remote():
    """The URL twin of this module (imported on first URL: it imports this module too)."""
    from . import remote

    return remote
