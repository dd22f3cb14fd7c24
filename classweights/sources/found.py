"""What a found path becomes (the entries of a mask file, a zarr store, per-class PNGs) and the
checks of what a folder holds (one kind of file, one encoding of the frames). Local discovery
(`discover`) and the URL twin (`remote`) share them."""

from __future__ import annotations

import os
import zipfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import DatasetError, MaskReadError
from .arrays import check_chunk_files, npy_header
from .entries import ARRAY_EXTS, Entry, is_url, open_binary
from .families import check_families
from .traps import colour_array
from .volumes import volume_ext
from .zarr_codecs import chain_of


def _stem_ext(path: str) -> tuple[str, str]:
    """``("a_labelIds", ".png")`` for ``".../a_labelIds.png"`` (what splitext gives, faster)."""
    name = path.rpartition("/")[2]
    stem, dot, ext = name.rpartition(".")
    return (stem, dot + ext) if dot and stem else (name, "")


def _kind(path: str, ext: str, store: bool) -> str:
    if store:
        return "zarr"
    low = ext.lower()
    if low in ARRAY_EXTS:
        return "array"
    return "volume" if low in _VOLUME_TAILS and volume_ext(path) else "image"


_VOLUME_TAILS = (".nii", ".gz", ".nrrd", ".nhdr")  # the last suffix of a volume file


def check_single_layout(
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


def perclass_entries(files: list[Path], class_names: Sequence[str] | None) -> list[Entry] | None:
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
