"""Subclassified loss: cross-entropy that re-weights the subclasses inside each class.

Inside one class some pixels are common and easy (a near, large car) and some rare and hard
(a far, occluded car). The loss clusters each class's *features* into ``K`` subclasses and
weights every pixel by the rarity and difficulty of its subclass::

    w_ck = (1 / share_ck) * (mean_loss_ck / overall_mean_loss)        (raw formula)
    w_ck <- w_ck / sum_j share_cj * w_cj                              (within class c)
         =  (mean_loss_ck / share_ck) / sum_j mean_loss_cj

``share_ck`` is the EMA fraction of class ``c``'s pixels that fall in subclass ``k``.
The within-class normalisation makes the average pixel weight of every class 1, so the class
balance is set by ``base_weight`` alone and the overall mean loss cancels. Each subclass then
carries a share of its class's mass proportional to its mean loss. Source: the
cluster weights of BPA, Seo, Lee & Han, "Unsupervised Learning of Debiased Representations
with Pseudo-Attributes", CVPR 2022 (``skynbe/pseudo-attributes:modules/centroids.py``), here
per pixel, per class, with EMA statistics.

How it runs (all at feature resolution, no Python loop over classes, subclasses or pixels):

1. features ``(N, F, h, w)`` are detached; label pixel ``(y, x)`` of an ``H x W`` target
   reads the feature at ``(floor(y*h/H), floor(x*w/W))`` (index map cached per size);
2. scores against all ``C*Kmax`` centroids come from one matrix product; the argmax within
   each class gives a subclass per (feature position, class); each label pixel takes the
   entry of its position and its class (slots beyond a class's ``K`` are masked);
3. per-subclass pixel counts and loss sums come from ``index_add`` into fixed-size buffers
   over the flat ``class * Kmax + subclass`` id (no ``bincount``: no host sync); feature
   sums from one ``(F, h*w) @ (h*w, C*Kmax)``
   product with the per-position pixel counts scattered into the assigned columns. The
   sums are all-reduced when ``torch.distributed`` is initialised, then update the EMA
   buffers;
4. the loss is ``sum(v * ce) / sum(v)`` over valid pixels with ``v = base_weight[y] * w``,
   PyTorch's weighted-mean semantics, so weights act as if normalised to mean 1.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..params import UNSET
from ._subclass_args import base_weight_vector, positive_int, subclass_counts
from ._subclass_stages import _SubclassStages

__all__ = ["SubclassifiedLoss"]

_MIN_SHARE = 1e-12  # a decayed subclass share is clamped here: its weight stays finite


class SubclassifiedLoss(_SubclassStages, nn.Module):
    """Cross-entropy weighted per subclass, found by clustering each class's features.

    Weights are the module docstring's formula, computed from EMA buffers: ``counts``
    ``(C, Kmax)`` (EMA pixel counts), ``mean_loss`` ``(C, Kmax)`` (EMA mean CE),
    ``centroids`` ``(C, Kmax, F)``, ``slot_updates`` / ``class_updates`` (how many updates
    saw the subclass / class) and ``num_steps``. They follow ``.to()`` and ``state_dict``.

    Policies:
        * Centroids start from data: on the first training batch where a class appears, a
          batched k-means++ (plus ``kmeans_iters`` Lloyd steps) runs on up to
          ``init_samples`` of its feature positions, drawn in proportion to their label
          pixels with a ``torch.Generator`` seeded from ``seed`` and ``num_steps``.
        * With ``normalize=True`` (default) features are L2-normalised and centroids kept on
          the unit sphere: assignment is by cosine similarity, robust to feature scale.
          ``normalize=False`` uses Euclidean distance on raw features.
        * Update (training mode, every ``update_every`` forward calls): for every subclass
          with pixels in the batch, ``stat <- m*stat + (1-m)*batch_stat`` (``m=momentum``)
          for its mean loss and centroid (the mean of its pixels' features, renormalised);
          the first time a subclass is seen its mean loss is set directly. Pixel counts of
          the classes present are EMA-averaged the same way; absent classes are frozen.
          Assignment uses the centroids from before the update; weights those after it.
          Eval mode never updates.
        * A subclass never seen (or a class without statistics, or with zero total loss)
          gets the neutral weight 1, its class's average. ``K=1`` classes always weigh 1.
        * Ignored pixels take no part in clustering, statistics or the loss. An all-ignored
          batch returns 0 with zero gradients.
        * Non-finite activations never enter the statistics: a pixel whose feature position
          holds an inf/NaN feature, or whose cross-entropy is inf/NaN (an AMP overflow step
          that ``GradScaler`` skips), is left out of clustering and statistics as if it were
          ignored; its loss stays non-finite, as it should.
        * No host-device sync once every class with ``K > 1`` has been initialised (until
          then each training call reads ``initialized`` once); label checks of CUDA
          tensors are device-side asserts, step-dependent choices are tensor ops, so a
          step compiles with ``torch.compile(fullgraph=True)``.
        * For the first ``warmup_steps`` training forward calls the subclass weights are 1
          (class weights only) while statistics accumulate.
        * ``features=None`` uses the output last captured by :meth:`attach` (a forward
          hook), so the loss can be called as ``loss(logits, target)`` inside ``MixedLoss``.

    Args:
        num_classes: number of classes ``C``.
        num_subclasses: ``K`` for every class, a sequence of ``C`` values, or a mapping
            ``{class index or name: K}`` (unlisted classes get ``K=1``).
        momentum: EMA momentum ``m`` in ``[0, 1)`` (weight of the old statistics).
        ignore_index: label ignored everywhere, as in ``F.cross_entropy`` (default -100, as
            torch's; the old default 255 stays ignored for a release when a target holds it).
        update_every: update statistics and centroids every this many training calls.
        warmup_steps: training calls that use class weights only.
        base_weight: ``(C,)`` class weights, as ``F.cross_entropy(weight=...)``.
        weight: alias of ``base_weight`` (PyTorch's name; ``build_loss(weight=...)`` fills it).
        class_names: ``C`` names, so that ``num_subclasses`` may use names.
        normalize: cluster L2-normalised features (cosine) instead of raw ones.
        init_samples: feature positions per class used by the k-means++ initialisation.
        kmeans_iters: Lloyd iterations after k-means++ seeding.
        seed: seed of the initialisation's generator.

    Shapes:
        logits ``(N, C, H, W)`` float; target ``(N, H, W)`` integer; features
        ``(N, F, h, w)`` float from any layer (any ``F``, ``h``, ``w``); output scalar.

    Class "car" has three easy pixels (CE 0.127) and one hard, rare one (CE 0.693) with a
    different feature; with two subclasses the rare one gets the larger weight:

    >>> loss = SubclassifiedLoss(2, num_subclasses={"car": 2}, class_names=["car", "road"])
    >>> logits = torch.tensor([[[[2.0, 2.0, 2.0, 0.0]], [[0.0, 0.0, 0.0, 0.0]]]])
    >>> target = torch.zeros(1, 1, 4, dtype=torch.long)
    >>> features = torch.tensor([[[[1.0, 1.0, 1.0, 0.0]], [[0.0, 0.0, 0.0, 1.0]]]])
    >>> round(loss(logits, target, features).item(), 4)
    0.6055
    >>> loss.pixel_weights(target, features).round(decimals=4).tolist()
    [[[0.2064, 0.2064, 0.2064, 3.3809]]]
    """

    def __init__(
        self,
        num_classes: int,
        num_subclasses: int | Sequence[int] | Mapping[int | str, int] = 3,
        momentum: float = 0.9,
        ignore_index: int = UNSET,
        update_every: int = 1,
        warmup_steps: int = 0,
        base_weight: Any = None,
        *,
        weight: Any = None,
        class_names: Sequence[str] | None = None,
        normalize: bool = True,
        init_samples: int = 512,
        kmeans_iters: int = 10,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.num_classes = positive_int(num_classes, "num_classes")
        self.class_names = None if class_names is None else [str(n) for n in class_names]
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise ConfigError(
                f"class_names has {len(self.class_names)} names but num_classes="
                f"{self.num_classes}; pass one name per class"
            )
        self.num_subclasses = subclass_counts(num_subclasses, self.num_classes, self.class_names)
        self.kmax = max(self.num_subclasses)
        if not 0.0 <= float(momentum) < 1.0:
            raise ConfigError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        # PyTorch's -100, as every raw loss constructor; 255 was this loss's default (a release
        # of grace: a first batch holding 255 keeps it ignored, with a DeprecationWarning)
        self._old_default = ignore_index is UNSET
        self.ignore_index = -100 if ignore_index is UNSET else int(ignore_index)
        self.update_every = positive_int(update_every, "update_every")
        self.warmup_steps = positive_int(warmup_steps, "warmup_steps", minimum=0)
        self.normalize = bool(normalize)
        self.init_samples = positive_int(init_samples, "init_samples")
        self.kmeans_iters = positive_int(kmeans_iters, "kmeans_iters", minimum=0)
        self.seed = int(seed)
        if weight is not None and base_weight is not None:
            raise ConfigError("pass class weights as base_weight or as weight, not both")
        base_weight = weight if base_weight is None else base_weight
        c, k = self.num_classes, self.kmax
        self.register_buffer("base_weight", base_weight_vector(base_weight, c))
        self.register_buffer("centroids", torch.zeros(0))  # (C, Kmax, F) once F is known
        self.register_buffer("initialized", torch.zeros(c, dtype=torch.bool))
        self.register_buffer("counts", torch.zeros(c, k))
        self.register_buffer("mean_loss", torch.zeros(c, k))
        self.register_buffer("slot_updates", torch.zeros(c, k, dtype=torch.long))
        self.register_buffer("class_updates", torch.zeros(c, dtype=torch.long))
        self.register_buffer("num_steps", torch.zeros((), dtype=torch.long))
        kt = torch.tensor(self.num_subclasses)
        self.register_buffer("slot_mask", torch.arange(k) < kt[:, None], persistent=False)
        self.register_buffer("split", (kt > 1)[:, None] & self.slot_mask, persistent=False)
        self._pos_cache: dict[tuple, torch.Tensor] = {}
        self._hooked: torch.Tensor | None = None
        self._ragged = any(kc != self.kmax for kc in self.num_subclasses)  # masked slots
        self._init_done = self.kmax == 1  # host flag: every class has centroids

    # ----------------------------------------------------------------------- configuration
    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, num_subclasses={self.num_subclasses}, "
            f"momentum={self.momentum}, ignore_index={self.ignore_index}, "
            f"update_every={self.update_every}, warmup_steps={self.warmup_steps}, "
            f"normalize={self.normalize}"
        )

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        key = prefix + "centroids"  # materialise the lazily shaped buffer before loading
        if key in state_dict and state_dict[key].shape != self.centroids.shape:
            self.centroids = self.centroids.new_zeros(state_dict[key].shape)
        self._init_done = self.kmax == 1  # re-read `initialized` on the next training call
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ---------------------------------------------------------------------------- features
    def attach(self, module: nn.Module, select: Callable[[Any], torch.Tensor] | None = None) -> Any:
        """Capture ``module``'s output (detached) as the features of the next calls.

        Args:
            module: the layer whose output ``(N, F, h, w)`` serves as features.
            select: picks the tensor when the layer returns a tuple or dict.

        Returns:
            The hook handle; ``handle.remove()`` detaches it.

        >>> layer, loss = nn.Conv2d(3, 4, 1), SubclassifiedLoss(2)
        >>> handle = loss.attach(layer)
        >>> _ = layer(torch.zeros(1, 3, 2, 2))
        >>> loss.hooked_features.shape
        torch.Size([1, 4, 2, 2])
        """

        def hook(_mod: nn.Module, _inp: Any, out: Any) -> None:
            out = select(out) if select is not None else out
            if not isinstance(out, torch.Tensor):
                raise ConfigError(
                    f"the attached layer returned {type(out).__name__}, not a tensor; pass "
                    "select=... to attach() to pick the feature tensor"
                )
            self._hooked = out.detach()

        return module.register_forward_hook(hook)

    @property
    def hooked_features(self) -> torch.Tensor | None:
        """The last output captured by :meth:`attach`, or ``None``."""
        return self._hooked

    # ------------------------------------------------------------------------- public API
    def subclass_weights(self) -> torch.Tensor:
        """``(C, Kmax)`` subclass weights from the current statistics (1 = class average).

        Unused slots (beyond a class's ``K``), unseen subclasses and ``K=1`` classes get 1.

        >>> SubclassifiedLoss(2, num_subclasses=[1, 3]).subclass_weights().tolist()
        [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
        """
        counts = self.counts.double()
        share = counts / counts.sum(1, keepdim=True).clamp_min(1e-300)
        seen = self.slot_updates > 0
        mean_loss = torch.where(seen, self.mean_loss.double(), 0.0)
        den = mean_loss.sum(1, keepdim=True)
        w = mean_loss / (share.clamp_min(_MIN_SHARE) * den.clamp_min(1e-300))
        w = torch.where(seen & (den > 0) & self.split, w, 1.0)
        return w.to(self.counts.dtype)

    def _weight_table(self, warm: bool | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``(C*Kmax + 1,)`` per-slot pixel weight ``base_weight[c] * w_ck``; 0 for ignored.

        ``warm`` may be a 0-d bool tensor (chosen on the device: no host sync).
        """
        if isinstance(warm, torch.Tensor):
            w = torch.where(warm, torch.ones_like(self.counts), self.subclass_weights())
        else:
            w = self.subclass_weights() if not warm else torch.ones_like(self.counts)
        if self.base_weight is not None:
            w = w * self.base_weight[:, None]
        return torch.cat([w.reshape(-1), w.new_zeros(1)]).to(like.dtype)

    def _deprecated_255(self, target: torch.Tensor) -> None:
        """Once, on the first batch when ``ignore_index`` was not given: a target holding 255
        (the old default) keeps 255 ignored for this release, and says so (one host sync,
        once, never per step)."""
        self._old_default = False
        if bool((target == 255).any()):
            warnings.warn(
                "SubclassifiedLoss: ignore_index now defaults to -100 as in torch's losses; "
                "these targets hold 255, which the old default ignored, so 255 stays ignored "
                "for this release: pass ignore_index=255 to keep it so",
                DeprecationWarning,
                stacklevel=3,
            )
            self.ignore_index = 255

    def forward(
        self, logits: torch.Tensor, target: torch.Tensor, features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Subclass-weighted cross-entropy ``sum(v * ce) / sum(v)`` over valid pixels.

        Args:
            logits: ``(N, C, H, W)`` float.
            target: ``(N, H, W)`` integer labels in ``0..C-1`` or ``ignore_index``.
            features: ``(N, F, h, w)`` float, detached internally; ``None`` uses the output
                captured by :meth:`attach`.

        Returns:
            Scalar loss, ``0`` (with zero gradients) if every pixel is ignored.
        """
        p = self._prepare(logits, target, features)
        if logits.dtype not in (torch.float32, torch.float64):
            logits = logits.float()
        ce = F.cross_entropy(logits, p["target"], reduction="none", ignore_index=self.ignore_index)
        warm: bool | torch.Tensor = False
        if self.training:
            # step-dependent choices stay on the device: no host sync, no recompiles
            if self.warmup_steps:
                warm = self.num_steps < self.warmup_steps
            due = None if self.update_every == 1 else self.num_steps % self.update_every == 0
            p = self._finite_only(p, ce.detach())  # inf/NaN never reach the statistics
            pc = None
            if self.kmax > 1:
                pc = self._pixel_class_counts(p)  # (position, class) pixel counts
                if not self._init_done:  # host decisions only until every class is seen
                    self._maybe_init(p, pc)
                    self._init_done = bool(self.initialized.all())
        assign = self._assign(p)
        slot = self._slots(p, assign)
        if self.training:
            self._update(p, slot, ce.detach(), pc, assign, due)
            self.num_steps += 1
        v = self._weight_table(warm, ce)[slot]
        den = v.sum()
        return (v * ce).sum() / torch.where(den > 0, den, torch.ones_like(den))

    @torch.no_grad()
    def assign_subclasses(
        self, target: torch.Tensor, features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(N, H, W)`` long: subclass of each label pixel, ``-1`` where ignored.

        Uses the current centroids; never updates anything.

        >>> loss = SubclassifiedLoss(2, num_subclasses=2)
        >>> loss.assign_subclasses(torch.tensor([[[0, 255]]]), torch.ones(1, 3, 1, 1)).tolist()
        [[[0, -1]]]
        """
        p = self._prepare(None, target, features)
        slot = self._slots(p, self._assign(p))
        return torch.where(p["valid"], slot % self.kmax, -1)

    @torch.no_grad()
    def pixel_weights(
        self, target: torch.Tensor, features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(N, H, W)`` float: each pixel's weight in the loss, mean 1 over valid pixels.

        Uses the current statistics (and the warm-up state of the next call); 0 where ignored.

        >>> loss = SubclassifiedLoss(2, base_weight=[1.0, 3.0])
        >>> loss.pixel_weights(torch.tensor([[[0, 1, 255]]]), torch.ones(1, 3, 1, 1)).tolist()
        [[[0.5, 1.5, 0.0]]]
        """
        p = self._prepare(None, target, features)
        warm = self.training and int(self.num_steps) < self.warmup_steps
        v = self._weight_table(warm, self.counts)[self._slots(p, self._assign(p))]
        n = p["valid"].sum()
        return v * n / v.sum().clamp_min(1e-30) if n > 0 else v
