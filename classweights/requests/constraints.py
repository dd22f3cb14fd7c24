"""What a scan setting may be: the allowed modes, the limits and the one constraint table
`ScanSettings` validates every given value with (`classweights.params`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..layouts import LAYOUTS
from ..params import BOOL, MAPPING, NAMES, PATH, TEXT, Check, Instance, Interval, Options
from ..sources import PNG_DECODERS

UNKNOWN_POLICIES = ("error", "ignore")
ERROR_POLICIES = ("fail", "skip")
PARALLEL_MODES = ("threads",)  # "processes" was removed: see PROCESSES_REMOVED
CONNECTIVITIES = ("full", "face")
#: the most classes a scan counts (given or inferred): one table row per image is 8 x C bytes
MAX_CLASSES = 1 << 16
INT64 = (-(1 << 63), (1 << 63) - 1)

PROCESSES_REMOVED = (
    "parallel='processes' was removed: threads were 3-7x faster at every worker count "
    "measured (decoders and kernels release the GIL; see benchmarks/README.md); drop the "
    "option, or pass client= (a Dask cluster, e.g. --dask-local N) to use worker processes"
)


def _indices(value: Any) -> bool:
    a = np.asarray(value)
    return a.ndim == 1 and (a.size == 0 or (a.dtype.kind in "iu" and int(a.min()) >= 0))


#: one row per setting: the constraints a given value must satisfy (any one of them)
SCAN_CONSTRAINTS: dict[str, list[Any]] = {
    "num_classes": [Interval(int, 1, MAX_CLASSES), None],
    "ignore_index": [Interval(int, *INT64), None],
    "remap": [PATH, MAPPING, None],
    "reduce_zero_label": [BOOL],
    "classes": [PATH, NAMES, None],
    "palette": [PATH, MAPPING, Instance((list, tuple), "a list of colours"), None],
    "glob": [TEXT, None],
    "multilabel": [BOOL],
    "binary": [BOOL],
    "sample": [Interval(int, 1, None), Interval(float, 0.0, 1.0, "right"), None],
    "seed": [Interval(int, 0, INT64[1])],
    "workers": [Interval(int, 1, None), None],
    "unknown": [Options(UNKNOWN_POLICIES)],
    "on_error": [Options(ERROR_POLICIES)],
    "parallel": [Options(PARALLEL_MODES)],
    "max_pixels": [Interval(int, 1, None)],
    "png_decoder": [Options(PNG_DECODERS)],
    "valid_mask": [TEXT, None],
    "indices": [Check(_indices, "a 1-D sequence of image positions >= 0"), None],
    "objects": [BOOL, Options(CONNECTIVITIES)],
    "layout": [Options(tuple(LAYOUTS)), None],
    "split": [TEXT, None],
    "split_file": [PATH, None],
    "root": [PATH, None],
    "suffix": [TEXT, None],
    "mask_column": [TEXT, None],
}
