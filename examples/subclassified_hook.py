"""Train a tiny segmentation net with SubclassifiedLoss, features captured by a forward hook.

The loss clusters the features of a model layer. Instead of changing the model to return
them, ``loss.attach(layer)`` registers a forward hook that keeps the layer's latest output
(detached); ``loss(logits, target)`` then uses it. That is also how the loss works inside
``MixedLoss``, which calls its components as ``loss(logits, target)``.

Synthetic data: class 1 ("car") has a common, easy look (bright squares) and a rare, hard
one (dim, small squares). After a few steps the rare car pixels carry the larger weight.

    python examples/subclassified_hook.py        # CPU, a few seconds
"""

from __future__ import annotations

import torch
from torch import nn

from classweights.losses.subclassified import SubclassifiedLoss


def synthetic_batch(gen: torch.Generator, n: int = 8, size: int = 32):
    """Images (n, 3, size, size), labels (n, size, size) and a rare-mode mask."""
    img = 0.1 * torch.randn(n, 3, size, size, generator=gen)
    target = torch.zeros(n, size, size, dtype=torch.long)
    rare = torch.zeros(n, size, size, dtype=torch.bool)
    for i in range(n):  # data generation only; the loss itself has no such loops
        y, x = torch.randint(0, size - 12, (2,), generator=gen).tolist()
        if i % 4 == 3:  # rare, hard car: small, dim, different colour
            target[i, y : y + 4, x : x + 4] = 1
            rare[i, y : y + 4, x : x + 4] = True
            img[i, 2, y : y + 4, x : x + 4] += 0.6
        else:  # common car: large and bright
            target[i, y : y + 12, x : x + 12] = 1
            img[i, 0, y : y + 12, x : x + 12] += 1.5
    target[:, :2] = 255  # an ignored border
    rare[:, :2] = False
    return img, target, rare


def main() -> None:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    encoder = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.ReLU(),
    )
    model = nn.Sequential(
        encoder, nn.Upsample(scale_factor=2, mode="bilinear"), nn.Conv2d(32, 2, 1)
    )
    loss_fn = SubclassifiedLoss(
        num_classes=2,
        num_subclasses={"car": 2},  # background keeps K=1
        class_names=["background", "car"],
        base_weight=[0.5, 1.0],
        warmup_steps=2,
    )
    # Features (N, 16, 32, 32) after the first conv keep the look of each pixel. Any layer and
    # size works (attach(encoder) gives (N, 32, 16, 16)), but deep features of a net that has
    # learned "car" collapse both looks together and the subclasses then follow other cues.
    handle = loss_fn.attach(encoder[1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(30):
        img, target, rare = synthetic_batch(gen)
        loss = loss_fn(model(img), target)  # features come from the hook
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 9:
            w = loss_fn.pixel_weights(target)  # same hooked features as this step
            sub = loss_fn.assign_subclasses(target)
            common = (target == 1) & ~rare
            print(
                f"step {step + 1:2d}  loss {loss.item():.3f}  mean weight: common car "
                f"{w[common].mean():.2f}, rare car {w[rare].mean():.2f}, "
                f"background {w[target == 0].mean():.2f}  | car subclass of common "
                f"pixels {torch.bincount(sub[common], minlength=2).tolist()}, "
                f"rare {torch.bincount(sub[rare], minlength=2).tolist()}"
            )
    handle.remove()
    print("subclass weights (class x subclass):", loss_fn.subclass_weights().tolist())


if __name__ == "__main__":
    main()
