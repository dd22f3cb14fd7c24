"""Shared helpers of the robustness suite: raw PNG bytes, subprocess runs, exact-count checks."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
KW = {"num_classes": 5}


def mask(h: int = 16, w: int = 24, seed: int = 0, high: int = 5) -> np.ndarray:
    """A small uint8 label mask with every class present."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, high, (h, w)).astype(np.uint8)


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(a: np.ndarray, *, extra_before_idat: bytes = b"", width: int | None = None,
              height: int | None = None) -> bytes:  # fmt: skip
    """A grey 8-bit PNG written by hand (so headers and chunks can be forged)."""
    a = np.ascontiguousarray(a, np.uint8)
    h, w = a.shape
    raw = b"".join(b"\x00" + a[r].tobytes() for r in range(h))
    ihdr = struct.pack(">IIBBBBB", width or w, height or h, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra_before_idat
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))  # fmt: skip


def child(code: str, *, env: dict[str, str] | None = None, prefix: list[str] | None = None):
    """Start ``python -c code`` (optionally under a wrapper such as capsh) with pipes."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    argv = [sys.executable, "-c", textwrap.dedent(code)]
    return subprocess.Popen((prefix or []) + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=full_env, cwd=str(ROOT))  # fmt: skip


def without_dac_override() -> list[str] | None:
    """A command prefix that runs a program without the root capabilities that ignore
    permission bits (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH); [] when not root; None if impossible."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv:
        probe = subprocess.run([setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search",
                                "true"], capture_output=True)  # fmt: skip
        if probe.returncode == 0:
            # drop both capabilities from the bounding set; as uid 0 the effective set is
            # recomputed on exec from the bounding set, so the child cannot bypass the bits
            return [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"]
    capsh = shutil.which("capsh")
    if capsh:
        return [capsh, "--drop=cap_dac_override,cap_dac_read_search", "--", "-c", 'exec "$0" "$@"']
    return None


def pixels_of(masks, num_classes: int) -> list[int]:
    """Independent reference: np.bincount over every mask."""
    total = np.zeros(num_classes, np.int64)
    for m in masks:
        total += np.bincount(np.asarray(m, np.int64).ravel(), minlength=num_classes)[:num_classes]
    return total.tolist()
