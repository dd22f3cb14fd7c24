"""What the store tells about a lookup (`CacheInfo`, `CacheWarning`), a dataset's listing and
whether it changed while it was read. The cached scan itself is the pipeline's
(:mod:`classweights.pipeline`): the store never scans.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..requests import ScanSettings, is_path_source
from ..sources import Entry as SourceEntry
from ..sources import discover
from .fingerprint import Fingerprint, fingerprint


class CacheWarning(UserWarning):
    """The cache could not be used as asked (read-only folder, corrupt entry recomputed...)."""


@dataclass
class CacheInfo:
    key: str | None
    path: str | None
    hit: bool
    incremental: dict[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "path": self.path,
            "hit": self.hit,
            "incremental": self.incremental,
        }


@dataclass(frozen=True)
class Listing:
    """A path dataset as discovered once: its paths, entries and fingerprint."""

    paths: list[str]
    entries: list[SourceEntry]
    fingerprint: Fingerprint

    @classmethod
    def of(cls, paths: list[str], settings: ScanSettings, verify: bool) -> Listing:
        """Discover ``paths`` and fingerprint them under ``settings``."""
        entries = discover_entries(paths, settings)
        return cls(paths, entries, fingerprint(paths, entries, settings.key(), verify))


def discover_entries(paths: list[str], settings: ScanSettings) -> list[SourceEntry]:
    """The dataset's entries, as :func:`classweights.scan` discovers them."""
    return discover(
        paths, glob=settings.glob, multilabel=settings.multilabel, class_names=settings.names
    )


def source_paths(source: Any) -> list[str] | None:
    """``source`` as a list of paths, or None for in-memory sources (never cached)."""
    if not is_path_source(source):
        return None
    return (
        [os.fspath(source)]
        if isinstance(source, (str, os.PathLike))
        else [os.fspath(s) for s in source]
    )


def changed_since(fp: Fingerprint, entries: list[Any], listed: Any) -> bool:
    """True if a file's size or version differs from the fingerprint's (a dataset edited during
    the scan must not be cached under the key of its old state). Local files are stat-ed again;
    a remote dataset is listed again (``listed``: one listing, as when it was fingerprinted).
    With ``verify`` the sizes and times seen just before the bytes were hashed are compared,
    so the rule is the same in every mode (without hashing every file twice)."""
    from ..sources import is_url
    from .fingerprint import listing as listing_rows

    if any(is_url(e.path) for e in entries):
        fresh = [tuple(row) for row in listing_rows(listed(), fp.root)]
    else:
        fresh = _restat(fp, entries)
    return fresh != list(fp.stamps if fp.stamps is not None else fp.listing)


def _restat(fp: Fingerprint, entries: list[Any]) -> list[tuple[str, int, int | str]]:
    from .fingerprint import listing as listing_rows

    bare = [SourceEntry(e.kind, e.path, e.n, e.key, e.files) for e in entries]  # drop cached stats
    return [tuple(row) for row in listing_rows(bare, fp.root)]
