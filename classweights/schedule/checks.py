"""What a stage's conditions read from the metrics, and how a run of good epochs is described."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ConfigError
from ..loss_config import Stage

Check = tuple[str, float, float]  # (what, value, threshold)


def read_checks(metrics: Mapping[str, Any], stage: Stage) -> list[Check]:
    """``(name, value, threshold)`` of every condition of ``stage`` read from ``metrics``.

    ``metrics`` is ``{"avg_dice": x, "class_dice": {name: x}}`` (``DiceMetric.compute()``) or
    a flat ``{name: x}`` for the classes; values may be 0-d tensors.

    Raises:
        ConfigError: a value a condition needs is missing (named by its key path).
    """
    per_class = metrics.get("class_dice", metrics)
    checks = []
    if stage.global_dice_threshold is not None:
        if "avg_dice" not in metrics:
            raise ConfigError(
                f"{stage.path}.conditions.global_dice_threshold needs metrics['avg_dice']; "
                f"metrics keys: {', '.join(map(str, metrics))}"
            )
        checks.append(("avg_dice", float(metrics["avg_dice"]), stage.global_dice_threshold))
    for name, thr in stage.class_dice_thresholds.items():
        if name not in per_class:
            raise ConfigError(
                f"{stage.path}.conditions.class_dice_thresholds.{name}: the metrics have "
                f"no Dice for class {name!r}; they have: {', '.join(map(str, per_class))}"
                f" (pass class_names to DiceMetric)"
            )
        checks.append((name, float(per_class[name]), thr))
    return checks


def describe(checks: list[Check], class_names: Sequence[str] | None) -> str:
    """``avg_dice 0.861 >= 0.85, Pisiform 0.86 >= 0.85``; many classes with one threshold
    are summarised as ``every class >= 0.75 (lowest Ulna 0.78)``.

    >>> describe([("avg_dice", 0.861, 0.85), ("Pisiform", 0.86, 0.85)], None)
    'avg_dice 0.861 >= 0.85, Pisiform 0.86 >= 0.85'
    """
    glob = [c for c in checks if c[0] == "avg_dice"]
    classes = [c for c in checks if c[0] != "avg_dice"]
    parts = [f"{n} {v:.4g} >= {t:.4g}" for n, v, t in glob]
    if len(classes) >= 4 and len({t for _, _, t in classes}) == 1:
        name, value, thr = min(classes, key=lambda c: c[1])
        every = class_names is not None and len(classes) == len(class_names)
        who = "every class" if every else f"{len(classes)} classes"
        parts.append(f"{who} >= {thr:.4g} (lowest {name} {value:.4g})")
    else:
        parts.extend(f"{n} {v:.4g} >= {t:.4g}" for n, v, t in classes)
    return ", ".join(parts)
