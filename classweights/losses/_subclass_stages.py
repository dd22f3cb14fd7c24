"""The per-batch stages of :class:`~classweights.losses.subclassified.SubclassifiedLoss`.

Index maps (label pixel -> feature position), subclass assignment, k-means++ initialisation
and the EMA update of the statistics, with the ``torch.distributed`` reductions they need.
The steps are those of the ``subclassified`` module docstring ("How it runs").
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..errors import ConfigError, UnknownLabelError
from ._functional import host_checks
from ._kmeans import _kmeans_pp


def _dist() -> Any:
    """``torch.distributed`` when a process group is initialised, else ``None``."""
    d = torch.distributed
    return d if d.is_available() and d.is_initialized() else None


def _all_reduce(t: torch.Tensor) -> torch.Tensor:
    if (d := _dist()) is not None:
        d.all_reduce(t)
    return t


def _all_gather_cat(t: torch.Tensor, dim: int) -> torch.Tensor:
    if (d := _dist()) is None or d.get_world_size() == 1:
        return t
    parts = [torch.empty_like(t) for _ in range(d.get_world_size())]
    d.all_gather(parts, t.contiguous())
    return torch.cat(parts, dim)


def _position_norms(feats: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """``(N, 1, P)`` L2 norms over ``F`` of ``(N, F, P)`` features.

    Sums squares over chunks of channels (a loop over ``F / chunk`` chunks): a single
    ``square()`` of the whole tensor allocates ``N*F*P`` floats, which costs more than the
    arithmetic (page faults on every call for large feature maps).

    >>> _position_norms(torch.tensor([[[3.0], [4.0]]]), chunk=1).tolist()
    [[[5.0]]]
    """
    ones = feats.new_ones(feats.shape[0], 1, chunk)
    acc = feats.new_zeros(feats.shape[0], 1, feats.shape[2])
    for i in range(0, feats.shape[1], chunk):
        part = feats[:, i : i + chunk]
        acc.baddbmm_(ones[:, :, : part.shape[1]], part.square())
    return acc.sqrt_()


class _SubclassStages:
    """Mixin of :class:`~classweights.losses.subclassified.SubclassifiedLoss`: its stages.

    Reads the loss's settings (``num_classes``, ``kmax``, ``ignore_index``, ...) and
    updates its buffers (``centroids``, ``counts``, ``mean_loss``, ...).
    """

    def _prepare(
        self, logits: torch.Tensor | None, target: torch.Tensor, features: torch.Tensor | None
    ) -> dict[str, Any]:
        """Checks shapes and labels; returns the index maps every stage needs."""
        if features is None:
            features = self._hooked
            if features is None:
                raise ConfigError(
                    "SubclassifiedLoss needs features: pass features=... or call "
                    "loss.attach(model.some_layer) so a forward hook captures them"
                )
        if target.dim() != 3 or target.dtype.is_floating_point or target.dtype == torch.bool:
            raise ConfigError(
                f"target must be an integer (N, H, W) tensor, got {target.dtype} "
                f"{tuple(target.shape)}"
            )
        n, hh, ww = target.shape
        if logits is not None and (
            logits.dim() != 4
            or logits.shape[1] != self.num_classes
            or (logits.shape[0], *logits.shape[2:]) != (n, hh, ww)
        ):
            raise ConfigError(
                f"logits must be (N, C={self.num_classes}, H, W) matching target "
                f"{tuple(target.shape)}, got {tuple(logits.shape)}"
            )
        if features.dim() != 4 or features.shape[0] != n:
            raise ConfigError(
                f"features must be (N={n}, F, h, w) from a layer of the model, got "
                f"{tuple(features.shape)}"
            )
        fd, h, w = features.shape[1:]
        if self.kmax > 1 and self.centroids.numel() and self.centroids.shape[2] != fd:
            raise ConfigError(
                f"features have F={fd} channels but the centroids were built from "
                f"F={self.centroids.shape[2]}; attach the same layer as before"
            )
        if self._old_default:  # once: 255 was the default ignore index (a release of grace)
            self._deprecated_255(target)
        target = target.long()
        valid = target != self.ignore_index
        y = torch.where(valid, target, 0)  # a safe class index everywhere
        bad = (y < 0) | (y >= self.num_classes)
        if not host_checks(y):  # CUDA / compiled: a device-side assert, no host sync
            torch._assert_async(
                ~bad.any(),
                f"target labels outside 0..{self.num_classes - 1} that are not ignore_index="
                f"{self.ignore_index}; remap the labels or set ignore_index",
            )
        elif y.numel() and bool(bad.any()):
            vals = torch.unique(y[bad]).tolist()[:10]
            raise UnknownLabelError(
                f"labels {vals} found in target of shape {tuple(target.shape)} but "
                f"num_classes={self.num_classes} and ignore_index={self.ignore_index}; "
                "remap the labels or set ignore_index"
            )
        fpos = self._position_map(hh, ww, h, w, target.device)
        fpos = fpos + (torch.arange(n, device=target.device) * (h * w)).view(n, 1, 1)
        feats = features.detach().to(self.counts.dtype).reshape(n, fd, h * w)
        pix = fpos * self.num_classes + y  # flat (feature position, class) id
        return dict(target=target, valid=valid, y=y, pix=pix, feats=feats)

    def _position_map(self, hh: int, ww: int, h: int, w: int, device: Any) -> torch.Tensor:
        """``(H, W)`` long: flat index of the nearest feature position of each label pixel."""
        key = (hh, ww, h, w, str(device))
        if key not in self._pos_cache:
            if len(self._pos_cache) > 32:
                self._pos_cache.clear()
            ys = torch.arange(hh, device=device) * h // hh
            xs = torch.arange(ww, device=device) * w // ww
            self._pos_cache[key] = ys[:, None] * w + xs[None, :]
        return self._pos_cache[key]

    def _finite_only(self, p: dict[str, Any], ce: torch.Tensor) -> dict[str, Any]:
        """``p`` plus what the statistics may read: ``stat``, the valid pixels whose loss and
        feature position are finite, and ``sfeats``, the features with every non-finite
        position zeroed (a NaN times a zero weight is still NaN in a matrix product).

        Tensor ops only (no host sync): a step of inf/NaN activations, as an AMP overflow
        gives, leaves the running statistics exactly as if those pixels were ignored.
        """
        stat = p["valid"] & torch.isfinite(ce)
        feats = p["feats"]
        if self.kmax > 1:  # K = 1 keeps no feature statistics
            ok = torch.isfinite(feats).all(1)  # (N, h*w)
            stat = stat & ok.reshape(-1).take(p["pix"] // self.num_classes)
            feats = torch.where(ok.unsqueeze(1), feats, 0.0)
        return {**p, "stat": stat, "sfeats": feats}

    def _pixel_class_counts(self, p: dict[str, Any]) -> torch.Tensor:
        """``(N*h*w, C)`` long: label pixels of each class at each feature position (those
        the statistics may read, ``p["stat"]``, in training)."""
        c, size = self.num_classes, p["feats"].shape[0] * p["feats"].shape[2]
        idx = torch.where(p.get("stat", p["valid"]), p["pix"], size * c).reshape(-1)
        out = idx.new_zeros(size * c + 1).scatter_add_(0, idx, torch.ones_like(idx))
        return out[:-1].view(size, c)  # a fixed-size buffer, not bincount: no host sync

    def _maybe_init(self, p: dict[str, Any], pc: torch.Tensor) -> None:
        """k-means++ for every class present in the batch that has no centroids yet."""
        if self.kmax == 1 or bool(self.initialized.all()):
            return
        feats = p.get("sfeats", p["feats"])
        present = _all_reduce((pc.sum(0) > 0).long()) > 0
        new = (present & ~self.initialized).nonzero().squeeze(1)
        if new.numel() == 0:
            return
        if self.centroids.numel() == 0:
            self.centroids = feats.new_zeros(self.num_classes, self.kmax, feats.shape[1])
        gen = torch.Generator(device=feats.device)
        gen.manual_seed(self.seed * 1_000_003 + int(self.num_steps))
        cnt = pc[:, new].to(torch.float32)  # (P, B)
        m, hw = min(self.init_samples, cnt.shape[0]), feats.shape[2]
        u = torch.rand(cnt.shape, generator=gen, device=cnt.device).clamp_min(1e-30)
        keys = -torch.log(u) / cnt  # weighted sampling without replacement; 0 pixels -> inf
        idx = keys.topk(m, dim=0, largest=False).indices  # (M, B)
        valid = (cnt.gather(0, idx) > 0).T.contiguous()
        x = feats[idx // hw, :, idx % hw].transpose(0, 1)  # (B, M, F)
        if self.normalize:
            x = F.normalize(x, dim=-1)
        x, valid = _all_gather_cat(x.contiguous(), 1), _all_gather_cat(valid, 1)
        cent = _kmeans_pp(x, valid, self.slot_mask[new], self.kmeans_iters, gen, self.normalize)
        self.centroids[new] = F.normalize(cent, dim=-1) if self.normalize else cent
        self.initialized[new] = True

    def _assign(self, p: dict[str, Any]) -> torch.Tensor:
        """``(N*h*w, C)`` long: nearest subclass of each class at each feature position."""
        feats, c, k = p["feats"], self.num_classes, self.kmax
        size = feats.shape[0] * feats.shape[2]
        if k == 1 or self.centroids.numel() == 0:
            return torch.zeros(1, dtype=torch.long, device=feats.device).expand(size, c)
        cent = self.centroids.reshape(c * k, -1)
        score = torch.matmul(feats.transpose(1, 2), cent.T)  # (N, hw, C*K), one product
        if not self.normalize:  # cosine needs no feature norm: argmax is scale-free per row
            score = score - 0.5 * cent.square().sum(1)
        score = score.view(size, c, k)
        if self._ragged:
            score = score.masked_fill(~self.slot_mask, float("-inf"))
        return score.argmax(2)

    def _slots(self, p: dict[str, Any], assign: torch.Tensor) -> torch.Tensor:
        """``(N, H, W)`` long: ``class*Kmax + subclass``; ``C*Kmax`` at ignored pixels."""
        c, k = self.num_classes, self.kmax
        if k == 1:
            return torch.where(p["valid"], p["y"], c)
        return torch.where(p["valid"], p["y"] * k + assign.take(p["pix"]), c * k)

    def _update(
        self,
        p: dict[str, Any],
        slot: torch.Tensor,
        loss: torch.Tensor,
        pc: torch.Tensor | None,
        assign: torch.Tensor,
        due: torch.Tensor | None = None,
    ) -> None:
        """EMA update of counts, mean losses and centroids from this batch's sums.

        ``due`` (a 0-d bool tensor, or ``None`` for always) masks the whole update on the
        device, so ``update_every > 1`` needs no host sync.
        """
        c, k, ck = self.num_classes, self.kmax, self.num_classes * self.kmax
        feats, stat = p["sfeats"], p["stat"]  # non-finite activations left out (_finite_only)
        flat = torch.where(stat, slot, ck).reshape(-1)
        zeros = torch.zeros(ck + 1, dtype=torch.float64, device=flat.device)
        count = zeros.index_add(0, flat, torch.ones_like(flat, dtype=torch.float64))[:ck]
        lsum = zeros.index_add(0, flat, torch.where(stat, loss, 0.0).reshape(-1).double())[:ck]
        parts = [count, lsum]
        if pc is not None:  # K > 1: feature sums (F, hw) @ (hw, C*K), counts at assigned slots
            n, _, hw = feats.shape
            val = pc.to(feats.dtype)
            if self.normalize:
                val = val / _position_norms(feats).reshape(-1, 1).clamp_min(1e-12)
            col = torch.arange(c, device=pc.device) * k + assign
            sel = feats.new_zeros(n * hw, ck).scatter_(1, col, val).view(n, hw, ck)
            fsum = torch.bmm(feats, sel).sum(0).T  # (C*K, F)
            parts.append(fsum.reshape(-1).double())
        packed = _all_reduce(torch.cat(parts))
        cnt, lsum = packed[:ck].view(c, k), packed[ck : 2 * ck].view(c, k)
        m, dt = self.momentum, self.counts.dtype
        cls_on = cnt.sum(1, keepdim=True) > 0
        if due is not None:
            cls_on = cls_on & due
        first = cls_on & (self.class_updates == 0)[:, None]
        ema = torch.where(first, cnt, m * self.counts.double() + (1 - m) * cnt)
        self.counts.copy_(torch.where(cls_on, ema, self.counts.double()).to(dt))
        on = cnt > 0 if due is None else (cnt > 0) & due
        mean = lsum / cnt.clamp_min(1)
        ema = torch.where(on & (self.slot_updates == 0), mean, m * self.mean_loss + (1 - m) * mean)
        self.mean_loss.copy_(torch.where(on, ema, self.mean_loss.double()).to(dt))
        if k > 1 and self.centroids.numel():
            fmean = packed[2 * ck :].view(c, k, -1) / cnt.clamp_min(1)[..., None]
            cent = m * self.centroids.double() + (1 - m) * fmean
            cent = F.normalize(cent, dim=-1) if self.normalize else cent
            self.centroids.copy_(torch.where(on[..., None], cent.to(dt), self.centroids))
        self.slot_updates += on
        self.class_updates += cls_on.squeeze(1)
