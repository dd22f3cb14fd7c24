"""Walking folders: which names a scan takes (`walk_masks`, the one folder walk that discovery
and the cache's quick fingerprint share), and which of them are one mask (`unique_masks`).
Each file's version is `entries.file_version`; every file behind the entries, for the cache
key, is `listing.file_listing`."""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Sequence
from pathlib import Path
from stat import S_ISREG

from ..errors import DatasetError
from .entries import (
    ARRAY_EXTS,
    IMAGE_EXTS,
    STORE_MARKERS,
    file_version,
    local_path,
    special_kind,
)
from .volumes import VOLUME_EXTS

log = logging.getLogger("classweights.sources")

MASK_EXTS = IMAGE_EXTS + ARRAY_EXTS + VOLUME_EXTS


def hidden(name: str) -> bool:
    """A name a folder walk never takes: dot-files and dot-folders (``.git``, macOS's ``._*``
    AppleDouble files, ``.ipynb_checkpoints``) and ``__MACOSX`` (zip archives made on a Mac),
    as Hugging Face ``datasets`` skips them.

    >>> [hidden(n) for n in ("._a.png", ".git", "__MACOSX", "a.png", "_a.png")]
    [True, True, True, False, False]
    """
    return name.startswith(".") or name == "__MACOSX"


def log_hidden(root: Path, n: int) -> None:
    if n:
        log.info(
            "%s: skipped %d hidden file(s)/folder(s) (dot-names, __MACOSX/); name them "
            "in --glob to count them",
            root,
            n,
        )


def walk_masks(
    root: str, links: set[str] | None = None
) -> tuple[list[tuple[str, bool]], dict[str, tuple[int, str]], int]:
    """Mask files and zarr stores under ``root``, with each file's size and `file_version`,
    and how many `hidden` names were passed over.

    One ``scandir`` per folder and one ``stat`` per file (kept for the fingerprint, so a warm
    cache lookup stats each file once). Depth first with every folder's children in name
    order, which is the order ``sorted()`` gives the full paths' parts. Symlinked folders are
    not entered (no loops); a symlinked file is taken (added to ``links`` when given: the
    folder listing says so, no extra call), and a broken one is kept so that reading it names
    it.
    """
    items: list[tuple[str, bool]] = []
    stats: dict[str, tuple[int, str]] = {}
    skipped = 0

    def visit(folder: str) -> None:
        try:
            with os.scandir(folder) as it:
                children = sorted(it, key=lambda c: c.name)
        except OSError as e:
            raise DatasetError(f"{folder}: cannot list the folder ({e.strerror or e})") from None
        if folder != root and any(c.name in STORE_MARKERS for c in children):
            items.append((folder, True))
            return
        nonlocal skipped
        for c in children:  # the warm cache path: one stat per file, nothing else per file
            name = c.name
            if name[0] == "." or name == "__MACOSX":  # `hidden`, inline
                skipped += 1
            elif c.is_dir(follow_symlinks=False):
                visit(c.path)
            elif name.lower().endswith(MASK_EXTS):
                path = c.path
                items.append((path, False))
                if links is not None and c.is_symlink():
                    links.add(path)
                try:
                    st = c.stat()
                except OSError:
                    continue  # a broken link: reading it will name it
                if not S_ISREG(st.st_mode):  # reading a FIFO would wait forever
                    raise DatasetError(
                        f"{path}: is {special_kind(st.st_mode)}, not a regular file; remove "
                        "it from the dataset folder, or pass --glob to choose the mask files"
                    )
                stats[path] = (st.st_size, file_version(st))

    visit(root)
    return items, stats, skipped


def unique_masks(
    items: Sequence[tuple[str, str | None]], links: Collection[str] = ()
) -> tuple[list[int], list[str]]:
    """Which of ``(path, key)`` items are distinct masks: ``(indices kept, paths dropped)``.

    One mask is one folder entry, ``(resolved parent folder, name)``, so ``sub/../a.png``, an
    absolute and a relative spelling, or a folder reached through a symlinked parent are one
    mask; so is a symlink (``links``: the items that are symlinks) whose target, or a link on
    the way to it, is itself listed. Distinct entries sharing bytes (hard links, symlinks into a
    content-addressed store whose target is not listed) stay distinct masks. Each distinct
    parent folder is resolved once; only symlinks are followed. The first item of a mask is kept.

    >>> import os, tempfile
    >>> d = tempfile.mkdtemp(); a = os.path.join(d, "a.png"); _ = open(a, "wb").close()
    >>> kept, dropped = unique_masks([(a, None), (os.path.join(d, ".", "a.png"), None)])
    >>> kept, len(dropped)
    ([0], 1)
    """
    folders: dict[str, str] = {}

    sep = os.sep

    def entry(path: str, key: str | None) -> tuple[str, ...]:
        if "://" in path:
            local = local_path(path)
            if local is None:
                return (path, key or "")
            path = local
        folder, _, name = path.rpartition(sep)
        if not folder and path.startswith(sep):
            folder = sep
        real = folders.get(folder)
        if real is None:
            real = folders[folder] = os.path.realpath(folder or ".")
        return (real, name, key or "")

    own = [entry(p, k) for p, k in items]
    listed = set(own)
    kept: list[int] = []
    dropped: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for i, (path, key) in enumerate(items):
        mask = own[i]
        if path in links:  # follow the link hop by hop: the last listed hop is the mask
            hop, hops = path, {mask}
            for _ in range(40):
                try:
                    hop = os.path.join(os.path.dirname(hop), os.readlink(hop))
                except OSError:
                    break
                step = entry(hop, key)
                if step in hops:
                    break  # a loop: reading it names it
                hops.add(step)
                mask = step if step in listed else mask
        if mask in seen:
            dropped.append(path)
        else:
            seen.add(mask)
            kept.append(i)
    return kept, dropped
