"""Batched k-means++ seeding plus Lloyd steps, one clustering problem per class.

The centroid initialisation of :class:`~classweights.losses.subclassified.SubclassifiedLoss`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _kmeans_pp(
    x: torch.Tensor,
    valid: torch.Tensor,
    slots: torch.Tensor,
    iters: int,
    gen: torch.Generator,
    spherical: bool,
) -> torch.Tensor:
    """Batched k-means++ seeding plus ``iters`` Lloyd steps, one problem per class.

    Args:
        x: ``(B, M, F)`` float samples (``B`` classes, ``M`` padded samples each).
        valid: ``(B, M)`` bool, which samples are real; every row has at least one.
        slots: ``(B, K)`` bool, which centroid slots the class uses.
        iters: Lloyd iterations after seeding.
        gen: random generator (fixed seed -> same centroids).
        spherical: renormalise centroids to unit length after every step (cosine k-means).

    Returns:
        ``(B, K, F)`` centroids. With fewer distinct samples than slots, some centroids
        are duplicates; ties go to the lowest slot, so the duplicates stay empty.
    """
    b, _, k = x.shape[0], x.shape[1], slots.shape[1]
    rows = torch.arange(b, device=x.device)
    vf = valid.to(x.dtype)
    cent = x.new_zeros(b, k, x.shape[2])
    pick = torch.multinomial(vf, 1, generator=gen).squeeze(1)
    cent[:, 0] = x[rows, pick]
    d2 = (x - cent[:, :1]).square().sum(-1)
    for j in range(1, k):  # K seeding rounds (K is small), batched over classes
        p = d2.clamp_min(0) * vf
        p = torch.where(p.sum(1, keepdim=True) > 0, p, vf)
        pick = torch.multinomial(p, 1, generator=gen).squeeze(1)
        cent[:, j] = x[rows, pick]
        d2 = torch.minimum(d2, (x - cent[:, j : j + 1]).square().sum(-1))
    bias = torch.zeros(b, 1, k, dtype=x.dtype, device=x.device).masked_fill(
        ~slots[:, None, :], float("-inf")
    )
    for _ in range(iters):
        score = x @ cent.transpose(1, 2) - 0.5 * cent.square().sum(-1)[:, None, :] + bias
        onehot = F.one_hot(score.argmax(-1), k).to(x.dtype) * vf[..., None]  # (B, M, K)
        n = onehot.sum(1)
        mean = (onehot.transpose(1, 2) @ x) / n.clamp_min(1)[..., None]
        mean = F.normalize(mean, dim=-1) if spherical else mean
        cent = torch.where((n > 0)[..., None], mean, cent)
    return cent
