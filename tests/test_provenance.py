"""`explain` and `match`: round trips over the whole grid of methods and conventions."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from classweights.errors import ConfigError
from classweights.provenance import MATCH_TOLERANCE, explain, match
from classweights.stats import ClassStats
from classweights.weights import (
    METHOD_INFO,
    NORMALIZE_MODES,
    ClassWeightsWarning,
    compute_weights,
    suggest_beta,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "masks"
BASE = [str(EXAMPLES), "--num-classes", "19", "--ignore-index", "255", "-q"]


def quiet(stats, method, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClassWeightsWarning)
        return compute_weights(stats, method, **kw)


def table(seed: int, c: int = 7, n: int = 30, absent: bool = False) -> ClassStats:
    """Skewed per-image counts with ignored pixels (so the void variants differ)."""
    rng = np.random.default_rng(seed)
    scale = np.exp(rng.uniform(4, 9, c))
    counts = (rng.lognormal(0, 1, (n, c)) * scale * (rng.random((n, c)) < 0.6)).astype(np.int64)
    if absent:
        counts[:, 2] = 0
    ignored = rng.integers(0, 500, n) * (rng.random(n) < 0.7)
    return ClassStats.from_counts(counts, image_ignored=ignored, ignore_index=255)


def grid(stats: ClassStats) -> list[tuple[str, dict]]:
    """The conventions match claims to search (written out independently of its code)."""
    pts = [("inverse_freq", {}), ("sqrt_inv_freq", {}), ("uniform", {})]
    pts += [("effective_num", {"beta": b, "count": count})
            for count, n in (("pixels", stats.pixels), ("images", stats.images))
            for b in (0.9, 0.99, 0.999, 0.9999, suggest_beta(n[n > 0]))]  # fmt: skip
    pts += [("median_freq", {"median_over": o, "median_denominator": d})
            for o in ("classes", "all") for d in ("all", "labelled")]  # fmt: skip
    pts += [
        ("enet", {"enet_c": c, "enet_share": s})
        for c in (1.02, 1.10, 1.2)
        for s in ("labelled", "all")
    ]
    pts += [("power", {"power": p}) for p in (0.25, 0.5, 0.75, 1.0, 1.25, 1.5)]
    return pts


def published(w, rng, scale=None):
    s = rng.uniform(0.5, 20) / w.max() if scale is None else scale
    return [f"{v:.4f}" for v in w * s], s


def reproduces(stats, cand, pub):
    """The candidate's own options, through compute_weights, times its scale, give `pub`."""
    y = np.array([float(v) for v in pub])
    x = quiet(stats, cand.method, **cand.options) * cand.scale
    if cand.void:  # the last entry is the ignore label's own weight (checked separately)
        y = y[:-1]
    return np.all(np.abs(x - y) <= 0.5e-4 * (1 + 1e-9))


@pytest.mark.parametrize(("seed", "absent"), [(0, False), (1, True)])
def test_every_grid_point_is_recovered_with_unknown_scale(seed, absent):
    stats = table(seed, absent=absent)
    rng = np.random.default_rng(seed)
    for i, (method, opts) in enumerate(grid(stats)):
        normalize = NORMALIZE_MODES[i % len(NORMALIZE_MODES)]
        absent_policy = ("zero", "max", "mean")[i % 3]
        w = quiet(stats, method, normalize=normalize, absent=absent_policy, **opts)
        pub, _ = published(w, rng)
        best = match(stats, pub)[0]
        assert best.fits, (method, opts, best)
        assert best.max_rel_error <= MATCH_TOLERANCE
        np.testing.assert_allclose(best.predicted, [float(v) for v in pub], atol=1e-12)
        assert reproduces(stats, best, pub), (method, opts, best.label)


@pytest.mark.parametrize("normalize", NORMALIZE_MODES)
def test_normalisation_is_reported_when_it_explains_the_scale(normalize):
    stats = table(3)
    w = quiet(stats, "median_freq", median_over="all", normalize=normalize)
    pub = [f"{v:.4f}" for v in w]
    best = match(stats, pub)[0]
    assert best.fits
    assert best.scale == 1.0
    assert reproduces(stats, best, pub)
    assert "then multiply" not in best.command
    assert f"--normalize {best.options['normalize']}" in best.command


def void_stats(stats: ClassStats) -> ClassStats:
    """The same images with the ignore label made a real class (last column)."""
    counts = np.column_stack([stats.counts.astype(np.int64), stats.image_ignored])
    return ClassStats.from_counts(counts, image_total=stats.image_total)


# (options on the original statistics, options on the void-as-class statistics)
VOID_EQUIVALENT = [
    ("inverse_freq", {}, {}),
    ("sqrt_inv_freq", {}, {}),
    ("power", {"power": 0.75}, {"power": 0.75}),
    ("effective_num", {"beta": 0.999, "count": "pixels"}, {"beta": 0.999, "count": "pixels"}),
    ("effective_num", {"beta": 0.9, "count": "images"}, {"beta": 0.9, "count": "images"}),
    ("median_freq", {"median_over": "all"}, {"median_over": "classes"}),
    ("enet", {"enet_c": 1.1, "enet_share": "all"}, {"enet_c": 1.1, "enet_share": "labelled"}),
]


@pytest.mark.parametrize(("method", "opts", "void_opts"), VOID_EQUIVALENT)
def test_published_vector_with_the_ignore_label_as_a_class(method, opts, void_opts):
    stats = table(4)
    rng = np.random.default_rng(4)
    w = quiet(void_stats(stats), method, normalize="none", **void_opts)  # C + 1 weights
    pub, _ = published(w, rng)
    best = match(stats, pub)[0]
    assert best.fits, best
    assert best.void == "formula"
    np.testing.assert_allclose(best.predicted, [float(v) for v in pub], atol=1e-12)
    assert reproduces(stats, best, pub)


def test_void_weight_zero_is_recognised():
    stats = table(5)
    w = quiet(stats, "median_freq", median_over="all", normalize="none")
    best = match(stats, [*(f"{v:.4f}" for v in w), "0"])[0]
    assert best.fits
    assert best.void == "zero"
    assert best.method == "median_freq"


@pytest.mark.parametrize("seed", range(4))
def test_an_arbitrary_vector_is_unmatched(seed):
    stats = table(seed)
    rng = np.random.default_rng(100 + seed)
    pub = [f"{v:.4f}" for v in rng.lognormal(0, 1, stats.num_classes)]
    found = match(stats, pub, top=50)
    assert found
    assert not any(c.fits for c in found)
    assert found[0].max_rel_error > MATCH_TOLERANCE


def test_length_mismatch_names_both_lengths():
    stats = table(0)
    with pytest.raises(ConfigError, match=r"has 3 weights .* 7 classes"):
        match(stats, [1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match="8 weights"):
        match(stats, [1.0] * 8, include_void_variants=False)


def test_precision_is_read_from_floats_too():
    stats = ClassStats.from_counts([[600, 300, 100]])
    best = match(stats, [0.5556, 1.1111, 3.3333])[0]
    assert best.method == "inverse_freq"
    assert best.fits
    assert best.scale == 1.0
    # a coarser published precision still fits, a wrong digit does not
    assert match(stats, [0.56, 1.11, 3.33])[0].fits
    assert not match(stats, [0.5556, 1.1111, 3.3533])[0].fits


def test_refinement_finds_an_off_grid_power():
    stats = table(6)
    w = quiet(stats, "power", power=0.4, normalize="mean")
    best = match(stats, [f"{v:.4f}" for v in w])[0]
    assert best.fits
    assert best.method == "power"
    assert best.refined
    assert abs(best.options["power"] - 0.4) < 0.01


# ---- explain ----------------------------------------------------------------------------
EXPLAIN_CASES = [
    ("inverse_freq", {"normalize": "none"}),
    ("sqrt_inv_freq", {"normalize": "mean", "clip": (0.2, 3.0), "renormalize": True}),
    ("power", {"power": 0.75, "normalize": "max"}),
    ("effective_num", {"beta": 0.999, "count": "images", "normalize": "sum"}),
    ("median_freq", {"median_over": "all", "median_denominator": "labelled", "normalize": "none"}),
    (
        "median_freq",
        {
            "median_over": "classes",
            "median_denominator": "all",
            "normalize": "mean",
            "absent": "max",
        },
    ),
    ("enet", {"enet_c": 1.1, "enet_share": "all", "normalize": "none"}),
    ("uniform", {"normalize": "mean"}),
    ("manual", {"manual": [1, 2, 3, 4, 5, 6, 7], "normalize": "max"}),
]


def record_of(stats, method, opts):
    from classweights.cache.record import weight_record

    w = quiet(stats, method, **opts)
    return weight_record(stats, w, method, opts, fingerprint="f00d"), w


@pytest.mark.parametrize(("method", "opts"), EXPLAIN_CASES)
@pytest.mark.parametrize("absent", [False, True])
def test_explain_states_formula_options_and_reproduces_the_weight(method, opts, absent):
    stats = table(7, absent=absent)
    record, w = record_of(stats, method, opts)
    for c in (None, 0, 2, 6):
        text = explain(record, c)
        assert METHOD_INFO[method]["formula"] in text
        for key, value in record["options"].items():
            assert f"{key}={value!r}" in text
        final, stored = map(float, re.search(r"weight = (\S+)\s+\(stored: (\S+)\)", text).groups())
        k = int(np.argmin(np.where(stats.pixels > 0, stats.pixels, np.inf))) if c is None else c
        assert final == pytest.approx(w[k], rel=1e-5, abs=1e-12)
        assert stored == pytest.approx(w[k], rel=1e-5, abs=1e-12)
        assert "warning" not in text
        assert "f00d" in text
        assert "0.1.0" in text


def test_explain_inverse_freq_substitutes_the_counts():
    stats = ClassStats.from_counts([[600, 300, 100]])
    record, _ = record_of(stats, "inverse_freq", {"normalize": "none"})
    assert "w_c = N / (C * n_c) = 1000 / (3 * 100) = 3.33333" in explain(record)


# ---- command line -------------------------------------------------------------------------
def test_cli_match_json_finds_weights_made_on_the_examples(tmp_path):
    from classweights.cli.provenance import match as match_cmd
    from classweights.scan import scan

    stats = scan(str(EXAMPLES), num_classes=19, ignore_index=255)
    w = quiet(stats, "enet", enet_c=1.1, normalize="mean") * 0.37
    runner = CliRunner()
    args = [*BASE, "--cache-dir", str(tmp_path), "--weights", ",".join(f"{v:.4f}" for v in w)]
    out = runner.invoke(match_cmd, [*args, "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    best = data["candidates"][0]
    assert data["fits"]
    assert best["method"] == "enet"
    assert best["options"]["enet_c"] == 1.1
    assert "classweights compute" in best["command"]
    assert "--enet-c 1.1" in best["command"]
    text = runner.invoke(match_cmd, args)
    assert text.exit_code == 0
    assert "reproduced" in text.output


def test_cli_match_reports_no_fit_and_bad_lengths(tmp_path):
    from classweights.cli.provenance import match as match_cmd

    rng = np.random.default_rng(0)
    runner = CliRunner()
    base = [*BASE, "--cache-dir", str(tmp_path)]
    out = runner.invoke(
        match_cmd, [*base, "--weights", ",".join(f"{v:.4f}" for v in rng.lognormal(0, 1, 19))]
    )
    assert out.exit_code == 0
    assert "nothing fits" in out.output
    bad = runner.invoke(match_cmd, [*base, "--weights", "1,2,3"])
    assert bad.exit_code == 2
    assert "3 weights" in bad.output


def test_cli_match_weights_file(tmp_path):
    from classweights.cli.provenance import match as match_cmd
    from classweights.scan import scan

    stats = scan(str(EXAMPLES), num_classes=19, ignore_index=255)
    w = quiet(stats, "sqrt_inv_freq", normalize="sum")
    f = tmp_path / "w.json"
    f.write_text("[" + ", ".join(f"{v:.4f}" for v in w) + "]")
    out = CliRunner().invoke(
        match_cmd,
        [*BASE, "--cache-dir", str(tmp_path), "--weights-file", str(f), "--format", "json"],
    )
    assert out.exit_code == 0, out.output
    best = json.loads(out.stdout)["candidates"][0]
    assert best["fits"]
    assert best["scale"] == 1.0


def test_cli_explain_pth(tmp_path):
    from classweights.cache.record import save_record
    from classweights.cli.provenance import explain as explain_cmd

    stats = table(8)
    record, _ = record_of(
        stats, "effective_num", {"beta": 0.99, "count": "images", "normalize": "sum"}
    )
    path = save_record(record, tmp_path / "w.pth")
    runner = CliRunner()
    out = runner.invoke(explain_cmd, [str(path)])
    assert out.exit_code == 0, out.output
    assert METHOD_INFO["effective_num"]["formula"] in out.output
    assert "beta=0.99" in out.output
    js = runner.invoke(explain_cmd, [str(path), "--format", "json", "--class", "1"])
    assert js.exit_code == 0, js.output
    data = json.loads(js.stdout)
    assert data["record"]["method"] == "effective_num"
    assert "class 1" in data["explanation"]
    missing = runner.invoke(explain_cmd, [str(tmp_path / "nope.pth")])
    assert missing.exit_code == 2


def test_cli_explain_cache_key(tmp_path):
    import classweights as cw
    from classweights.cache import Store
    from classweights.cli.provenance import explain as explain_cmd

    cw.load_weights(str(EXAMPLES), method="enet", num_classes=19, ignore_index=255,
                    cache_dir=tmp_path, enet_c=1.1, normalize="none")  # fmt: skip
    key = Store(tmp_path).entries()[0].key
    out = CliRunner().invoke(explain_cmd, [key, "--cache-dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "enet_c=1.1" in out.output
    assert "clip=None" in out.output  # the record holds every option, defaults too
    assert key in out.output  # the fingerprint


def test_l1_normalisation_is_named_in_the_scale_note():
    stats = table(9)
    w = quiet(stats, "enet", enet_c=1.02, normalize="none")
    best = match(stats, [f"{v:.5f}" for v in w / w.sum()])[0]
    assert best.fits
    assert best.scale_note == "the weights sum to 1 (L1)"
    assert "sum to 1" in best.command
