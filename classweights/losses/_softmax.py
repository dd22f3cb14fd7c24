"""One fused softmax pass for every multiclass loss, with a hand-written backward.

On a CPU the cost of these losses is dominated by allocating and touching ``(N, C, S)``
volumes, not by arithmetic. Autograd through ``log_softmax -> gather -> one-hot -> sums``
allocates half a dozen of them. :class:`_SoftmaxHead` allocates one in the forward pass
(the probabilities), writes the gradient into that same buffer in the backward pass (Dice
needs one temporary more), and returns only small tensors that the losses combine with
ordinary autograd:

- ``logp_t`` ``(N, S)``: ``log p_y`` of each pixel's target class (CE, focal);
- ``smooth`` ``(N, S)``: ``-sum_c w_c log p_c`` (label smoothing);
- ``inter``, ``pred`` ``(N, C)``: ``sum_s v p_c [y=c]`` and ``sum_s v p_c`` (or ``p_c^2``)
  for Dice — computed by gather / scatter-add, never a one-hot volume.

``log p_y`` is ``log`` of the softmax output (exact via logsumexp on the few pixels where
``p_y`` underflows), so it is as accurate as ``log_softmax`` without a second volume.
Every output is 0 at ignored pixels (``v = 0``), so the gradient there is 0. A second
backward through a retained graph recomputes the probabilities from the saved logits.

Backward, with ``b`` and ``d`` per-pixel coefficients::

    dx_c = v * [ p_c * (gP_c (or 2 p_c gP_c) + b) + [c = y] * d - g_s * w_c ]
    b = -sum_k p_k gP_k (or 2 p_k^2 gP_k) - p_y gI_y - g_l + W g_s,   d = p_y gI_y + g_l

(``W = sum_c w_c``), checked against finite differences by ``gradcheck`` in the tests.

Second derivatives: when the backward itself is differentiated (``create_graph=True``,
gradient penalties, ``gradgradcheck``) it recomputes the outputs from the saved logits with
plain autograd (:func:`_plain_terms`) and differentiates those, so the double backward is
exact. Under ``torch.compile`` the plain path is used throughout (the compiler fuses it).

No host-device sync: on CPU ``log p_y`` is taken from the softmax output and fixed up on
the few underflowed pixels (host-side, free on CPU); elsewhere the probabilities are built
as ``exp(x - logsumexp(x))`` so ``log p_y = x_y - logsumexp`` is exact with no data-dependent
shapes.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from ._functional import _TINY, DiceStats, LabelTarget, compiling, flat, host_checks


class SoftmaxTerms(NamedTuple):
    logp_t: torch.Tensor | None  # (N, S)
    smooth: torch.Tensor | None  # (N, S)
    dice: DiceStats | None  # (N, C) each


class _SoftmaxHead(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        index: torch.Tensor,
        valid: torch.Tensor,
        smooth_w: torch.Tensor | None,
        all_valid: bool,
        need_logp: bool,
        need_smooth: bool,
        need_dice: bool,
        square: bool,
        sync_free: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        ctx.set_materialize_grads(False)
        n, c, s = x.shape
        idx = index.unsqueeze(1)
        empty = x.new_zeros(0)
        logp_t = smooth = inter = pred = empty
        lse = None
        exp_lse = (need_logp or need_smooth) and sync_free
        if exp_lse:
            lse = torch.logsumexp(x, 1)  # exact log p_y without a data-dependent fix-up
            p = (x - lse.unsqueeze(1)).exp_()
        else:
            p = torch.softmax(x, 1)
        p_t = p.gather(1, idx).squeeze(1)
        if need_logp or need_smooth:
            x_y = x.gather(1, idx).squeeze(1)
            if lse is None:
                logp_y = _log_target_prob(x, index, p_t)
                lse = x_y - logp_y
            else:
                logp_y = x_y - lse
            if need_logp:
                logp_t = logp_y * valid
            if need_smooth:
                if smooth_w is None:
                    wx, total_w = x.sum(1), float(c)
                else:
                    wx = torch.bmm(smooth_w.view(1, 1, c).expand(n, 1, c), x).squeeze(1)
                    total_w = smooth_w.sum()
                smooth = (total_w * lse - wx) * valid
        if need_dice:
            inter = x.new_zeros(n, c).scatter_add_(1, index, p_t * valid)
            if square:
                pv = p if all_valid else p * valid.unsqueeze(1)
                pred = torch.bmm(pv.reshape(n * c, 1, s), p.reshape(n * c, s, 1)).view(n, c)
            elif all_valid:
                pred = p.sum(2)
            else:
                pred = torch.bmm(p, valid.unsqueeze(2)).squeeze(2)
        # p is kept as a plain attribute, not a saved tensor: the first backward turns its
        # storage into the gradient (one volume less to allocate); a second backward
        # (retain_graph) recomputes it from x.
        ctx.p = p
        ctx.exp_lse = exp_lse  # how p was made: a recompute must give the same bits
        ctx.save_for_backward(x, index, valid, p_t, smooth_w)
        ctx.flags = (all_valid, need_logp, need_smooth, need_dice, square)
        return logp_t, smooth, inter, pred

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any,
        g_logp: torch.Tensor | None,
        g_smooth: torch.Tensor | None,
        g_inter: torch.Tensor | None,
        g_pred: torch.Tensor | None,
    ) -> tuple[torch.Tensor | None, ...]:
        grads = (g_logp, g_smooth, g_inter, g_pred)
        nones = (None,) * 9
        if torch.is_grad_enabled():  # create_graph: differentiate a differentiable recompute
            x, index, valid, _, smooth_w = ctx.saved_tensors
            ctx.p = None
            outs = _plain_terms(x, index, valid, smooth_w, *ctx.flags[1:])
            pairs = [(o, g) for o, g in zip(outs, grads, strict=True) if g is not None]
            dx = torch.autograd.grad(
                [o for o, _ in pairs], x, [g for _, g in pairs], create_graph=True
            )[0]
            return (dx, *nones)
        with torch.no_grad():
            return (_SoftmaxHead._fast_backward(ctx, *grads), *nones)

    @staticmethod
    def _fast_backward(
        ctx: Any,
        g_logp: torch.Tensor | None,
        g_smooth: torch.Tensor | None,
        g_inter: torch.Tensor | None,
        g_pred: torch.Tensor | None,
    ) -> torch.Tensor:
        x, index, valid, p_t, smooth_w = ctx.saved_tensors
        all_valid, square = ctx.flags[0], ctx.flags[4]
        p = ctx.p
        if p is None:  # a second backward (retain_graph): recompute p exactly as forward did
            p = (x - torch.logsumexp(x, 1, True)).exp_() if ctx.exp_lse else torch.softmax(x, 1)
        ctx.p = None
        n, c, s = p.shape
        b = p.new_zeros(n, s)
        d = p.new_zeros(n, s)
        a = None  # per-class coefficient of p (Dice pred term)
        if g_pred is not None:
            if square:
                a = (2 * g_pred).unsqueeze(2) * p  # (N, C, S): 2 gP_c p_c
                b -= (a * p).sum(1)
            else:
                a = g_pred.unsqueeze(2)
                b -= torch.bmm(g_pred.unsqueeze(1), p).squeeze(1)
        if g_inter is not None:
            gi = g_inter.gather(1, index) * p_t
            b -= gi
            d += gi
        if g_logp is not None:
            b -= g_logp
            d += g_logp
        if g_smooth is not None:
            total_w = float(c) if smooth_w is None else smooth_w.sum()
            b += total_w * g_smooth
        # dx = p * (a + b), written into p's own storage
        dx = p.mul_(b.unsqueeze(1) if a is None else a + b.unsqueeze(1))
        dx.scatter_add_(1, index.unsqueeze(1), d.unsqueeze(1))
        if g_smooth is not None:
            w = p.new_ones(c) if smooth_w is None else smooth_w
            dx.addcmul_(w.view(1, c, 1), g_smooth.unsqueeze(1), value=-1)
        if not all_valid:
            dx.mul_(valid.unsqueeze(1))
        return dx


def _plain_terms(
    x: torch.Tensor,
    index: torch.Tensor,
    valid: torch.Tensor,
    smooth_w: torch.Tensor | None,
    need_logp: bool,
    need_smooth: bool,
    need_dice: bool,
    square: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """:class:`_SoftmaxHead`'s outputs by plain autograd (double backward, compile)."""
    n, c, _ = x.shape
    empty = x.new_zeros(0)
    logp_t = smooth = inter = pred = empty
    logp = torch.log_softmax(x, 1)
    idx = index.unsqueeze(1)
    if need_logp:
        logp_t = logp.gather(1, idx).squeeze(1) * valid
    if need_smooth:
        wl = logp if smooth_w is None else logp * smooth_w.view(1, c, 1)
        smooth = -wl.sum(1) * valid
    if need_dice:
        p = logp.exp()
        p_t = p.gather(1, idx).squeeze(1)
        inter = x.new_zeros(n, c).scatter_add(1, index, p_t * valid)
        pp = p * p if square else p
        pred = (pp * valid.unsqueeze(1)).sum(2)
    return logp_t, smooth, inter, pred


_UNDERFLOW = 1e-30  # below this p_y may have lost digits (float32 denormals start at 1.2e-38)


def _log_target_prob(x: torch.Tensor, index: torch.Tensor, p_t: torch.Tensor) -> torch.Tensor:
    """``log p_y`` from the softmax output, exact (logsumexp) where ``p_y`` underflowed.

    A normal float keeps its relative precision however small it is, so ``log p_y`` is as
    accurate as ``log_softmax`` until ``p_y`` nears the denormal range; those rare pixels
    (a confidently wrong prediction) are recomputed from their logits alone.
    """
    if p_t.numel() == 0 or float(p_t.min()) >= _UNDERFLOW:
        return torch.log(p_t)
    logp = torch.log(p_t.clamp_min(_TINY))
    low = p_t < _UNDERFLOW
    rows, cols = low.nonzero(as_tuple=True)
    xs = x[rows, :, cols]  # (K, C)
    x_y = xs.gather(1, index[rows, cols].unsqueeze(1)).squeeze(1)
    return logp.index_put((rows, cols), x_y - torch.logsumexp(xs, 1))


def softmax_terms(
    logits: torch.Tensor,
    tgt: LabelTarget,
    *,
    need_logp: bool = False,
    smooth_weight: torch.Tensor | None = None,
    need_smooth: bool = False,
    need_dice: bool = False,
    square: bool = False,
    from_logits: bool = True,
    sync_free: bool | None = None,
) -> SoftmaxTerms:
    """The softmax quantities the multiclass losses need, from one pass over the volume.

    Args:
        logits: ``(N, C, ...)`` logits (probabilities when ``from_logits=False``).
        tgt: the prepared index target.
        need_logp: return ``log p_y`` per pixel.
        smooth_weight: ``(C,)`` class weights of the smoothing term (``None``: all 1).
        need_smooth: return ``-sum_c w_c log p_c`` per pixel.
        need_dice: return the per-class Dice sums.
        square: Dice ``pred`` sums ``p^2``.
        from_logits: ``False`` if the input holds probabilities (plain autograd path).
        sync_free: build ``p`` as ``exp(x - logsumexp)`` (no host read); ``None``: for
            every tensor that is not on the CPU.

    >>> from classweights.losses._functional import prepare_labels
    >>> x = torch.tensor([[[2.0], [0.0]]])
    >>> t = softmax_terms(x, prepare_labels(x, torch.tensor([[0]]), -100), need_logp=True)
    >>> round(t.logp_t.item(), 4)
    -0.1269
    """
    x = flat(logits)
    valid = tgt.valid
    if not from_logits:
        return _prob_terms(x, tgt, need_logp, smooth_weight, need_smooth, need_dice, square)
    sw = None if smooth_weight is None else smooth_weight.to(x)
    if compiling():  # the compiler fuses plain autograd ops itself
        logp_t, smooth, inter, pred = _plain_terms(
            x, tgt.index, valid, sw, need_logp, need_smooth, need_dice, square
        )
    else:
        if sync_free is None:
            sync_free = not host_checks(x)
        logp_t, smooth, inter, pred = _SoftmaxHead.apply(
            x,
            tgt.index,
            valid,
            sw,
            tgt.all_valid,
            need_logp,
            need_smooth,
            need_dice,
            square,
            sync_free,
        )
    dice = DiceStats(inter, pred, label_counts(tgt, x.shape[1])) if need_dice else None
    return SoftmaxTerms(logp_t if need_logp else None, smooth if need_smooth else None, dice)


def label_counts(tgt: LabelTarget, num_classes: int) -> torch.Tensor:
    """``(N, C)`` labelled pixels of each class per sample (no gradient)."""
    n = tgt.index.shape[0]
    return tgt.valid.new_zeros(n, num_classes).scatter_add_(1, tgt.index, tgt.valid)


def _prob_terms(
    p: torch.Tensor,
    tgt: LabelTarget,
    need_logp: bool,
    smooth_weight: torch.Tensor | None,
    need_smooth: bool,
    need_dice: bool,
    square: bool,
) -> SoftmaxTerms:
    """Same quantities from probabilities, with plain autograd (``from_logits=False``)."""
    n, c, _ = p.shape
    v = tgt.valid
    p_t = p.gather(1, tgt.index.unsqueeze(1)).squeeze(1)
    logp_t = torch.log(p_t.clamp_min(_TINY)) * v if need_logp else None
    smooth = None
    if need_smooth:
        logp = torch.log(p.clamp_min(_TINY))
        if smooth_weight is not None:
            logp = logp * smooth_weight.to(p).view(1, c, 1)
        smooth = -logp.sum(1) * v
    dice = None
    if need_dice:
        inter = p.new_zeros(n, c).scatter_add(1, tgt.index, p_t * v)
        pp = p * p if square else p
        pred = torch.bmm(pp, v.unsqueeze(2)).squeeze(2)
        dice = DiceStats(inter, pred, label_counts(tgt, c))
    return SoftmaxTerms(logp_t, smooth, dice)
