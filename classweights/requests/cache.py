"""`CacheOptions`: how a request uses the cache, validated on construction.

>>> CacheOptions(verify=True).enabled
True
>>> CacheOptions(lock_timeout=-1)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
classweights.errors.ConfigError: lock_timeout=-1 is not valid: expected a number >= 0.0
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ..params import BOOL, PATH, Interval, validate

CACHE_CONSTRAINTS: dict[str, list[Any]] = {
    "folder": [PATH, None],
    "enabled": [BOOL],
    "verify": [BOOL],
    "refresh": [BOOL],
    "lock_timeout": [Interval(float, 0.0, None)],
}


@dataclass(frozen=True, kw_only=True)
class CacheOptions:
    """How the pipeline uses the cache.

    Attributes:
        folder: the cache folder (default ``$CLASSWEIGHTS_CACHE`` or the user cache folder).
        enabled: ``False`` neither reads nor writes the cache (``--no-cache``).
        verify: hash every file's bytes into the key (catches a rewrite that keeps the size
            and restores the times).
        refresh: rescan even on a hit and replace the entry.
        lock_timeout: seconds to wait for another process computing the same entry.
    """

    folder: Any = None
    enabled: bool = True
    verify: bool = False
    refresh: bool = False
    lock_timeout: float = 600.0

    def __post_init__(self) -> None:
        validate(
            "CacheOptions", CACHE_CONSTRAINTS, {f.name: getattr(self, f.name) for f in fields(self)}
        )

    @classmethod
    def off(cls) -> CacheOptions:
        """No cache: every request scans."""
        return cls(enabled=False)
