"""One pos_weight: load_weights, BCEWithLogitsLoss(pos_weight=stats) and build_loss agree.

Issue 16 item 8: the two implementations gave [1, 0, 1] and [1, 1, 0] for the counts
[[10, 0, 20]] over 20 pixels. The rule (README, ``weights.pos_weight`` docstring):
negatives / positives; a channel with no negatives gets 1; a channel with no positives
gets 1 too (plain BCE, neither silenced nor boosted).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import classweights as cw
from classweights.losses import BCEWithLogitsLoss, build_loss
from classweights.weights import ClassWeightsWarning


def _stack(positives, hw=(4, 5)):
    """A 1 x C x H x W 0/1 stack with the given number of positives per channel."""
    n = hw[0] * hw[1]
    flat = np.zeros((len(positives), n), dtype=np.uint8)
    for c, p in enumerate(positives):
        flat[c, :p] = 1
    return flat.reshape(1, len(positives), *hw)


@pytest.mark.parametrize(
    ("positives", "expected"),
    [
        ([10, 0, 20], [1.0, 1.0, 1.0]),  # the case: 10/10, no positives, no negatives
        ([5, 0, 20, 1], [3.0, 1.0, 1.0, 19.0]),  # 15/5, absent, full, 19/1
    ],
)
def test_every_pos_weight_path_gives_the_hand_computed_vector(tmp_path, positives, expected):
    np.save(tmp_path / "ml.npy", _stack(positives))
    c = len(positives)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassWeightsWarning)
        stats = cw.scan(tmp_path / "ml.npy", num_classes=c, multilabel=True)
        assert stats.pixels.tolist() == positives  # the scan itself is exact
        loaded = cw.load_weights(
            tmp_path / "ml.npy",
            method="pos_weight",
            num_classes=c,
            multilabel=True,
            cache_dir=tmp_path / "cache",
        )
        bce = BCEWithLogitsLoss(pos_weight=stats).pos_weight
        built = build_loss({"name": "BCEWithLogitsLoss"}, stats=stats).pos_weight
        mixed = build_loss(
            {"loss_name": "Mixed", "loss_parameter": {"losses": ["BCEWithLogitsLoss", "Dice"]}},
            stats=stats,
        ).losses[0].pos_weight
    for got in (loaded, bce, built, mixed):
        assert got.tolist() == pytest.approx(expected)


def test_degenerate_channels_are_named_in_a_warning():
    stats = cw.ClassStats.from_counts([[10, 0, 20]], image_total=[20], multilabel=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        BCEWithLogitsLoss(pos_weight=stats)
    messages = [str(w.message) for w in caught if issubclass(w.category, ClassWeightsWarning)]
    assert any("no positives for classes 1" in m for m in messages)
    assert any("classes 2 are positive at every labelled pixel" in m for m in messages)


def test_absent_zero_is_still_available_on_request():
    stats = cw.ClassStats.from_counts([[10, 0, 20]], image_total=[20], multilabel=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassWeightsWarning)
        w = cw.weights.pos_weight(stats, absent="zero")
    assert w.tolist() == [1.0, 0.0, 1.0]
