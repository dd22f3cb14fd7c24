"""Fixes computed from the data: what to pass when labels fall outside the classes.

The hint names the one setting the values point to, and only that one:

- only 0 and one other value ``v`` in the data (0/255 vessel, lesion, building masks):
  binary masks, ``--binary`` (``v`` -> class 1); never ``--ignore-index 255``, which would drop
  the foreground and give it weight 0 (`binary_fix`);
- 255 present and no ignore index: ``--ignore-index 255`` (the void label of VOC, Cityscapes
  trainIds, ADE20K after reduce-zero-label, COCO-Stuff);
- exactly ``K`` outside ``0..K-1`` with 0 seen as a class (labels run 1..K, e.g. ADE20K's
  1..150 with 0 = "other"): ``--reduce-zero-label``;
- 19 classes and values up to 33 without a remap: Cityscapes labelIds, ``--remap cityscapes``
  (or the ``*_labelTrainIds.png`` files);
- values of 1000 and more: instance ids (count the label masks instead);
- otherwise the number of classes the values need, a remap table, or ``--unknown ignore``;
  a void value the ignore index does not cover (255 or a negative label while another
  ignore index is set, several void values) is named with the setting that covers it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def binary_fix(values: Iterable[int]) -> str | None:
    """The fix for data holding only 0 and one other value ``v`` (``v`` >= 2): binary masks
    stored as 0/``v``; None for anything else (0/1 masks need no fix).

    >>> print(binary_fix([0, 255]))  # doctest: +NORMALIZE_WHITESPACE
    the masks hold only 0 and 255: binary masks (255 = foreground, not void); pass --binary
    (255 -> class 1, two classes: background and foreground)
    >>> binary_fix([0, 1]) is None, binary_fix([0, 3, 255]) is None
    (True, True)
    """
    vals = sorted(set(int(v) for v in values))
    if len(vals) != 2 or vals[0] != 0 or vals[1] < 2:
        return None
    v = vals[1]
    return (
        f"the masks hold only 0 and {v}: binary masks ({v} = foreground, not void); pass "
        f"--binary ({v} -> class 1, two classes: background and foreground)"
    )


def unknown_label_fix(
    values: Iterable[int],
    *,
    num_classes: int,
    ignore_index: int | None,
    remap: Any,
    reduce_zero_label: bool,
    zero_seen: bool,
    seen: Iterable[int] | None = None,
) -> str:
    """The fix to print for labels outside ``0..num_classes-1`` that are not ignored
    (``seen``: the classes that have pixels, when known).

    >>> unknown_label_fix([255], num_classes=21, ignore_index=None, remap=None,
    ...                   reduce_zero_label=False, zero_seen=True)
    'pass --ignore-index 255 (255 is the usual void label)'
    >>> unknown_label_fix([255], num_classes=2, ignore_index=None, remap=None,
    ...                   reduce_zero_label=False, zero_seen=True, seen=[0])  # doctest: +ELLIPSIS
    'the masks hold only 0 and 255: binary masks (255 = foreground, not void); pass --binary ...'
    >>> unknown_label_fix([150], num_classes=150, ignore_index=255, remap=None,
    ...                   reduce_zero_label=False, zero_seen=True)
    'labels run 1..150 with 0 present (ADE20K-style: 0 = other); pass --reduce-zero-label'
    >>> unknown_label_fix([-1], num_classes=3, ignore_index=None, remap=None,
    ...                   reduce_zero_label=False, zero_seen=True)  # doctest: +ELLIPSIS
    'pass --ignore-index -1 (a negative label is usually void), or --remap TABLE ...'
    >>> unknown_label_fix([255], num_classes=19, ignore_index=250, remap=None,
    ...                   reduce_zero_label=False, zero_seen=True)  # doctest: +ELLIPSIS
    'pass --ignore-index 255 (255 is the usual void label; the ignore index is now 250), or ...'
    """
    vals = sorted(set(int(v) for v in values))
    if not vals:
        return "pass --unknown ignore to count them as unknown"
    classes = set(int(c) for c in seen) if seen is not None else None
    if classes is not None and not remap and not reduce_zero_label and len(vals) == 1:
        fix = binary_fix([0, vals[0]]) if classes <= {0} and zero_seen else None
        if fix is not None:  # 0/255 masks: 255 is the foreground, never the ignore index
            return fix
    others = [v for v in vals if v != 255]
    if 255 in vals and ignore_index is None and not others:
        return "pass --ignore-index 255 (255 is the usual void label)"
    if not reduce_zero_label and zero_seen and others == [num_classes]:
        fix = f"labels run 1..{num_classes} with 0 present (ADE20K-style: 0 = other); pass "
        fix += "--reduce-zero-label"
        if 255 in vals and ignore_index is None:
            fix += " --ignore-index 255"
        return fix
    if num_classes == 19 and not remap and others and max(others) <= 33:
        return (
            "these look like Cityscapes labelIds (0..33); pass --remap cityscapes, or count the "
            "*_labelTrainIds.png files (--layout cityscapes picks them), or --unknown ignore"
        )
    if others and min(others) >= 1000 and all(v % 1000 < 1000 for v in others):
        return (
            "values of 1000 and more look like instance ids (class x 1000 + instance, e.g. "
            "Cityscapes *_instanceIds.png): count the label masks instead (--glob), or pass "
            "--remap TABLE, or --unknown ignore"
        )
    void = [v for v in vals if v == 255 or v < 0]  # the usual void labels
    above = [v for v in vals if v >= 0 and v != 255]
    parts = []
    remap = "--remap TABLE to map raw values to classes, or "
    if len(void) == 1 and (void[0] != 255 or ignore_index is not None):
        why = (
            "255 is the usual void label" if void[0] == 255 else "a negative label is usually void"
        )
        now = f"; the ignore index is now {ignore_index}" if ignore_index is not None else ""
        parts.append(f"--ignore-index {void[0]} ({why}{now})")
    elif len(void) == 1:
        parts.append("--ignore-index 255")
    elif void:  # one ignore index cannot cover several void values: map them onto one
        to = f"the ignore index {ignore_index}" if ignore_index is not None else "one value"
        tail = "" if ignore_index is not None else " with --ignore-index set to it"
        parts.append(f"--remap TABLE sending {', '.join(map(str, void))} to {to}{tail}")
        remap = ""
    if above:
        parts.append(f"--num-classes {max(above) + 1} (the largest label is {max(above)})")
    rest = f"{remap}--unknown ignore to count them as unknown"
    return f"pass {' and '.join(parts)}, or {rest}" if parts else f"pass {rest}"
