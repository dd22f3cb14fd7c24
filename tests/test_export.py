"""`--export`: files the loader and numpy read, and snippets that evaluate (PyTorch) or parse
(mmsegmentation, MONAI, Keras) to the same weights."""

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from classweights.cli import cli
from classweights.export import snippet, to_text, weights_mapping, write_export

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "masks"
BASE = [str(EXAMPLES), "--num-classes", "19", "--ignore-index", "255", "--classes", "cityscapes"]


def invoke(*args):
    r = CliRunner().invoke(cli, ["compute", *BASE, *args])
    assert r.exit_code == 0, r.output
    return r


@pytest.fixture(scope="module")
def expected():
    """sqrt_inv_freq by hand from the JSON pixel counts: 1/sqrt(share), mean 1 over the classes."""
    data = json.loads(CliRunner().invoke(cli, ["stats", *BASE, "--format", "json"]).stdout)
    pixels = np.array([c["pixels"] for c in data["classes"]], float)
    w = 1 / np.sqrt(pixels / pixels.sum())
    return w / w.mean()


def call_kwargs(tree, func_name):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            if name == func_name:
                return {k.arg: k.value for k in node.keywords}
    raise AssertionError(f"no call to {func_name}")


def test_pytorch_snippet_evaluates_to_the_loss(expected):
    torch = pytest.importorskip("torch")
    from torch import nn

    text = invoke("--export", "pytorch").stdout
    ns = {"torch": torch, "nn": nn}
    exec(text, ns)  # the snippet alone, exactly as printed
    loss = ns["loss"]
    assert isinstance(loss, nn.CrossEntropyLoss) and loss.ignore_index == 255
    np.testing.assert_allclose(loss.weight.numpy(), expected, rtol=1e-5)
    logits, target = torch.randn(2, 19, 4, 4), torch.randint(0, 19, (2, 4, 4))
    target[0, 0] = 255
    assert torch.isfinite(loss(logits, target))


def test_mmseg_snippet_parses(expected):
    text = invoke("--export", "mmseg").stdout
    kw = call_kwargs(ast.parse(text), "dict")
    assert ast.literal_eval(kw["type"]) == "ClassWeightedCELoss"  # the 1.2.x recipe (issue 31)
    assert ast.literal_eval(kw["loss_weight"]) == 1.0
    # rescaled (issue 20): same ratios as the weights, pixel-weighted mean 1
    data = json.loads(CliRunner().invoke(cli, ["stats", *BASE, "--format", "json"]).stdout)
    pixels = np.array([c["pixels"] for c in data["classes"]], float)
    cw = np.array(ast.literal_eval(kw["class_weight"]))
    np.testing.assert_allclose(cw / expected, (cw / expected)[0], rtol=1e-5)
    assert (cw * pixels).sum() / pixels.sum() == pytest.approx(1.0, rel=1e-5)
    assert "loss_decode=dict(" in text and "ignore_index=255" in text
    # the versions it was checked against, the 0.x form, and the .npy note
    assert "checked against the 1.2.2 source" in text and "#3734" in text
    assert "type='CrossEntropyLoss'" in text and "avg_non_ignore=True" in text
    assert ".npy" in text


def test_monai_snippet_parses(expected):
    text = invoke("--export", "monai").stdout
    kw = call_kwargs(ast.parse(text), "DiceCELoss")
    assert ast.literal_eval(kw["to_onehot_y"]) is True and ast.literal_eval(kw["softmax"]) is True
    tensor_call = kw["weight"]
    assert isinstance(tensor_call, ast.Call) and tensor_call.func.attr == "tensor"
    np.testing.assert_allclose(ast.literal_eval(tensor_call.args[0]), expected, rtol=1e-5)
    assert "no ignore_index" in text


def test_keras_snippet_parses(expected):
    text = invoke("--export", "keras").stdout
    ns: dict = {}
    exec(text, ns)  # a per-pixel sample_weight recipe (issue 20), NumPy only
    np.testing.assert_allclose(ns["CLASS_WEIGHTS"], expected, rtol=1e-5)
    labels = np.array([[0, 18, 255]])
    np.testing.assert_allclose(
        ns["sample_weight"](labels), [[expected[0], expected[18], 0.0]], rtol=1e-5
    )


def test_snippet_on_stdout_is_exactly_the_snippet():
    out = invoke("--export", "keras").stdout
    data = json.loads(invoke("--export", "json").stdout)
    assert (
        out
        == snippet(
            "keras", data["weights"], class_names=data["class_names"], method="sqrt_inv_freq",
            ignore_index=data["ignore_index"],
        )
        + "\n"
    )
    assert "total" not in out and "imbalance" not in out


def test_json_and_yaml_to_stdout_and_to_files(tmp_path, expected):
    data = json.loads(invoke("--export", "json").stdout)
    assert (
        data["method"] == "sqrt_inv_freq"
        and data["ignore_index"] == 255
        and data["class_names"][0] == "road"
    )
    np.testing.assert_allclose(data["weights"], expected, rtol=1e-12)
    doc = yaml.safe_load(invoke("--export", "yaml").stdout)
    np.testing.assert_allclose(doc["weights"], expected, rtol=1e-12)
    assert doc["options"]["normalize"] == "mean"
    invoke("-o", str(tmp_path / "w.yaml"))  # format from the suffix
    assert yaml.safe_load((tmp_path / "w.yaml").read_text())["num_classes"] == 19
    r = invoke("--export", "json", "-o", str(tmp_path / "w.txt"))
    assert "total" in r.stdout  # the table still goes to stdout when the export goes to a file
    assert json.loads((tmp_path / "w.txt").read_text())["weights"] == data["weights"]


def test_npy_and_pth_need_an_output_file(tmp_path, expected):
    for fmt in ("npy", "pth"):
        r = CliRunner().invoke(cli, ["compute", *BASE, "--export", fmt])
        assert r.exit_code == 2 and "--output" in r.output
    invoke("--export", "npy", "-o", str(tmp_path / "w.npy"))
    arr = np.load(tmp_path / "w.npy")
    assert arr.dtype == np.float64 and arr.shape == (19,)
    np.testing.assert_allclose(arr, expected, rtol=1e-12)


def test_pth_export_is_the_loader_record(tmp_path, expected):
    pytest.importorskip("torch")
    from classweights.cache.record import load_record

    invoke("--export", "pth", "--output", str(tmp_path / "a.bin"))
    invoke("-o", str(tmp_path / "b.pth"))
    a, b = load_record(tmp_path / "a.bin"), load_record(tmp_path / "b.pth")
    assert a["method"] == b["method"] == "sqrt_inv_freq" and a["ignore_index"] == 255
    np.testing.assert_allclose(a["weights"].numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(a["weights"].numpy(), b["weights"].numpy())
    assert a["dataset"]["fingerprint"] and a["counts"]["pixels"].sum() > 0


def test_stdout_export_and_a_stdout_format_are_refused():
    r = CliRunner().invoke(cli, ["compute", *BASE, "--export", "mmseg", "--format", "json"])
    assert r.exit_code == 2 and "--output" in r.output


def test_pure_functions(tmp_path):
    text = snippet("pytorch", [1.0, 0.25], ignore_index=None, class_names=["a", "b"])
    assert "ignore_index" not in text
    m = weights_mapping(np.array([1.0, 2.0]), method="manual", options={"clip": (0.1, None)})
    assert m["options"]["clip"] == [0.1, None] and json.loads(to_text("json", m))["weights"] == [
        1.0,
        2.0,
    ]
    p = write_export("mmseg", tmp_path / "sub" / "loss.py", [1.0, 2.0], method="manual")
    assert ast.literal_eval(call_kwargs(ast.parse(p.read_text()), "dict")["class_weight"]) == [
        1.0,
        2.0,
    ]
    assert not list((tmp_path / "sub").glob("*.tmp"))
    with pytest.raises(ValueError, match="choose one of"):
        snippet("caffe", [1.0])


@pytest.mark.parametrize("suffix", [".pth", ".npy", ".json", ".yaml"])
def test_every_file_export_feeds_the_losses(tmp_path, expected, suffix):
    """`compute -o w.npy` (or .json/.yaml) and then `weight="w.npy"` in a loss: only .pth was
    read, and the message for the others repeated torch's advice to unpickle them."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    from classweights.losses import CrossEntropyLoss

    path = tmp_path / f"w{suffix}"
    invoke("-o", str(path))
    loss = CrossEntropyLoss(weight=str(path), ignore_index=255)
    np.testing.assert_allclose(loss.weight.numpy(), expected, rtol=1e-6)
    logits, target = torch.randn(2, 19, 4, 4), torch.randint(0, 19, (2, 4, 4))
    target[0, 0] = 255
    want = F.cross_entropy(logits, target, weight=torch.tensor(expected, dtype=torch.float32),
                           ignore_index=255)  # fmt: skip
    torch.testing.assert_close(loss(logits, target), want)


def test_a_weight_file_that_is_not_one_is_named_with_the_formats(tmp_path):
    pytest.importorskip("torch")
    import pickle

    from classweights.errors import ConfigError
    from classweights.losses import CrossEntropyLoss

    (tmp_path / "w.json").write_text('{"method": "x"}')
    with pytest.raises(ConfigError, match=r"w\.json: expected a list of weights or a mapping"):
        CrossEntropyLoss(weight=str(tmp_path / "w.json"))
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ConfigError, match=r"o\.npy: not a readable \.npy weight file"):
        CrossEntropyLoss(weight=str(tmp_path / "o.npy"))
    (tmp_path / "p.pth").write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    with pytest.raises(ConfigError) as e:
        CrossEntropyLoss(weight=str(tmp_path / "p.pth"))
    assert "never unpickled" in str(e.value) and "weights_only` set to `False" not in str(e.value)


def test_show_reads_every_export_and_refuses_a_bad_one_in_one_line(tmp_path, expected):
    pytest.importorskip("torch")
    for suffix in (".pth", ".npy", ".json", ".yaml"):
        path = tmp_path / f"w{suffix}"
        invoke("-o", str(path))
        r = CliRunner().invoke(cli, ["show", str(path), "--format", "json"])
        assert r.exit_code == 0, r.output
        np.testing.assert_allclose(json.loads(r.stdout)["weights"], expected, rtol=1e-6)
    bad = tmp_path / "bad.json"
    bad.write_text('{"weights": [1, "x"], "class_names": ["a"]}')
    r = CliRunner().invoke(cli, ["show", str(bad)])
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [
        f"error: {bad}: 'weights' is not a list of finite numbers (one per class); re-export "
        "it with `classweights compute -o`"
    ]
    odd = tmp_path / "odd.json"  # names that do not fit are dropped, text stays text
    odd.write_text('{"weights": [1, 2], "class_names": ["a"], "method": "[red]x"}')
    r = CliRunner().invoke(cli, ["show", str(odd), "--format", "json"])
    data = json.loads(r.stdout)
    assert data["class_names"] is None and data["method"] == "[red]x"
