"""Reusable decode buffers: a scan decodes every mask into the same memory.

A 2-MP mask decoded into a fresh array costs a page fault per 4 KiB wherever the allocator
hands large blocks back to the system after each image: with ``MALLOC_TRIM_THRESHOLD_`` set, as
every Dask worker has it (the nanny sets 64 KiB), that was ~0.9 ms of CPU per Cityscapes mask,
a quarter of the whole per-image cost (``benchmarks/bench_distributed.py``). A `Scratch` keeps
one buffer per thread of a run; the array it lends is valid only until the next mask is read
in that thread, so only the counting path, which is done with a mask before it reads the next,
asks for one.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

#: Masks larger than this are decoded into a fresh array: the buffer outlives the mask, and a
#: rare huge mask should not pin its memory for the rest of a run.
SCRATCH_LIMIT = 64 << 20


class Scratch:
    """One reusable output buffer, for one thread at a time.

    >>> s = Scratch()
    >>> a = s.array((2, 3), np.uint16)
    >>> b = s.array((3, 2), np.uint8)
    >>> a.shape, b.shape, np.shares_memory(a, b)
    ((2, 3), (3, 2), True)
    >>> s.array((1 << 20, 128), np.uint8) is None  # above SCRATCH_LIMIT
    True
    """

    def __init__(self) -> None:
        self._buf = np.empty(0, np.uint8)

    def bytes(self, n: int) -> NDArray[np.uint8] | None:
        """``array((n,), np.uint8)``, with less to do (the fused PNG path asks once a mask)."""
        if n > SCRATCH_LIMIT:
            return None
        if self._buf.nbytes < n:
            self._buf = np.empty(n, np.uint8)
        return self._buf[:n]

    def array(self, shape: tuple[int, ...], dtype: DTypeLike) -> NDArray[Any] | None:
        """An uninitialised array of this shape and dtype in the buffer, or None if too large."""
        dt = np.dtype(dtype)
        n = math.prod(shape) * dt.itemsize
        if n > SCRATCH_LIMIT:
            return None
        if self._buf.nbytes < n:
            self._buf = np.empty(n, np.uint8)
        return self._buf[:n].view(dt).reshape(shape)


class ThreadScratch:
    """A `Scratch` per thread for the length of one run (freed with this object).

    >>> per = ThreadScratch()
    >>> per.get() is per.get()
    True
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self) -> Scratch:
        s: Scratch | None = getattr(self._local, "scratch", None)
        if s is None:
            s = self._local.scratch = Scratch()
        return s
