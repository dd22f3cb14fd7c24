"""`match` says plainly that published median-frequency weights are usually unnormalised
(SegNet's table): a user comparing with classweights' default mean-1 vector sees another scale
first (issue 30). The published vector is computed here with NumPy, as Eigen & Fergus define it."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from conftest import save_png

from classweights.provenance import MEDIAN_FREQ_NOTE


def _median_freq(masks, c):
    """freq_c = pixels of c / pixels of the images holding c; w_c = median(freq) / freq_c."""
    pixels = np.zeros(c)
    image_pixels = np.zeros(c)
    for m in masks:
        counts = np.bincount(m.ravel(), minlength=c)
        pixels += counts
        image_pixels += (counts > 0) * m.size
    freq = pixels / image_pixels
    return np.median(freq) / freq


def test_match_of_segnet_style_weights_names_normalize_none_plainly(tmp_path):
    rng = np.random.default_rng(0)
    p = np.array([0.3, 0.25, 0.02, 0.2, 0.1, 0.06, 0.01, 0.02, 0.02, 0.01, 0.01])
    masks = [rng.choice(11, size=(24, 32), p=p).astype(np.uint8) for _ in range(6)]
    for i, m in enumerate(masks):
        save_png(tmp_path / f"0001TP_{i:06d}.png", m)
    published = ",".join(f"{w:.4f}" for w in _median_freq(masks, 11))
    base = [sys.executable, "-m", "classweights.cli", "match", str(tmp_path), "--num-classes",
            "11", "--weights", published, "--no-cache"]  # fmt: skip
    text = subprocess.run(base, capture_output=True, text=True, timeout=300)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("reproduced: the published weights are median_freq")
    assert "normalize=none" in text.stdout.splitlines()[0]
    assert f"note: {MEDIAN_FREQ_NOTE}" in " ".join(text.stdout.split())
    out = subprocess.run([*base, "--format", "json"], capture_output=True, text=True, timeout=300)
    data = json.loads(out.stdout)
    assert data["notes"] == [MEDIAN_FREQ_NOTE] and "--normalize none" in MEDIAN_FREQ_NOTE
