"""The imbalance summary against hand-computed numbers."""

from __future__ import annotations

import math
import warnings

import numpy as np

from classweights.stats import ClassStats
from classweights.weights import ClassWeightsWarning, compute_weights, diagnose


def test_numbers_hand_computed():
    # 100 images; class 2 only in image 0; class 3 absent
    rows = [[500, 400, 100, 0]] + [[500, 500, 0, 0]] * 99
    s = ClassStats.from_counts(rows, image_ignored=[10] + [0] * 99, class_names=list("abcd"))
    d = diagnose(s)
    pixels = np.array([50000, 49900, 100])
    p = pixels / pixels.sum()
    assert d["max_min_ratio"] == 500.0
    assert math.isclose(d["normalized_entropy"], -(p * np.log(p)).sum() / math.log(4))
    assert d["rare_classes"] == [2]  # 0.1 % of pixels
    assert d["rare_in_images"] == []  # in exactly 1 % of images: not below
    assert d["absent_classes"] == [3]
    assert d["present_classes"] == 3
    assert math.isclose(d["ignored_share"], 10 / (100010))
    assert any("d" in h and "never appear" in h for h in d["hints"])
    assert d["weight_max_min_ratio"] is None


def test_rare_in_images_and_extreme_ratio_hint():
    rows = [[10**6, 1]] + [[10**6, 0]] * 199
    d = diagnose(ClassStats.from_counts(rows))
    assert d["rare_in_images"] == [1]
    assert d["max_min_ratio"] == 2e8
    assert any("gentler" in h for h in d["hints"])
    assert any("sampled scan may miss" in h for h in d["hints"])


def test_balanced_dataset_has_entropy_one_and_no_hints():
    d = diagnose(ClassStats.from_counts([[25, 25, 25, 25]] * 10))
    assert math.isclose(d["normalized_entropy"], 1.0)
    assert d["max_min_ratio"] == 1.0
    assert d["rare_classes"] == []
    assert d["hints"] == []


def test_effective_number_flat_hint():
    s = ClassStats.from_counts([[10**7, 10**8, 3 * 10**6]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassWeightsWarning)
        w = compute_weights(s, "effective_num", beta=0.9999)  # a fixed beta: flat
    d = diagnose(s, w, "effective_num")
    assert any("flat" in h and "count='images'" in h for h in d["hints"])
    d2 = diagnose(
        s, compute_weights(s, "effective_num", count="images"), "effective_num", count="images"
    )
    assert not any("flat" in h for h in d2["hints"])  # all image counts equal: flat is right


def test_clipping_hint():
    s = ClassStats.from_counts([[1000, 500, 10, 5, 1]])
    w = compute_weights(s, "inverse_freq", clip=(0.2, 1.5))
    d = diagnose(s, w, "inverse_freq", clip=(0.2, 1.5))
    # mean-1 inverse weights [0.0038, 0.0077, 0.38, 0.77, 3.84] -> clipped at 0.2 / 1.5
    assert d["clipped_classes"] == [0, 1, 4]
    assert any("clipping is active" in h for h in d["hints"])
    d2 = diagnose(s, compute_weights(s, "inverse_freq", clip=(0.0, 100.0)), clip=(0.0, 100.0))
    assert d2["clipped_classes"] == []
    assert not any("clipping" in h for h in d2["hints"])


def test_empty_and_single_class_are_finite():
    for s in (
        ClassStats.from_counts(np.zeros((0, 3), np.int64)),
        ClassStats.from_counts([[5]]),
        ClassStats.from_counts([[0, 0]], image_ignored=[4]),
    ):
        d = diagnose(s)
        assert math.isfinite(d["max_min_ratio"])
        assert math.isfinite(d["normalized_entropy"])
        assert 0.0 <= d["normalized_entropy"] <= 1.0
