"""Scale fitting and scoring of candidate vectors against one published vector."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError

#: A candidate fits when it reproduces every published value up to rounding, or when its
#: largest relative error after rounding to the published precision is at most this.
MATCH_TOLERANCE = 1e-3


def _precision(
    published: Sequence[Any], decimals: int | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Published values and their unit in the last digit (from the strings or float reprs)."""
    y, unit = [], []
    for v in published:
        if isinstance(v, str):
            text = v.strip()
        elif isinstance(v, np.floating):
            text = np.format_float_positional(v, unique=True, trim="-")
        else:
            text = np.format_float_positional(float(v), unique=True, trim="-")
        try:
            d = Decimal(text)
        except InvalidOperation:
            raise ConfigError(f"published weight {v!r} is not a number") from None
        if not d.is_finite() or d < 0:
            raise ConfigError(f"published weight {v!r} is not a finite weight >= 0")
        y.append(float(d))
        unit.append(10.0 ** (-decimals if decimals is not None else d.as_tuple().exponent))
    y_arr = np.array(y)
    if not np.any(y_arr > 0):
        raise ConfigError("the published weights are all 0; nothing to match")
    return y_arr, np.array(unit)


class _Fitter:
    """Scale fitting and scoring of candidate vectors against one published vector."""

    def __init__(self, y: NDArray[np.float64], unit: NDArray[np.float64]) -> None:
        self.y, self.unit, self.h = y, unit, unit / 2 * (1 + 1e-9)
        self.den = np.maximum(y, unit)

    def rounded(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.round(x / self.unit) * self.unit

    def score(self, w: NDArray[np.float64], s: float) -> tuple[float, float, bool]:
        x = s * w
        err = np.abs(self.rounded(x) - self.y) / self.den
        exact = bool(np.all(np.abs(x - self.y) <= self.h))
        rmse = float(np.sqrt(np.mean(((x - self.y) / self.den) ** 2)))
        e = float(err.max())
        e = 0.0 if e < 1e-12 else e  # float noise of the rounding
        return e, rmse, exact or e <= MATCH_TOLERANCE

    def scale(self, w: NDArray[np.float64]) -> float | None:
        """Rule 1 (an interval of exact scales) or rule 2 (minimax relative error)."""
        pos = w > 0
        if not np.any(pos & (self.y > 0)):
            return None
        a, b = w[pos] / self.den[pos], self.y[pos] / self.den[pos]
        lo_all, hi_all = (self.y[pos] - self.h[pos]) / w[pos], (self.y[pos] + self.h[pos]) / w[pos]
        zero_ok = np.all(self.y[~pos] <= self.h[~pos])
        s = self._minimax(a, b)
        lo, hi = max(float(lo_all.max()), 0.0), float(hi_all.min())
        if zero_ok and hi > 0 and lo <= hi:
            margin = 0.25 * (hi - lo)
            s = min(max(s, lo + margin), hi - margin) if hi > lo else lo
        return s

    @staticmethod
    def _minimax(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
        """argmin_s max_i |a_i s - b_i| (convex, piecewise linear) by golden section in log s."""
        ratios = b[b > 0] / a[b > 0]
        if ratios.size == 0:
            return 1.0
        if ratios.size == b.size and np.all(b == 1.0):  # plain relative errors: closed form
            r = a / b
            return float(2.0 / (r.min() + r.max()))
        lo, hi = math.log(ratios.min()), math.log(ratios.max())
        if hi - lo < 1e-15:
            return float(ratios[0])
        g = (math.sqrt(5) - 1) / 2

        def f(t: float) -> float:
            return float(np.max(np.abs(a * math.exp(t) - b)))

        x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
        f1, f2 = f(x1), f(x2)
        for _ in range(80):
            if f1 <= f2:
                hi, x2, f2 = x2, x1, f1
                x1 = hi - g * (hi - lo)
                f1 = f(x1)
            else:
                lo, x1, f1 = x1, x2, f2
                x2 = lo + g * (hi - lo)
                f2 = f(x2)
        return math.exp((lo + hi) / 2)
