"""`compare_splits` and `classweights compare-splits` against a NumPy count of the masks and
SciPy's Jensen-Shannon distance."""

import csv
import io
import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import save_png
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

import classweights as cw
from classweights.cli import cli
from classweights.errors import ClassWeightsError
from classweights.splits import compare_splits, js_divergence

C = 5


def make_split(folder, seed, n, absent=()):
    """PNG masks with labels 0..C-1 and 255; returns the masks."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    masks = []
    for i in range(n):
        m = rng.integers(0, C, size=(12, 16)).astype(np.uint8)
        m[rng.random(m.shape) < 0.1] = 255
        for a in absent:
            m[m == a] = 255
        save_png(folder / f"m{i}.png", m)
        masks.append(m)
    return masks


def reference(masks):
    """Pixels, shares and images per class by a plain loop."""
    pixels = np.zeros(C, np.int64)
    images = np.zeros(C, np.int64)
    for m in masks:
        for c in range(C):
            k = int((m == c).sum())
            pixels[c] += k
            images[c] += k > 0
    return pixels, pixels / pixels.sum(), images


@pytest.fixture
def two_splits(tmp_path):
    train = make_split(tmp_path / "train", 1, 6, absent=(3,))
    val = make_split(tmp_path / "val", 2, 4, absent=(4,))
    return tmp_path, train, val


def test_shares_ratio_missing_and_divergence_match_numpy(two_splits):
    root, train, val = two_splits
    kw = {"num_classes": C, "ignore_index": 255}
    d = compare_splits(cw.scan(root / "train", **kw), cw.scan(root / "val", **kw))
    pa, sa, ia = reference(train)
    pb, sb, ib = reference(val)
    rows = d["classes"]
    assert [r["pixels_a"] for r in rows] == pa.tolist()
    assert [r["pixels_b"] for r in rows] == pb.tolist()
    np.testing.assert_allclose([r["share_a"] for r in rows], sa, rtol=1e-12)
    np.testing.assert_allclose([r["share_b"] for r in rows], sb, rtol=1e-12)
    assert [r["images_a"] for r in rows] == ia.tolist()
    assert [r["images_b"] for r in rows] == ib.tolist()
    np.testing.assert_allclose([r["image_frac_b"] for r in rows], ib / 4)
    assert rows[3]["ratio"] is None
    assert rows[3]["missing_from"] == "a"
    assert rows[4]["ratio"] == 0.0
    assert rows[4]["missing_from"] == "b"
    assert rows[0]["ratio"] == pytest.approx(sb[0] / sa[0], rel=1e-12)
    assert d["missing"] == {"a": [3], "b": [4]}
    assert d["images"] == [6, 4]
    js = jensenshannon(sa, sb, base=2) ** 2  # SciPy gives the distance (square root)
    assert d["js_divergence_bits"] == pytest.approx(js, rel=1e-9)
    assert d["js_distance"] == pytest.approx(np.sqrt(js), rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 10**9), min_size=2, max_size=8).flatmap(
        lambda p: st.tuples(
            st.just(p), st.lists(st.integers(0, 10**9), min_size=len(p), max_size=len(p))
        )
    )
)
def test_js_divergence_matches_scipy(pq):
    p, q = pq
    if sum(p) == 0 or sum(q) == 0:
        return
    want = jensenshannon(np.array(p, float), np.array(q, float), base=2) ** 2
    assert js_divergence(p, q) == pytest.approx(want, abs=1e-12)
    assert 0.0 <= js_divergence(p, q) <= 1.0


def test_hand_computed_divergence():
    # P = (1/2, 1/2, 0), Q = (1/2, 0, 1/2): M = (1/2, 1/4, 1/4); KL(P||M) = 1/2 log2 2 = 0.5
    assert js_divergence([1, 1, 0], [1, 0, 1]) == pytest.approx(0.5)
    assert js_divergence([0, 0], [0, 0]) == 0.0


def test_different_label_spaces_are_refused():
    with pytest.raises(ClassWeightsError, match="num_classes=2 and num_classes=3"):
        compare_splits(cw.ClassStats.from_counts([[1, 1]]), cw.ClassStats.from_counts([[1, 1, 1]]))


def invoke(root, *extra):
    args = ["compare-splits", str(root / "train"), str(root / "val"),
            "--num-classes", str(C), "--ignore-index", "255", "--no-cache", *extra]  # fmt: skip
    return CliRunner().invoke(cli, args)


def test_cli_formats_agree_with_numpy(two_splits):
    root, train, val = two_splits
    pa, sa, _ = reference(train)
    _, sb, ib = reference(val)
    r = invoke(root, "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert [c["pixels_a"] for c in data["classes"]] == pa.tolist()
    assert data["labels"] == [str(root / "train"), str(root / "val")]
    js = jensenshannon(sa, sb, base=2) ** 2
    assert data["js_divergence_bits"] == pytest.approx(js, rel=1e-9)

    r = invoke(root, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert [int(x["images_b"]) for x in rows] == ib.tolist()
    assert rows[3]["ratio"] == ""
    assert rows[3]["missing_from"] == "a"
    np.testing.assert_allclose([float(x["share_b"]) for x in rows], sb, rtol=1e-12)

    r = invoke(root, "--format", "markdown")
    lines = r.output.splitlines()
    assert lines[0].startswith("| id | class | share A | share B | B/A |")
    assert lines[2].split(" | ")[5] == f"{pa[0]:,}"
    assert f"Jensen-Shannon divergence {js:.4f} bits" in r.output
    assert f"missing from {root / 'train'}: 3" in r.output

    r = invoke(root)
    assert r.exit_code == 0, r.output
    assert "class shares by split" in r.output
    assert f"{js:.4f} bits" in r.output


def test_cli_table_shows_names_as_text(two_splits):
    root, _, _ = two_splits
    names = root / "names.txt"
    names.write_text("[b]road[/b]\n[red]x\nc\nd\ne\n")
    r = invoke(root, "--classes", str(names))
    assert r.exit_code == 0, r.output
    assert "[b]road[/b]" in r.output
    assert "[red]x" in r.output


def test_cli_needs_exactly_two_splits(two_splits):
    root, _, _ = two_splits
    r = CliRunner().invoke(cli, ["compare-splits", str(root / "train"), "--num-classes", "5"])
    assert r.exit_code == 2
    assert "expected two splits" in r.output


def test_one_dataset_folder_with_a_layout_compares_its_train_and_val(tmp_path):
    """`compare-splits ROOT --layout cityscapes` = train vs val of that tree, counted exactly."""
    from test_layouts import _cityscapes_tree

    from classweights.labels import CITYSCAPES_TRAIN_IDS

    root, masks = _cityscapes_tree(tmp_path, np.random.default_rng(11), train_ids=True)
    r = CliRunner().invoke(cli, ["compare-splits", str(root), "--layout", "cityscapes",
                                 "--format", "json", "--no-cache"])  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads(r.output[r.output.index("{"):])
    assert data["labels"] == ["train", "val"]
    assert data["images"] == [4, 2]
    for side, split in (("a", "train"), ("b", "val")):  # a naive loop over the written labelIds
        want = np.zeros(19, np.int64)
        for m in masks[split]:
            for v in m.ravel():
                t = CITYSCAPES_TRAIN_IDS.get(int(v), 255)
                if t != 255:
                    want[t] += 1
        assert [row[f"pixels_{side}"] for row in data["classes"]] == want.tolist()
    args = ["compare-splits", str(root), "--layout", "cityscapes", "--no-cache"]
    r = CliRunner().invoke(cli, [*args, "--split", "val,train", "--format", "json"])
    assert json.loads(r.output[r.output.index("{"):])["labels"] == ["val", "train"]
    r = CliRunner().invoke(cli, [*args, "--split", "train"])
    assert r.exit_code == 2
    assert "give two of the layout's splits" in r.output


def test_report_compare_takes_a_split_name_with_a_layout(tmp_path):
    from test_layouts import _cityscapes_tree

    root, _ = _cityscapes_tree(tmp_path, np.random.default_rng(12), train_ids=True)
    out = tmp_path / "r.html"
    r = CliRunner().invoke(cli, ["report", str(root), "--layout", "cityscapes", "--split", "train",
                                 "--compare", "val", "-o", str(out), "--no-cache"])  # fmt: skip
    assert r.exit_code == 0, r.output
    import re

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", out.read_text()))
    assert f"Split drift: {root} (train) vs val" in text
    assert re.search(r"\(train\): 4 images · val: 2 images", text), text[:2000]
