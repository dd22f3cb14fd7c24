"""Slow, obvious reference implementations that the tests compare the library against."""

from __future__ import annotations

import numpy as np


def naive_map(value, num_classes, ignore_index=None, remap=None, reduce_zero_label=False):
    """Map one raw label the obvious way: 'ignored', 'unknown' or a class id."""
    v = int(value)
    if reduce_zero_label:
        if v == 0:
            return "ignored"
        if v != ignore_index:
            v -= 1
    if remap is not None and v in remap:
        v = remap[v]
    if ignore_index is not None and v == ignore_index:
        return "ignored"
    if 0 <= v < num_classes:
        return v
    return "unknown"


def naive_counts(masks, num_classes, ignore_index=None, remap=None, reduce_zero_label=False):
    """Per-image rows, ignored, unknown and totals by looping over distinct values of each mask."""
    rows, ignored, unknown, totals = [], [], [], []
    for m in masks:
        m = np.asarray(m)
        row = np.zeros(num_classes, np.int64)
        ig = un = 0
        values, counts = np.unique(m.astype(np.int64), return_counts=True)
        for v, c in zip(values.tolist(), counts.tolist()):
            t = naive_map(v, num_classes, ignore_index, remap, reduce_zero_label)
            if t == "ignored":
                ig += c
            elif t == "unknown":
                un += c
            else:
                row[t] += c
        rows.append(row)
        ignored.append(ig)
        unknown.append(un)
        totals.append(m.size)
    return (
        np.array(rows).reshape(-1, num_classes),
        np.array(ignored),
        np.array(unknown),
        np.array(totals),
    )


def check_stats(stats, masks, num_classes, ignore_index=None, remap=None, reduce_zero_label=False):
    rows, ig, un, tot = naive_counts(masks, num_classes, ignore_index, remap, reduce_zero_label)
    np.testing.assert_array_equal(stats.counts.astype(np.int64), rows)
    np.testing.assert_array_equal(stats.image_ignored, ig)
    np.testing.assert_array_equal(stats.image_unknown, un)
    np.testing.assert_array_equal(stats.image_total, tot)
    # dataset-level quantities, from the naive rows
    np.testing.assert_array_equal(stats.pixels, rows.sum(0))
    np.testing.assert_array_equal(stats.images, (rows > 0).sum(0))
    np.testing.assert_array_equal(
        stats.image_pixels, [tot[rows[:, c] > 0].sum() for c in range(num_classes)]
    )
