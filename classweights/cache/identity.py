"""Is a cached entry really of this dataset? Where it lives, and a sample of its bytes.

A key hashes the listing (relative names, sizes, and versions: a local file's modification and
change times, a remote file's etag) and the settings, so two datasets agree on all of them only
when they are the same local files reached another way (a moved folder, a bind mount, hard
links) or remote data with equal listings. An entry therefore
remembers the *place* it was made from (absolute root, and the root folder's device, inode and
change time) and a *probe*: the xxhash of a seeded sample of at most :data:`PROBE_FILES` of its
files. A hit from the same place is served at once; a hit from anywhere else is served only
when the same sample of files hashes the same here. When it does not, the dataset gets its own
key (:func:`alt_key`), so both datasets keep their entries.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from ..errors import ClassWeightsError
from ..sources import is_url, open_regular

#: files hashed to confirm a hit from another place: ``min(n, PROBE_FILES)``
PROBE_FILES = 16


def place(root: str) -> list[Any]:
    """``[root, st_dev, st_ino, st_ctime_ns]`` of a local dataset root, ``[root]`` for a URL.

    A folder removed and extracted again at the same path gets a new change time (and usually a
    new inode) even when its files keep their names, sizes and modification times.
    """
    if is_url(root):
        return [root]
    try:
        st = os.stat(root)
    except OSError:
        return [root]
    return [root, st.st_dev, st.st_ino, st.st_ctime_ns]


def same_root(a: list[Any] | None, b: list[Any] | None) -> bool:
    """Same folder (path, device, inode), whatever its change time."""
    return bool(a) and bool(b) and list(a[:3]) == list(b[:3])


def _sample(listing: tuple[tuple[str, int, int | str], ...]) -> list[str]:
    """A seeded sample of the listing's relative paths (the same sample for the same listing)."""
    import numpy as np

    names = sorted(row[0] for row in listing)
    if len(names) <= PROBE_FILES:
        return names
    seed = hashlib.blake2b("\n".join(names).encode(), digest_size=8).digest()
    rng = np.random.default_rng(int.from_bytes(seed, "little"))
    return [names[i] for i in sorted(rng.choice(len(names), PROBE_FILES, replace=False).tolist())]


def probe(root: str, listing: tuple[tuple[str, int, int | str], ...]) -> dict[str, str]:
    """``{relative path: xxh3 of its bytes}`` for a seeded sample of the listed files.

    URLs are not read: the probe of a remote dataset is its root, so another URL never shares
    an entry on the strength of its listing.
    """
    if is_url(root):
        return {".": root}
    return hash_files(root, _sample(listing))


def hash_files(root: str, names: list[str]) -> dict[str, str]:
    """``{name: xxh3_64 hex}`` of files under ``root`` (``"unreadable"`` for one that is not)."""
    import xxhash

    out: dict[str, str] = {}
    for rel in names:
        h = xxhash.xxh3_64()
        try:
            with open_regular(os.path.join(root, rel)) as fh:  # never wait on a FIFO
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
        except (OSError, ClassWeightsError):
            out[rel] = "unreadable"
            continue
        out[rel] = h.hexdigest()
    return out


def alt_key(key: str, sample: dict[str, str]) -> str:
    """The key of a dataset whose listing collides with ``key``'s entry but whose bytes differ."""
    text = key + "\n" + "\n".join(f"{k}\t{v}" for k, v in sorted(sample.items()))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


class Identity:
    """The place and (lazily) the probe of the dataset being looked up."""

    def __init__(
        self,
        root: str,
        listing: tuple[tuple[str, int, int | str], ...],
        where: list[Any] | None = None,
    ):
        self.root, self.listing = root, listing
        self.place = where if where is not None else place(root)
        self._probe: dict[str, str] | None = None

    @classmethod
    def of(cls, fp: Any) -> Identity:
        """The identity of a :class:`~classweights.cache.fingerprint.Fingerprint`."""
        return cls(fp.root, fp.listing, list(fp.place))

    @property
    def probe(self) -> dict[str, str]:
        if self._probe is None:
            self._probe = probe(self.root, self.listing)
        return self._probe

    def confirms(self, stored: dict[str, Any]) -> bool:
        """True if ``stored`` (entry metadata or a weight record's ``dataset``) is of this data.

        Same place: yes at once (no byte read). Elsewhere: only if the stored probe equals the
        probe here (``min(n, 16)`` files hashed).
        """
        where = stored.get("place")
        if where is not None and list(where) == list(self.place):
            return True
        return stored.get("probe") is not None and stored.get("probe") == self.probe
