"""Weight files: `WeightRecord`, the one result and the one reader.

A weight record carries the weights with everything that explains them: the method and every
option, ``ignore_index``, the class names, the counts they came from, the dataset's fingerprint,
the scan settings, the tool version and a checksum. ``classweights compute -o w.pth`` writes one
(``torch.save`` of a plain dict of tensors, numbers, strings, lists and dicts, so
``torch.load(path, weights_only=True)`` reads it and nothing is ever unpickled);
:meth:`WeightRecord.load` reads it back for every consumer: the losses, ``show``, ``explain``,
``match`` and the cache.

What :meth:`WeightRecord.load` accepts, by suffix:

- ``.pth``/``.pt`` (and anything else): a record dict must carry a valid ``checksum`` (blake2b of
  every other field, tensors by dtype, shape and bytes), so a flipped byte or a deleted checksum
  is refused; a file holding one bare tensor (``torch.save(w, "w.pth")``) is a plain export;
- ``.npy`` (never unpickled), ``.json``/``.yaml`` (the mapping ``compute -o`` writes, or a plain
  list), read as bounded settings files: they carry no checksum, so their weights are checked to
  be a non-empty 1-D vector of finite numbers.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..atomic import atomic_write
from ..errors import RecordError
from .fields import plain, record_checksum, stats_counts
from .files import WEIGHT_SUFFIXES, read_pth, read_weight_file

if TYPE_CHECKING:
    from ..stats import ClassStats

RECORD_SCHEMA = 2  # 2: a checksum over the whole record


# ---- the record ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class WeightRecord:
    """Weights with what explains them; ``WeightRecord.load(path)`` reads any weight file.

    Attributes:
        weights: ``(C,)`` float64.
        method: the weight method (``"?"`` for an export that does not say).
        options: the method's options as it was computed.
        ignore_index: the label value the counts ignored (losses built from the record take
            it), or None.
        class_names: one name per weight, or None.
        num_classes: ``C`` as scanned.
        counts: the dataset-level counts the weights came from (``stats_counts``).
        settings: the scan settings.
        dataset: paths, fingerprint, sampled/sample, and the cache's place and probe.
        checksum: the record's blake2b (None for exports that carry none).
        source: the file it was read from (not part of the record).

    >>> import numpy as np
    >>> from classweights.stats import ClassStats
    >>> s = ClassStats.from_counts([[750, 250]], ignore_index=255)
    >>> r = WeightRecord.build(s, np.array([0.5, 1.5]), "sqrt_inv_freq", {"normalize": "mean"})
    >>> r.ignore_index, r.verify() is r
    (255, True)
    """

    weights: NDArray[np.float64]
    method: str = "?"
    options: dict[str, Any] = field(default_factory=dict)
    ignore_index: int | None = None
    class_names: list[str] | None = None
    num_classes: int | None = None
    counts: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    dataset: dict[str, Any] = field(default_factory=dict)
    version: str | None = None
    created: str | None = None
    schema: int = RECORD_SCHEMA
    checksum: str | None = None
    source: str | None = field(default=None, compare=False)

    # ---- making ------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        stats: ClassStats,
        weights: Any,
        method: str,
        options: Mapping[str, Any],
        *,
        fingerprint: str | None = None,
    ) -> WeightRecord:
        """The sealed record of ``weights`` computed by ``method`` from ``stats``."""
        from .. import __version__

        return cls(
            weights=np.asarray(weights, dtype=np.float64).reshape(-1),
            method=method,
            options=plain(dict(options)),
            ignore_index=stats.ignore_index,
            class_names=list(stats.class_names) if stats.class_names else None,
            num_classes=stats.num_classes,
            counts=stats_counts(stats),
            settings=plain(stats.settings),
            dataset={
                "paths": list(stats.settings.get("paths", [])),
                "fingerprint": fingerprint,
                "sampled": stats.sampled,
                "sample": plain(stats.sample),
            },
            version=__version__,
            created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        ).sealed()

    def sealed(self) -> WeightRecord:
        """The record with its checksum set (call after changing a field)."""
        return replace(self, checksum=record_checksum(self.to_dict(checksum=False)))

    def with_dataset(self, **fields: Any) -> WeightRecord:
        """The record with ``dataset`` fields added (the cache's place and probe), sealed."""
        return replace(self, dataset={**self.dataset, **fields}).sealed()

    # ---- reading -----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str], what: str = "weight") -> WeightRecord:
        """Read any weight file (see the module docstring); a damaged or unverifiable record
        is a :class:`~classweights.errors.RecordError` naming the file and the fix."""
        path = Path(path)
        if path.suffix.lower() in (".npy", ".json", ".yaml", ".yml"):
            return cls._from_export(read_weight_file(path, what), path)
        obj = read_pth(path, what)
        if set(obj) == {"weights"}:  # a bare tensor: an export without a record
            return cls._from_export(obj, path)
        return cls.from_dict(obj, source=str(path))

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any], *, source: str | None = None) -> WeightRecord:
        """A record from the dict a ``.pth`` holds, its checksum verified."""
        where = source or "the weight record"
        w = obj.get("weights")
        if not (hasattr(w, "detach") and hasattr(w, "dtype")):
            raise RecordError(f"{where}: holds no 'weights' tensor")
        if "checksum" not in obj:
            raise RecordError(
                f"{where}: a weight record without its checksum (edited, or not written by "
                "classweights); recompute it with `classweights compute -o FILE.pth`, or pass "
                "the weights themselves (a tensor, a list, or a .npy file)"
            )
        if obj["checksum"] != record_checksum(obj):
            raise RecordError(
                f"{where}: checksum mismatch (the weight file was edited or damaged); "
                "recompute it (or delete the file)"
            )
        arrays = {k: _numpy(v) for k, v in (obj.get("counts") or {}).items()}
        record = cls(
            weights=_vector(_numpy(w), where),
            method=str(obj.get("method", "?")),
            options=dict(obj.get("options") or {}),
            ignore_index=obj.get("ignore_index"),
            class_names=obj.get("class_names"),
            num_classes=obj.get("num_classes"),
            counts=arrays or None,
            settings=obj.get("settings"),
            dataset=dict(obj.get("dataset") or {}),
            version=obj.get("version"),
            created=obj.get("created"),
            schema=int(obj.get("schema", RECORD_SCHEMA)),
            checksum=obj["checksum"],
            source=source,
        )
        return record

    @classmethod
    def _from_export(cls, data: Mapping[str, Any], path: Path) -> WeightRecord:
        w = _vector(data["weights"], str(path))
        names = data.get("class_names")
        ok = (
            isinstance(names, list)
            and len(names) == w.size
            and all(isinstance(n, str) for n in names)
        )
        options = data.get("options")
        ignore = data.get("ignore_index")
        return cls(
            weights=w,
            method=str(data["method"]) if data.get("method") is not None else "?",
            options=options if isinstance(options, dict) else {},
            ignore_index=ignore
            if isinstance(ignore, int) and not isinstance(ignore, bool)
            else None,
            class_names=names if ok else None,
            num_classes=w.size,
            dataset=dict(data["dataset"]) if isinstance(data.get("dataset"), dict) else {},
            source=str(path),
        )

    def verify(self) -> WeightRecord:
        """``self`` if its checksum matches its fields (raises otherwise)."""
        if self.checksum is not None and self.checksum != record_checksum(self.to_dict(False)):
            raise RecordError(f"{self.source or 'the weight record'}: checksum mismatch")
        return self

    # ---- writing and using -------------------------------------------------------------------
    def to_dict(self, checksum: bool = True) -> dict[str, Any]:
        """The plain dict a ``.pth`` holds (tensors for arrays; needs torch)."""
        import torch

        def tensor(a: Any) -> Any:
            return torch.as_tensor(np.asarray(a))

        counts = None
        if self.counts is not None:
            counts = {
                k: tensor(v) if isinstance(v, np.ndarray) else v for k, v in self.counts.items()
            }
        out = {
            "schema": self.schema,
            "weights": torch.as_tensor(np.asarray(self.weights, dtype=np.float64)),
            "method": self.method,
            "options": self.options,
            "num_classes": self.num_classes,
            "ignore_index": self.ignore_index,
            "class_names": self.class_names,
            "counts": counts,
            "settings": self.settings,
            "dataset": self.dataset,
            "version": self.version,
            "created": self.created,
        }
        if checksum:
            out["checksum"] = self.checksum
        return out

    def as_dict(self) -> dict[str, Any]:
        """The record as plain data (numpy arrays; no torch): what ``explain`` and ``show``
        read."""
        return {
            "schema": self.schema,
            "weights": self.weights,
            "method": self.method,
            "options": self.options,
            "num_classes": self.num_classes,
            "ignore_index": self.ignore_index,
            "class_names": self.class_names,
            "counts": self.counts,
            "settings": self.settings,
            "dataset": self.dataset,
            "version": self.version,
            "created": self.created,
            "checksum": self.checksum,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the record atomically (temporary name in the same folder, then rename)."""
        import torch

        record = self.to_dict()
        return atomic_write(path, lambda fh: torch.save(record, fh))

    def tensor(self, *, device: Any = None, dtype: Any = None, spatial_dims: int = 0) -> Any:
        """The weights as a ``(C,) + (1,) * spatial_dims`` tensor (default float32)."""
        import torch

        t = torch.as_tensor(self.weights).reshape((-1,) + (1,) * spatial_dims)
        return t.to(device=device, dtype=dtype or torch.float32)


def _numpy(v: Any) -> Any:
    return v.detach().cpu().numpy() if hasattr(v, "detach") else v


def _vector(w: Any, where: str) -> NDArray[np.float64]:
    try:
        a = np.asarray(w, dtype=np.float64)
    except (TypeError, ValueError):
        a = None
    if a is None or a.ndim != 1 or not a.size or not np.isfinite(a).all():
        raise RecordError(
            f"{where}: 'weights' is not a list of finite numbers (one per class); re-export it "
            "with `classweights compute -o`"
        )
    return a


__all__ = [
    "RECORD_SCHEMA",
    "WEIGHT_SUFFIXES",
    "WeightRecord",
    "plain",
    "read_pth",
    "read_weight_file",
    "record_checksum",
    "stats_counts",
]
