"""Where `ScanSettings` used to live; it moved to :mod:`classweights.requests.settings`.

This module keeps ``from classweights.scan.settings import ScanSettings`` working.
"""

from __future__ import annotations

from ..requests.settings import (
    CONNECTIVITIES,
    ERROR_POLICIES,
    LAYOUT_FIELDS,
    PARALLEL_MODES,
    PROCESSES_REMOVED,
    UNKNOWN_POLICIES,
    ScanSettings,
    check_sample,
    scan_settings,
)

__all__ = [
    "CONNECTIVITIES",
    "ERROR_POLICIES",
    "LAYOUT_FIELDS",
    "PARALLEL_MODES",
    "PROCESSES_REMOVED",
    "UNKNOWN_POLICIES",
    "ScanSettings",
    "check_sample",
    "scan_settings",
]
