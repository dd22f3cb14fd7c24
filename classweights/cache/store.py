"""The cache store: one folder per key, written atomically, read with checks.

Layout of an entry ``<cache dir>/<key>/``::

    stats/<name>.npy   the per-image table and totals, one plain array each (no zarr to import:
                       a cold one-shot command stays fast)
    meta.json          schema, key, lineage, dataset, settings, listing, created, versions,
                       checksum (blake2b of the arrays and the metadata)
    weights/<name>.pth one weight record per method and options (plain dict of tensors)

An entry is built under a temporary name and renamed into place, so a crash or Ctrl-C never
leaves a readable half-written entry. Readers verify schema and checksum; a corrupt or foreign
entry is reported as such so the caller recomputes it. Writers of one key serialise on a file
lock whose owner (pid, host, time) is named when a waiter times out.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..errors import ClassWeightsError
from ..sources import is_url
from ..stats import ClassStats
from .disk import MARKER, has_marker, rmtree_no_follow, write_marker
from .disk import entry_age as entry_age  # re-exported: `cache ls` reads them from here
from .disk import entry_size as entry_size
from .fingerprint import SCHEMA_VERSION, Fingerprint, relative

log = logging.getLogger(__name__)
ARRAYS = ("counts", "image_total", "image_ignored", "image_unknown")
OPTIONAL_ARRAYS = ClassStats.OPTIONAL_ARRAYS  # volumes (spacing, shape) and objects
#: leftovers of a writer or remover killed with SIGKILL (or a power cut) older than this are
#: swept when an entry is written; a live writer renames its folder within seconds
STALE_SECONDS = 3600.0


class CacheCorrupt(ClassWeightsError):
    """A cache entry failed its checks (schema, checksum, unreadable)."""


class EntryRemoved(CacheCorrupt):
    """The entry was removed (e.g. by ``cache clear``) while it was being read: a plain miss."""


class LockTimeout(ClassWeightsError):
    """Another process held a cache lock for longer than the timeout."""


def default_cache_dir() -> Path:
    """``$CLASSWEIGHTS_CACHE``, else the platform's user cache folder."""
    env = os.environ.get("CLASSWEIGHTS_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("classweights"))


def _checksum(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for name in ARRAYS + tuple(k for k in OPTIONAL_ARRAYS if k in arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    h.update(json.dumps(meta, sort_keys=True, default=str).encode())
    return h.hexdigest()


@dataclass
class CacheEntry:
    path: Path
    meta: dict[str, Any]

    @property
    def key(self) -> str:
        return self.meta["key"]

    def weight_path(self, name: str) -> Path:
        return self.path / "weights" / f"{name}.pth"


#: the old name (two classes were named ``Entry``: this one and discovery's); kept for a release
Entry = CacheEntry


class Store:
    """A cache folder of entries keyed by dataset fingerprint."""

    def __init__(self, root: str | os.PathLike[str] | None = None):
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()

    # ---- paths ---------------------------------------------------------------------------
    def entry_dir(self, key: str) -> Path:
        if not key or any(c not in "0123456789abcdef" for c in key):
            raise ClassWeightsError(
                f"{key!r} is not a cache key (hexadecimal, as `cache list` shows)"
            )
        return self.root / key

    def _lineage_file(self, lineage: str) -> Path:
        return self.root / "lineage" / f"{lineage}.json"

    def writable(self) -> bool:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".probe-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
            return True
        except OSError:
            return False

    # ---- locking -------------------------------------------------------------------------
    @contextmanager
    def lock(self, key: str, timeout: float = 600.0) -> Iterator[None]:
        """Hold the writer lock of ``key``; a waiter past ``timeout`` learns who holds it."""
        import filelock

        locks = self.root / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(locks / f"{key}.lock"))
        owner = locks / f"{key}.owner"
        try:
            lock.acquire(timeout=timeout)
        except filelock.Timeout:
            who = owner.read_text() if owner.exists() else "an unknown process"
            raise LockTimeout(
                f"waited {timeout:.0f} s for the cache lock of {key}, held by {who}; if that "
                f"process is gone, delete {locks / (key + '.lock')}"
            ) from None
        try:
            owner.write_text(
                f"pid {os.getpid()} on {socket.gethostname()} since "
                f"{_dt.datetime.now().isoformat(timespec='seconds')}"
            )
            yield
        finally:
            owner.unlink(missing_ok=True)
            lock.release()

    # ---- write ---------------------------------------------------------------------------
    def write(
        self, fp: Fingerprint, stats: ClassStats, extra: dict[str, Any] | None = None
    ) -> CacheEntry:
        """Write the statistics of ``fp`` as a new entry (atomic; an existing entry wins)."""
        from .. import __version__

        final = self.entry_dir(fp.key)
        tmp = self.root / f".tmp-{fp.key}-{uuid.uuid4().hex[:8]}"
        arrays = {name: getattr(stats, name) for name in ARRAYS} | stats.extras()
        stats_meta = stats.to_meta()
        # sources are stored relative to the dataset root, so a copy of the dataset elsewhere
        # (same files, sizes, times: same key) gets its own paths back
        stats_meta["sources"] = [relative(s, fp.root) for s in stats.sources]
        stats_meta["settings"] = {k: v for k, v in stats_meta["settings"].items() if k != "paths"}
        meta = {
            "schema": SCHEMA_VERSION,
            "key": fp.key,
            "lineage": fp.lineage,
            "root": fp.root,
            "dataset": stats.settings.get("paths", []),
            "settings": fp.settings,
            "listing": [list(x) for x in fp.listing],
            "stats": stats_meta,
            "images": stats.num_images,
            "sampled": stats.sampled,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "versions": {
                "classweights": __version__,
                "numpy": np.__version__,
            },
            **(extra or {}),
        }
        meta["checksum"] = _checksum(arrays, meta)
        self.sweep()
        try:
            tmp.mkdir(parents=True)
            write_marker(tmp, fp.key, SCHEMA_VERSION)  # first: what `cache clear` may remove
            (tmp / "stats").mkdir()
            for name, a in arrays.items():
                np.save(tmp / "stats" / f"{name}.npy", np.ascontiguousarray(a), allow_pickle=False)
            (tmp / "weights").mkdir()
            with open(tmp / "meta.json", "w") as fh:
                json.dump(meta, fh)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.rename(tmp, final)
            except OSError:
                if not final.exists():
                    raise
                if not (final / "meta.json").exists():  # a folder without metadata: not an entry
                    self.remove(fp.key)
                    try:
                        os.rename(tmp, final)
                    except OSError:
                        if not (final / "meta.json").exists():
                            raise
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)  # a concurrent writer finished first
            self._lineage_file(fp.lineage).parent.mkdir(exist_ok=True)
            atomic_write(
                self._lineage_file(fp.lineage),
                lambda fh: fh.write(json.dumps({"key": fp.key})),
                mode="w",
            )
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return CacheEntry(final, meta)

    # ---- read ----------------------------------------------------------------------------
    def entry(self, key: str) -> CacheEntry | None:
        """The entry of ``key`` if its metadata is readable and of this schema, else None."""
        path = self.entry_dir(key)
        try:
            meta = json.loads((path / "meta.json").read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            if not path.exists():
                return None  # removed while we read it
            raise CacheCorrupt(f"cache entry {path}: unreadable metadata ({e})") from None
        if (
            not isinstance(meta, dict)
            or meta.get("schema") != SCHEMA_VERSION
            or meta.get("key") != key
        ):
            meta = meta if isinstance(meta, dict) else {}
            raise CacheCorrupt(
                f"cache entry {path}: schema {meta.get('schema')!r} / key {meta.get('key')!r} "
                f"is not this version's ({SCHEMA_VERSION})"
            )
        return CacheEntry(path, meta)

    def read_stats(
        self, entry: CacheEntry, root: str | None = None, paths: list[str] | None = None
    ) -> ClassStats:
        """Load an entry's statistics, verifying the checksum; sources are re-rooted at ``root``."""
        folder = entry.path / "stats"
        try:
            names = ARRAYS + tuple(k for k in OPTIONAL_ARRAYS if (folder / f"{k}.npy").is_file())
            arrays = {name: np.load(folder / f"{name}.npy", allow_pickle=False) for name in names}
        except Exception as e:
            self._gone(entry)
            raise CacheCorrupt(f"cache entry {entry.path}: unreadable statistics ({e})") from None
        meta = {k: v for k, v in entry.meta.items() if k != "checksum"}
        if _checksum(arrays, meta) != entry.meta.get("checksum"):
            self._gone(entry)
            raise CacheCorrupt(f"cache entry {entry.path}: checksum mismatch (edited or damaged)")
        try:
            stats = ClassStats.from_meta(entry.meta["stats"], arrays)
        except Exception as e:  # pragma: no cover - the checksum covers the metadata
            raise CacheCorrupt(f"cache entry {entry.path}: unusable metadata ({e})") from None
        base = root if root is not None else entry.meta.get("root", "")
        where = paths if paths is not None else entry.meta.get("dataset", [])
        return replace(
            stats,
            sources=[_rejoin(base, s) for s in stats.sources],
            settings=stats.settings | {"paths": where},
        )

    @staticmethod
    def _gone(entry: CacheEntry) -> None:
        if not entry.path.exists():
            raise EntryRemoved(f"cache entry {entry.path} was removed while it was read")

    def previous(self, lineage: str) -> CacheEntry | None:
        """The latest entry of the same dataset and settings (for incremental rescans)."""
        try:
            key = json.loads(self._lineage_file(lineage).read_text())["key"]
            return self.entry(key)
        except (OSError, ValueError, KeyError, ClassWeightsError):
            return None

    def remove(self, key: str) -> None:
        """Delete an entry folder (renamed away first so readers never see half of it)."""
        path = self.entry_dir(key)
        if path.is_symlink():
            path.unlink()
            return
        if not path.exists():
            return
        trash = self.root / f".trash-{key}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return  # another process removed it first
        rmtree_no_follow(trash)

    def sweep(self, max_age: float = STALE_SECONDS) -> list[str]:
        """Remove ``.tmp-*`` and ``.trash-*`` folders left by killed processes, older than
        ``max_age`` s: only folders that carry the cache's marker, or that are named and laid
        out as the cache's (killed before the marker was written, or made before it existed).
        Links are unlinked, never followed.

        Returns the names removed.
        """
        removed: list[str] = []
        try:
            children = list(os.scandir(self.root))
        except OSError:
            return removed
        now = time.time()
        for c in children:
            if not c.name.startswith((".tmp-", ".trash-")):
                continue
            try:
                if now - c.stat(follow_symlinks=False).st_mtime < max_age:
                    continue
                if c.is_symlink() or not c.is_dir(follow_symlinks=False):
                    os.unlink(c.path)
                elif has_marker(Path(c.path)) or _leftover_layout(c.name, os.listdir(c.path)):
                    rmtree_no_follow(Path(c.path))
                else:
                    continue  # not a folder the cache made: left alone
                removed.append(c.name)
            except OSError:
                continue  # another process swept it, or it is not ours to remove
        if removed:
            log.info("swept %d stale temporary folder(s) from %s", len(removed), self.root)
        return removed

    def resolve_key(self, prefix: str) -> str:
        """The full key of the one entry whose key starts with ``prefix`` (``cache show ab12``).

        A full key is returned as it is; a prefix of no entry is returned unchanged (a miss for
        :meth:`entry`). Raises ClassWeightsError when several keys start with it.
        """
        self.entry_dir(prefix)  # hexadecimal, or a clear error
        if (self.root / prefix).is_dir() or not self.root.is_dir():
            return prefix
        hits = sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and p.name.startswith(prefix) and p.name not in ("locks", "lineage")
        )
        if len(hits) > 1:
            shown = ", ".join(hits[:4]) + (", ..." if len(hits) > 4 else "")
            raise ClassWeightsError(
                f"{prefix!r} is the start of {len(hits)} cache keys ({shown}); give more of it"
            )
        return hits[0] if hits else prefix

    def entries(self) -> list[CacheEntry]:
        """Every readable entry (corrupt ones are listed with ``meta={"corrupt": reason}``)."""
        out = []
        if not self.root.is_dir():
            return out
        for p in sorted(self.root.iterdir()):
            if p.name.startswith(".") or not p.is_dir() or p.is_symlink():
                continue
            if p.name in ("locks", "lineage"):
                continue
            try:
                e = self.entry(p.name)
            except CacheCorrupt as err:
                e = CacheEntry(p, {"key": p.name, "corrupt": str(err)})
            except ClassWeightsError:
                continue
            if e is not None:
                out.append(e)
        return out


_LEFTOVER = re.compile(r"\.(tmp|trash)-[0-9a-f]+-[0-9a-f]{8}")


def _leftover_layout(name: str, children: list[str]) -> bool:
    """A leftover the cache's writer or remover made: its name pattern, and nothing inside
    but an entry's own files (``stats/``, ``weights/``, ``meta.json``)."""
    own = {"stats", "weights", "meta.json", MARKER}  # a marker cut short by a kill, too
    return bool(_LEFTOVER.fullmatch(name)) and set(children) <= own


def _rejoin(root: str, source: str) -> str:
    if is_url(source) or os.path.isabs(source):
        return source
    return f"{root.rstrip('/')}/{source}" if is_url(root) else os.path.join(root, source)
