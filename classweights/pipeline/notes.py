"""Warnings about the data, kept with what they are about and raised again on every hit.

A scan warns about what it read (float masks, an inferred class count, a likely void label,
differing palettes...) and a weight method about what it computed (absent classes, flat
weights). Those are facts of the dataset, so they are stored with the cache entry (and the
weight record) and raised again, once each, whenever the entry is served: the second run is
never cleaner than the first.

>>> import warnings
>>> with collect() as notes:
...     warnings.warn("a fact of the data", UserWarning)
>>> notes
[]
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

#: warning categories that are about the cache, not the data: shown, never stored
_NOT_STORED = ("CacheWarning",)


@contextmanager
def collect(reraise: bool = True) -> Iterator[list[dict[str, str]]]:
    """Record the warnings raised inside; on exit raise them again (so callers see them as
    before; with ``reraise=False`` only those that are not data warnings) and leave the data
    warnings of classweights in the yielded list, each once, as
    ``{"category": "module:Name", "message": text}``."""
    notes: list[dict[str, str]] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield notes
    seen: set[tuple[str, str]] = set()
    for w in caught:
        cat = w.category
        ours = cat.__module__.startswith("classweights") and cat.__name__ not in _NOT_STORED
        name = f"{cat.__module__}:{cat.__qualname__}"
        if ours and (name, str(w.message)) not in seen:
            seen.add((name, str(w.message)))
            notes.append({"category": name, "message": str(w.message)})
        if reraise or not ours:
            warnings.warn_explicit(w.message, cat, w.filename, w.lineno, source=w.source)


def replay(notes: Iterable[dict[str, Any]] | None, seen: set[Any] | None = None) -> None:
    """Raise stored warnings again, once each (unknown categories as ``UserWarning``);
    ``seen``: what this request raised already (updated)."""
    seen = set() if seen is None else seen
    for note in notes or ():
        name, text = str(note.get("category", "")), str(note.get("message", ""))
        if (name, text) in seen or not text:
            continue
        seen.add((name, text))
        warnings.warn(text, _category(name), stacklevel=3)


def merged(*groups: Iterable[dict[str, Any]] | None) -> list[dict[str, str]]:
    """The notes of several groups, each once, in order."""
    out: list[dict[str, str]] = []
    for group in groups:
        for note in group or ():
            item = {"category": str(note.get("category")), "message": str(note.get("message"))}
            if item not in out:
                out.append(item)
    return out


def _category(name: str) -> type[Warning]:
    module, _, attr = name.partition(":")
    if not module.startswith("classweights"):
        return UserWarning
    try:
        cat = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return UserWarning
    return cat if isinstance(cat, type) and issubclass(cat, Warning) else UserWarning
