"""One question, one answer: every front door gives the same numbers for the same request.

The doors: ``classweights.scan``, ``cached_scan``, ``load_weights``, the CLI (``stats`` /
``compute --format json``), ``Loss.from_cache``, ``build_loss(dataset=...)`` and
``calculate_class_weights``. Each is compared with an independent reference computed here with
NumPy from the masks themselves (issue 29: ``compute --absent zero`` gave ``[7, 1]`` where
``load_weights(absent="zero")`` gave ``[7, 0]``; ``from_cache`` with a layout kept
``ignore_index=-100`` though the weights ignored 255).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

import classweights as cw
from classweights.synthetic import street_scene

torch = pytest.importorskip("torch")

NUM_CLASSES = 19


def _cli(*args: str, cache: os.PathLike) -> dict:
    env = dict(os.environ, CLASSWEIGHTS_CACHE=str(cache))
    out = subprocess.run(
        [sys.executable, "-m", "classweights.cli", *args, "--format", "json", "-q"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    """Eight street scenes (trainIds 0..18, void 255) in one folder, and their raw arrays."""
    root = tmp_path_factory.mktemp("flat")
    rng = np.random.default_rng(7)
    masks = [street_scene(40, 72, rng) for _ in range(8)]
    for i, m in enumerate(masks):
        Image.fromarray(m).save(root / f"m{i:02d}.png")
    return root, masks


@pytest.fixture(scope="module")
def cityscapes(tmp_path_factory):
    """A converted Cityscapes tree: gtFine/{train,val}/<city>/*_gtFine_labelTrainIds.png."""
    root = tmp_path_factory.mktemp("cs")
    rng = np.random.default_rng(11)
    train = []
    for split, n in (("train", 6), ("val", 2)):
        for i in range(n):
            city = ("aachen", "bremen")[i % 2]
            folder = root / "gtFine" / split / city
            folder.mkdir(parents=True, exist_ok=True)
            m = street_scene(32, 64, rng)
            Image.fromarray(m).save(folder / f"{city}_{i:06d}_000019_gtFine_labelTrainIds.png")
            if split == "train":
                train.append(m)
    return root, train


def _reference_pixels(masks, ignore=255):
    flat = np.concatenate([m.ravel() for m in masks])
    flat = flat[flat != ignore]
    return np.bincount(flat, minlength=NUM_CLASSES)


def _sqrt_inv_freq(pixels):
    """sqrt_inv_freq by hand: 1/sqrt(share) over present classes, mean 1 over them, 0 absent."""
    present = pixels > 0
    w = np.zeros(len(pixels))
    w[present] = 1 / np.sqrt(pixels[present] / pixels.sum())
    return w / w[present].mean()


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def test_statistics_doors_agree_with_bincount(flat, cache):
    from classweights import cached_scan

    root, masks = flat
    expected = _reference_pixels(masks)
    kw = {"num_classes": NUM_CLASSES, "ignore_index": 255}
    scanned = cw.scan(root, **kw)
    cached, _ = cached_scan(root, cache_dir=cache, **kw)
    cli = _cli("stats", str(root), "--num-classes", "19", "--ignore-index", "255", cache=cache)
    assert scanned.pixels.tolist() == expected.tolist()
    assert cached.pixels.tolist() == expected.tolist()
    assert [c["pixels"] for c in cli["classes"]] == expected.tolist()
    assert scanned.ignored_pixels == cli["dataset"]["ignored_pixels"] == sum(
        int((m == 255).sum()) for m in masks
    )


def test_weight_doors_agree_with_the_formula(flat, cache):
    from classweights.losses import CrossEntropyLoss, build_loss

    root, masks = flat
    expected = _sqrt_inv_freq(_reference_pixels(masks))
    kw = {"num_classes": NUM_CLASSES, "ignore_index": 255}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = cw.load_weights(root, method="sqrt_inv_freq", cache_dir=cache, **kw)
        loss = CrossEntropyLoss.from_cache(root, "sqrt_inv_freq", cache_dir=cache, **kw)
        built = build_loss(
            {"use_focal": False, "use_class_weights": True},
            dataset=root,
            dataset_options={"method": "sqrt_inv_freq", "cache_dir": cache, **kw},
        )
        compat = cw.calculate_class_weights(str(root), num_classes=19, ignore_index=255)
    cli = _cli("compute", str(root), "--num-classes", "19", "--ignore-index", "255", cache=cache)
    doors = {
        "load_weights": loaded.numpy(),
        "from_cache": loss.weight.numpy(),
        "build_loss": built.weight.numpy(),
        "calculate_class_weights": compat.numpy(),
        "cli": np.array([c["weight"] for c in cli["classes"]]),
    }
    for name, got in doors.items():
        np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=name)
    assert loss.ignore_index == 255


def test_a_loss_built_from_a_layout_takes_the_records_ignore_index(cityscapes, cache):
    """from_cache with a layout: the weights ignored 255, so must the loss (it kept -100)."""
    from classweights.losses import CrossEntropyLoss, DiceLoss

    root, train = cityscapes
    expected = _sqrt_inv_freq(_reference_pixels(train))
    for cls in (CrossEntropyLoss, DiceLoss):
        loss = cls.from_cache(root, layout="cityscapes", split="train", cache_dir=cache)
        assert loss.ignore_index == 255, cls.__name__
        np.testing.assert_allclose(loss.weight.numpy(), expected, rtol=1e-6)
        target = torch.full((1, 4, 4), 255)  # a batch of void pixels: ignored, not an error
        target[0, 0, 0] = 0
        value = loss(torch.randn(1, NUM_CLASSES, 4, 4), target)
        assert torch.isfinite(value)


def test_layout_doors_agree(cityscapes, cache):
    root, train = cityscapes
    expected = _reference_pixels(train)
    kw = {"layout": "cityscapes", "split": "train"}
    scanned = cw.scan(root, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = cw.load_weights(root, method="inverse_freq", cache_dir=cache, **kw)
    cli = _cli(
        "compute", str(root), "--layout", "cityscapes", "--split", "train", "--method",
        "inverse_freq", cache=cache,
    )  # fmt: skip
    assert scanned.pixels.tolist() == expected.tolist()
    assert [c["pixels"] for c in cli["classes"]] == expected.tolist()
    np.testing.assert_allclose(
        loaded.numpy(), [c["weight"] for c in cli["classes"]], rtol=1e-6
    )
    assert cli["ignore_index"] == 255


def _multilabel(tmp_path):
    """One 2 x C x H x W 0/1 stack: channel 0 has 10 of 80 positives, channel 1 none, channel
    2 has 20: pos_weight 70/10 = 7, absent, 60/20 = 3."""
    stack = np.zeros((2, 3, 5, 8), np.uint8)
    stack[0, 0].flat[:10] = 1
    stack[1, 2].flat[:20] = 1
    path = tmp_path / "ml.npy"
    np.save(path, stack)
    return path


@pytest.mark.parametrize(
    ("absent", "fill"),
    [(None, 1.0), ("one", 1.0), ("zero", 0.0), ("max", 7.0), ("mean", 5.0)],
)
def test_pos_weight_absent_is_one_rule_on_every_door(tmp_path, cache, absent, fill):
    path = _multilabel(tmp_path)
    expected = [7.0, fill, 3.0]
    kw = {} if absent is None else {"absent": absent}
    flags = [] if absent is None else ["--absent", absent]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = cw.load_weights(
            path, method="pos_weight", num_classes=3, multilabel=True, cache_dir=cache, **kw
        )
    cli = _cli(
        "compute", str(path), "--num-classes", "3", "--multilabel", "--method", "pos_weight",
        *flags, cache=cache,
    )  # fmt: skip
    assert loaded.tolist() == pytest.approx(expected)
    assert [c["weight"] for c in cli["classes"]] == pytest.approx(expected)
