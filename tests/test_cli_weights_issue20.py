"""Issue 20: multi-label weights on the CLI, exports that work in their framework (mmseg's
avg_non_ignore formula, a Keras per-pixel sample_weight recipe), --values, the default beta."""

from __future__ import annotations

import ast
import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import save_png

from classweights.cli import cli


def invoke(*args):
    r = CliRunner().invoke(cli, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r


@pytest.fixture
def masks(tmp_path):
    rng = np.random.default_rng(0)
    ms = [rng.choice([0, 0, 0, 1, 2, 255], size=(10, 12)).astype(np.uint8) for _ in range(4)]
    for i, m in enumerate(ms):
        save_png(tmp_path / f"{i}.png", m)
    return tmp_path, ms


@pytest.fixture
def multilabel(tmp_path):
    rng = np.random.default_rng(1)
    stack = (rng.random((3, 4, 6, 7)) < [[[0.5]], [[0.1]], [[0.02]], [[0.3]]]).astype(np.uint8)
    np.save(tmp_path / "ml.npy", stack)
    return tmp_path / "ml.npy", stack


# ---- multi-label ----------------------------------------------------------------------------
def test_compute_multilabel_pos_weight_exports_bce_with_c11_pos_weight(multilabel, tmp_path):
    torch = pytest.importorskip("torch")
    from torch import nn

    path, stack = multilabel
    pos = stack.sum(axis=(0, 2, 3)).astype(float)
    neg = stack.shape[0] * 6 * 7 - pos
    text = invoke("compute", path, "--multilabel", "--num-classes", 4, "--method", "pos_weight",
                  "--export", "pytorch", "--cache-dir", tmp_path / "c").stdout  # fmt: skip
    ns: dict = {}
    exec(text, ns)
    loss = ns["loss"]
    assert isinstance(loss, nn.BCEWithLogitsLoss) and loss.pos_weight.shape == (4, 1, 1)
    np.testing.assert_allclose(loss.pos_weight.numpy().ravel(), neg / pos, rtol=1e-5)
    logits = torch.randn(2, 4, 6, 7)
    assert torch.isfinite(loss(logits, torch.from_numpy(stack[:2]).float()))
    assert "CrossEntropyLoss" not in text

    out = invoke("compute", path, "--multilabel", "--num-classes", 4, "--method", "focal_alpha",
                 "--format", "json", "--cache-dir", tmp_path / "c").stdout  # fmt: skip
    data = json.loads(out)
    np.testing.assert_allclose([c["weight"] for c in data["classes"]], neg / (pos + neg))


def test_load_weights_pos_weight_spatial_dims(multilabel, tmp_path):
    import classweights as cw

    path, stack = multilabel
    pos = stack.sum(axis=(0, 2, 3)).astype(float)
    neg = stack.shape[0] * 6 * 7 - pos
    kw = {"method": "pos_weight", "multilabel": True, "num_classes": 4, "cache_dir": tmp_path / "c"}
    flat = cw.load_weights(path, **kw)
    shaped = cw.load_weights(path, spatial_dims=2, **kw)  # the same record, reshaped
    assert flat.shape == (4,) and shaped.shape == (4, 1, 1)
    np.testing.assert_allclose(shaped.numpy().ravel(), neg / pos, rtol=1e-6)


def test_multilabel_method_with_a_cross_entropy_snippet_is_refused(multilabel, tmp_path):
    path, _ = multilabel
    r = CliRunner().invoke(cli, ["compute", str(path), "--multilabel", "--num-classes", "4",
                                 "--method", "pos_weight", "--export", "mmseg"])  # fmt: skip
    assert r.exit_code == 2 and "exports as pytorch" in r.output


# ---- mmseg: rescaled so that avg_non_ignore keeps the loss scale ----------------------------
def _mmseg_ce(logits, labels, class_weight, ignore_index=255):
    """mmseg's cross_entropy(avg_non_ignore=True), written out in NumPy: the weighted sum of the
    per-pixel losses divided by the number of valid pixels."""
    valid = labels != ignore_index
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    y = np.where(valid, labels, 0)
    picked = np.take_along_axis(logp, y[:, None], axis=1)[:, 0]
    w = np.asarray(class_weight)[y]
    return float((-(w * picked) * valid).sum() / valid.sum())


def test_mmseg_export_keeps_the_loss_scale(masks):
    folder, ms = masks
    base = [folder, "--num-classes", 3, "--ignore-index", 255, "--no-cache"]
    text = invoke("compute", *base, "--export", "mmseg").stdout
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "dict":
            kw = {k.arg: k.value for k in node.keywords}
    exported = np.array(ast.literal_eval(kw["class_weight"]))
    assert "pixel-weighted mean is 1" in text and "avg_non_ignore=True" in text  # the 0.x form
    labels = np.stack(ms).astype(np.int64)
    pixels = np.array([(labels == c).sum() for c in range(3)], float)
    data = json.loads(invoke("compute", *base, "--format", "json").stdout)
    raw = np.array([c["weight"] for c in data["classes"]])
    np.testing.assert_allclose(exported / raw, (exported / raw)[0], rtol=1e-5)  # same ratios
    np.testing.assert_allclose((exported * pixels).sum() / pixels.sum(), 1.0, rtol=1e-5)
    uniform = np.zeros((labels.shape[0], 3, *labels.shape[1:]))  # every pixel: ce = ln 3
    unweighted = _mmseg_ce(uniform, labels, np.ones(3))
    assert _mmseg_ce(uniform, labels, exported) == pytest.approx(unweighted, rel=1e-5)
    assert _mmseg_ce(uniform, labels, raw) != pytest.approx(unweighted, rel=1e-3)  # the bug


# ---- keras: a per-pixel sample_weight recipe ------------------------------------------------
def test_keras_export_is_a_sample_weight_function(masks):
    folder, ms = masks
    base = [folder, "--num-classes", 3, "--ignore-index", 255, "--no-cache"]
    text = invoke("compute", *base, "--export", "keras").stdout
    data = json.loads(invoke("compute", *base, "--format", "json").stdout)
    w = [c["weight"] for c in data["classes"]]
    ns: dict = {}
    exec(text, ns)  # the snippet alone (NumPy only; Keras is not needed to build the map)
    batch = np.stack(ms).astype(np.int64)
    batch[0, 0, :3] = [7, -1, 3]  # unknown labels weigh 0 too
    got = ns["sample_weight"](batch)
    assert got.shape == batch.shape and got.dtype == np.float32
    for idx in np.ndindex(batch.shape):  # the obvious loop
        v = int(batch[idx])
        want = w[v] if 0 <= v < 3 else 0.0
        assert got[idx] == pytest.approx(want, rel=1e-5)
    assert "class_weight = {" not in text and "Void (255)" in text


# ---- manual values, beta --------------------------------------------------------------------
def test_manual_values_inline_and_from_a_file(masks, tmp_path):
    folder, _ = masks
    base = [folder, "--num-classes", 3, "--ignore-index", 255, "--no-cache", "--format", "json",
            "--method", "manual", "--normalize", "none"]  # fmt: skip
    data = json.loads(invoke("compute", *base, "--values", "1,2.5,4").stdout)
    assert [c["weight"] for c in data["classes"]] == [1.0, 2.5, 4.0]
    (tmp_path / "w.json").write_text('{"2": 3.0}')
    data = json.loads(invoke("compute", *base, "--values", tmp_path / "w.json").stdout)
    assert [c["weight"] for c in data["classes"]] == [1.0, 1.0, 3.0]
    r = CliRunner().invoke(cli, ["compute", *map(str, base[:-4]), "--method", "manual"])
    assert r.exit_code == 2 and "--values" in r.output


def test_compare_effective_num_is_not_a_column_of_ones(masks):
    folder, ms = masks
    data = json.loads(invoke("compare", folder, "--num-classes", 3, "--ignore-index", 255,
                             "--no-cache", "--format", "json").stdout)  # fmt: skip
    eff = np.array(data["methods"]["effective_num"])
    labels = np.stack(ms)
    n = np.array([(labels == c).sum() for c in range(3)], float)
    beta = 1 - 1 / n.max()
    raw = (1 - beta) / (1 - beta**n)
    np.testing.assert_allclose(eff, raw / raw.mean(), rtol=1e-9)
    assert eff.max() / eff.min() > 1.5
