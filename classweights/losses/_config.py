"""The front door of :func:`~classweights.losses.build_loss`: a config read into a plain dict,
and the class weights every loss (and every stage) of it gets, resolved once.

Class weights come from the call (``weight=``, ``pos_weight=``: a tensor, array, list, a weight
record or the path of a weight file), from the config's top-level
``class_weights: {dataset: PATH, method: ..., num_classes: ...}`` (the arguments of
:func:`classweights.load_weights`), or, for the focal + Dice keys of older training scripts,
from ``use_class_weights: true`` with ``build_loss(..., dataset=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from ..loss_config import DATASET_KEY, dataset_spec, read_config
from ._weights import as_weight_tensor
from .constants import ARGUMENT_OF_METHOD

#: Keys of the focal + Dice training-script config and what each becomes.
LEGACY_KEYS = frozenset(
    {"use_focal", "focal_alpha", "focal_gamma", "focal_weight", "use_class_weights"}
)


def load_loss_config(config: Any) -> dict[str, Any]:
    """A loss config as a plain dict: ``{loss: {...}}`` unwrapped, a name alone accepted."""
    content, _ = read_config(config, "loss config")
    if isinstance(content, str):
        content = {"name": content}
    if not isinstance(content, dict):
        raise ConfigError(
            f"a loss config must be a mapping like {{'name': 'DiceLoss', ...}}, got {content!r}"
        )
    if set(content) == {"loss"} and isinstance(content["loss"], dict):
        content = dict(content["loss"])
    switch = content.get("loss_switch", {})
    if switch is not None and not isinstance(switch, Mapping):
        raise ConfigError(
            f"loss_switch must be a mapping with loss_stages (see LossStageScheduler), "
            f"got {switch!r}"
        )
    if "loss_switch" in content and switch is None:
        del content["loss_switch"]
    return content


def class_weight_arguments(
    config: dict[str, Any], *, weight: Any = None, pos_weight: Any = None
) -> dict[str, Any]:
    """The class-weight arguments every loss built from ``config`` gets, each read once.

    Pops the top-level ``class_weights: {dataset: ...}`` mapping from ``config`` and reads the
    weight record of that dataset through the pipeline (``ignore_index`` defaults to the
    loss's); ``method: pos_weight`` fills ``pos_weight``, ``focal_alpha`` ``alpha``, and every
    loss that does not set ``ignore_index`` itself takes the record's.

    Raises:
        ConfigError: the same argument given both by the call and by the config.
    """
    out: dict[str, Any] = {}
    spec = dataset_spec(config)
    if spec is not None:
        del config[DATASET_KEY]
        argument = ARGUMENT_OF_METHOD.get(str(spec.get("method")), "weight")
        given = {"weight": weight, "pos_weight": pos_weight}.get(argument)
        if given is not None:
            raise ConfigError(
                f"{argument} given twice: by the call and by the config's "
                f"{DATASET_KEY}: {{dataset: {spec['dataset']}}}; keep one"
            )
        options = {k: v for k, v in spec.items() if k != "dataset"}
        ignore = _ignore_index(config)
        if ignore is not None:
            options.setdefault("ignore_index", ignore)
        record = dataset_record(spec["dataset"], options)
        out[argument] = record.tensor()
        if record.ignore_index is not None:
            out["ignore_index"] = record.ignore_index
    if weight is not None:
        out["weight"] = as_weight_tensor(weight, name="weight")
    if pos_weight is not None:
        out["pos_weight"] = pos_weight_argument(pos_weight)
    return out


def pos_weight_argument(pos_weight: Any) -> Any:
    """``pos_weight`` read once: multi-label statistics stay (the loss reads them), anything
    else becomes a ``(C,)`` tensor (``(C, 1, 1)`` included)."""
    if hasattr(pos_weight, "negatives") and hasattr(pos_weight, "multilabel"):
        return pos_weight
    return as_weight_tensor(pos_weight, name="pos_weight")


def _ignore_index(config: Mapping[str, Any]) -> int | None:
    params = config.get("loss_parameter") or config.get("params") or {}
    for where in (params, config):
        value = where.get("ignore_index") if isinstance(where, Mapping) else None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def dataset_record(dataset: Any, options: Mapping[str, Any] | None) -> Any:
    """The weight record of ``dataset`` (from the cache), through the pipeline."""
    from ..pipeline import record_for  # training code reaches datasets through the pipeline

    return record_for(dataset, **dict(options or {}))


def legacy(config: Mapping[str, Any]) -> tuple[str, dict[str, Any], bool]:
    """``(name, params, use_class_weights)`` of a ``use_focal: ...`` config.

    ``use_focal: true`` -> FocalDiceLoss (``focal_alpha`` -> ``alpha``, ``focal_gamma`` ->
    ``gamma``, ``focal_weight``, ``dice_weight``); ``false`` -> CombinedLoss (CE + Dice,
    ``ce_weight``, ``dice_weight``; the ``focal_*`` keys are then unused). Other keys are
    the loss's own arguments.
    """
    params = dict(config)
    use_focal = params.pop("use_focal", True)
    use_weights = params.pop("use_class_weights", False)
    for key, value in (("use_focal", use_focal), ("use_class_weights", use_weights)):
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
    renames = {"focal_alpha": "alpha", "focal_gamma": "gamma"}
    if use_focal:
        for old, new in renames.items():
            if old in params:
                if new in params:
                    raise ConfigError(f"{old} and {new} are the same argument; give one")
                params[new] = params.pop(old)
        return "FocalDiceLoss", params, use_weights
    for key in (*renames, "focal_weight"):
        params.pop(key, None)
    return "CombinedLoss", params, use_weights


def legacy_dataset_record(dataset: Any, options: Mapping[str, Any] | None, params: Mapping) -> Any:
    """The weight record of ``dataset`` (from the cache), for ``use_class_weights: true``."""
    if dataset is None:
        raise ConfigError(
            "use_class_weights: true needs the dataset whose class weights to use, and no "
            "dataset was given; call build_loss(config, dataset='path/to/masks', "
            "dataset_options={'num_classes': C}) or pass weight=..."
        )
    kwargs = dict(options or {})
    ignore = params.get("ignore_index")
    if isinstance(ignore, int) and not isinstance(ignore, bool) and ignore >= 0:
        kwargs.setdefault("ignore_index", ignore)
    return dataset_record(dataset, kwargs)
