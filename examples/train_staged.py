"""Train a small segmenter with a staged BCE:Dice loss driven by validation Dice (CPU, ~1 min).

Synthetic multi-label "hand X-ray" masks: large bones (Radius, Ulna, Capitate, Hamate) and
two small, rare ones (Pisiform: a small disc; Trapezoid: a thin bar), saved as ``.npz``
stacks (C x H x W) in a temporary folder. A tiny CNN is trained with AdamW and
CosineAnnealingLR; after each validation, :class:`classweights.metrics.DiceMetric` feeds
:class:`classweights.schedule.LossStageScheduler`, which moves the Mixed loss from
BCE:Dice 0.3:0.7 to 0.2:0.8 to 0.1:0.9 when the Dice thresholds hold.

    python examples/train_staged.py                 # 8 epochs
    python examples/train_staged.py --epochs 3 --fast
    python examples/train_staged.py --config examples/staged_loss.yaml   # the real thresholds

The default config below uses the YAML keys of ``examples/staged_loss.yaml`` with
thresholds lowered to what this toy model reaches in a few epochs, so both switches
happen within the run.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

import classweights
from classweights.errors import ClassWeightsError
from classweights.metrics import DiceMetric
from classweights.schedule import LossStageScheduler

CLASSES = ["Radius", "Ulna", "Capitate", "Hamate", "Pisiform", "Trapezoid"]

CONFIG = """
loss_name: Mixed
loss_parameter:
  losses: [{name: BCEWithLogitsLoss, weight: 0.3}, {name: DiceLoss, weight: 0.7}]
loss_switch:
  loss_stages:
    stage2:
      enabled: true
      lr_multiplier: 1.0
      conditions:
        global_dice_threshold: 0.80
        class_dice_thresholds: {Pisiform: 0.65, Trapezoid: 0.60}
        consecutive_epochs: 1
      loss: {loss_name: Mixed, loss_parameter: {losses: [{name: BCEWithLogitsLoss, weight: 0.2},
                                                         {name: DiceLoss, weight: 0.8}]}}
    stage3:
      enabled: true
      lr_multiplier: 0.5
      conditions:
        global_dice_threshold: 0.87
        class_dice_thresholds: {Pisiform: 0.78, Trapezoid: 0.74}
        consecutive_epochs: 2
      loss: {loss_name: Mixed, loss_parameter: {losses: [{name: BCEWithLogitsLoss, weight: 0.1},
                                                         {name: DiceLoss, weight: 0.9}]}}
"""

# class -> colour it adds to the 3-channel image where it is present (overlaps add up)
COLOURS = np.array(
    [
        [0.9, 0.2, 0.1],
        [0.2, 0.9, 0.1],
        [0.1, 0.3, 0.9],
        [0.7, 0.7, 0.0],
        [0.0, 0.8, 0.8],
        [0.9, 0.0, 0.9],
    ],
    dtype=np.float32,
)


# ---------------------------------------------------------------- synthetic data
def hand_masks(size: int, rng: np.random.Generator) -> np.ndarray:
    """One multi-label mask stack, ``(C, size, size)`` uint8 0/1; channels may overlap."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size

    def ellipse(cy, cx, ry, rx, angle=0.0):
        cy, cx = cy + rng.normal(0, 0.03), cx + rng.normal(0, 0.03)
        c, s = np.cos(angle), np.sin(angle)
        u, v = (yy - cy) * c + (xx - cx) * s, -(yy - cy) * s + (xx - cx) * c
        return (u / ry) ** 2 + (v / rx) ** 2 <= 1.0

    a = rng.uniform(-0.5, 0.5)
    m = np.stack(
        [
            ellipse(0.78, 0.32, 0.22, 0.11, 0.2),  # Radius
            ellipse(0.80, 0.68, 0.20, 0.09, -0.2),  # Ulna
            ellipse(0.45, 0.45, 0.12, 0.09, a),  # Capitate
            ellipse(0.45, 0.62, 0.11, 0.08, -a),  # Hamate (overlaps Capitate)
            ellipse(0.50, 0.74, 0.045, 0.045),  # Pisiform: small disc
            ellipse(0.25, 0.35, 0.15, 0.025, rng.uniform(-1.2, 1.2)),  # Trapezoid: thin bar
        ]
    )
    return m.astype(np.uint8)


def render(masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A noisy 3-channel image in which every structure adds its colour."""
    img = np.einsum("chw,ck->khw", masks.astype(np.float32), COLOURS)
    return img + rng.normal(0.0, 0.2, img.shape).astype(np.float32)


def make_split(folder: Path, n: int, size: int, rng: np.random.Generator):
    folder.mkdir(parents=True)
    images, masks = [], []
    for i in range(n):
        m = hand_masks(size, rng)
        np.savez_compressed(folder / f"hand_{i:04d}.npz", mask=m)  # C x H x W multi-label stack
        images.append(render(m, rng))
        masks.append(m)
    return torch.from_numpy(np.stack(images)), torch.from_numpy(np.stack(masks)).float()


def get_pos_weight(mask_dir: Path, masks: torch.Tensor) -> torch.Tensor:
    """BCE ``pos_weight`` (negatives / positives per channel) of the training masks.

    Uses the cached ``classweights.load_weights`` when it is available; otherwise computes
    the same ratio here from the masks in memory.
    """
    try:
        pw = classweights.load_weights(
            mask_dir, method="pos_weight", num_classes=len(CLASSES), multilabel=True
        )
        source = "classweights.load_weights"
    except (ImportError, AttributeError, TypeError, ClassWeightsError) as exc:
        # Fallback while load_weights(method="pos_weight", multilabel=True) is not there:
        # the same negatives/positives ratio per channel, from the masks in memory.
        pos = masks.sum(dim=(0, 2, 3))
        neg = masks[:, 0].numel() - pos
        pw = torch.where(pos > 0, neg / pos.clamp_min(1), torch.ones_like(pos))
        source = f"local fallback ({type(exc).__name__}: {exc})"
    pw = torch.as_tensor(pw, dtype=torch.float32).clamp(max=50.0)  # tame the rarest channels
    print(
        f"pos_weight from {source}: "
        + ", ".join(f"{n} {w:.2f}" for n, w in zip(CLASSES, pw.tolist(), strict=True))
    )
    return pw


# ---------------------------------------------------------------- model and loop
def tiny_net(channels: int = 16) -> nn.Module:
    def block(cin: int, dilation: int) -> list[nn.Module]:
        return [
            nn.Conv2d(cin, channels, 3, padding=dilation, dilation=dilation),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        ]

    return nn.Sequential(
        *block(3, 1), *block(channels, 2), *block(channels, 4), nn.Conv2d(channels, len(CLASSES), 1)
    )


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--fast", action="store_true", help="smaller images and dataset (tests)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", help="YAML file (default: the toy config in this script)")
    args = p.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="  %(message)s", stream=sys.stdout)
    torch.manual_seed(args.seed)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    rng = np.random.default_rng(args.seed)
    size, n_train, n_val = (32, 64, 16) if args.fast else (40, 128, 32)
    start = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        x_train, y_train = make_split(Path(tmp, "train"), n_train, size, rng)
        x_val, y_val = make_split(Path(tmp, "val"), n_val, size, rng)
        pos_weight = get_pos_weight(Path(tmp, "train"), y_train)

    model = tiny_net()
    prior = y_train.mean(dim=(0, 2, 3)).clamp(1e-4, 1 - 1e-4)
    with torch.no_grad():  # start each channel at its prior (as RetinaNet does): faster start
        model[-1].bias.copy_(torch.log(prior / (1 - prior)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs, eta_min=1e-6)
    stages = LossStageScheduler(  # every stage's loss built now, each with this pos_weight
        Path(args.config) if args.config else CONFIG,
        optimizer=optimizer,
        lr_scheduler=cosine,
        class_names=CLASSES,
        pos_weight=pos_weight,
    )
    metric = DiceMetric(len(CLASSES), mode="multilabel", class_names=CLASSES)

    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(n_train)
        total = 0.0
        for batch in order.split(4):
            loss = stages.staged_loss(model(x_train[batch]), y_train[batch])  # current stage
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)

        model.eval()
        metric.reset()
        with torch.no_grad():
            for batch in torch.arange(n_val).split(16):
                metric.update(model(x_val[batch]), y_val[batch])
        dice = metric.compute()
        lr = optimizer.param_groups[0]["lr"]
        print(
            f"epoch {epoch:2d}  loss {total / n_train:.4f}  avg_dice {dice['avg_dice']:.3f}  "
            f"Pisiform {dice['class_dice']['Pisiform']:.3f}  "
            f"Trapezoid {dice['class_dice']['Trapezoid']:.3f}  "
            f"stage {stages.stage}  lr {lr:.2e}"
        )
        stages.step(dice, epoch)  # may switch the loss weights and scale the lr
        cosine.step()

    print(
        f"stage switches: {[(h['from_stage'], h['to_stage'], h['epoch']) for h in stages.history]}"
        f"  final stage {stages.stage}  log_dict {stages.log_dict()}"
    )
    print(f"done in {time.perf_counter() - start:.1f} s")
    return stages.history


if __name__ == "__main__":
    main()
