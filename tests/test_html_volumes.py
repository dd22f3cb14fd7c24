"""Volumes and objects in the HTML report: every number shown against NumPy and
``scipy.ndimage.label`` on the arrays written, the size histogram sums to the objects, plain
2-D scans show none of it, and ``classweights report --objects`` passes objects through."""

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_html_report import NO_BROWSER, QUIET, Page, _browser

import classweights as cw
from classweights.html import render_html

nib = pytest.importorskip("nibabel")
ndimage = pytest.importorskip("scipy.ndimage")
from PIL import Image  # noqa: E402
from test_volumes import SPACINGS, _nnunet  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "masks"
NAMES = ["background", "liver", "<i>tumour</i>"]


def components(arrays, num_classes, ndim):
    """``sizes[c]``: the size of every component of class ``c``, and ``images[c]``: the image
    of each (scipy, full connectivity: 8 in 2-D, 26 in 3-D)."""
    full = np.ones((3,) * ndim, bool)
    sizes = [[] for _ in range(num_classes)]
    images = [[] for _ in range(num_classes)]
    for i, a in enumerate(arrays):
        a = np.asarray(a).astype(np.int64)
        for c in range(num_classes):
            lab, n = ndimage.label(a == c, structure=full)
            s = np.bincount(lab.ravel())[1:]
            sizes[c] += s.tolist()
            images[c] += [i] * n
    return sizes, images


def log2_bin(size):
    """The k with 2**k <= size < 2**(k + 1), by integer doubling."""
    k = 0
    while 2 ** (k + 1) <= size:
        k += 1
    return k


def num_text(v):
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def histogram(page):
    bars = {int(a["data-low"]): int(a["data-n"]) for t, a in page.tags
            if t == "rect" and a.get("class") == "hbar"}  # fmt: skip
    cells = {}
    for t, a in page.tags:
        if t == "rect" and a.get("class") == "hcell":
            cells[int(a["data-c"]), int(a["data-low"])] = int(a["data-n"])
    return bars, cells


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    root, vols = _nnunet(tmp_path_factory.mktemp("vol"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the float32 volume is read as integers, with a note
        s = cw.scan(root / "labelsTr", num_classes=3, objects=True, classes=NAMES)
    return root, vols, s


def test_volume_and_object_columns_match_numpy_and_scipy(volumes):
    _, vols, s = volumes
    text = render_html(s)
    page = Page(text)
    num = page.numbers
    sizes, images = components(vols, 3, 3)
    voxel = [math.prod(sp) for sp in SPACINGS]
    for c in range(3):
        mm3 = sum(int((np.asarray(v).astype(np.int64) == c).sum()) * voxel[i]
                  for i, v in enumerate(vols))  # fmt: skip
        v, f, shown = num[f"v:volume_mm3:{c}"]
        assert math.isclose(float(v), mm3, rel_tol=1e-12)
        assert shown == num_text(float(v))
        sz = np.array(sizes[c])
        assert num[f"v:objects:{c}"][0] == str(sz.size)
        assert num[f"v:objects:{c}"][2] == f"{sz.size:,}"
        assert float(num[f"v:objects_per_image:{c}"][0]) == sz.size / len(set(images[c]))
        for key, ref in (("min", sz.min()), ("median", np.median(sz)),
                         ("p90", np.percentile(sz, 90)), ("max", sz.max())):  # fmt: skip
            v, _, shown = num[f"v:object_{key}:{c}"]
            assert math.isclose(float(v), float(ref)), key
            assert shown == num_text(float(ref))
        small = {i for i, n in zip(images[c], sizes[c], strict=True) if n < 10}
        assert num[f"v:images_with_small_objects:{c}"][0] == str(len(small))
    # overview: volumes, spacing per axis, objects
    assert num["ov:volumes"][0] == "4"
    sp = np.array(SPACINGS)
    for key, f in (("median", np.median), ("min", np.min), ("max", np.max)):
        for a in range(3):
            assert math.isclose(float(num[f"sp:{key}:{a}"][0]), float(f(sp[:, a])))
    total = sum(len(x) for x in sizes)
    assert num["ov:objects"][0] == str(total)
    assert num["hist:total"][0] == str(total)
    # dataset text stays text
    assert "<i>tumour</i>" not in text
    assert "&lt;i&gt;tumour&lt;/i&gt;" in text


def test_size_histogram_counts_every_object_once(volumes):
    _, vols, s = volumes
    bars, cells = histogram(Page(render_html(s)))
    sizes, _ = components(vols, 3, 3)
    every = [n for per in sizes for n in per]
    assert sum(bars.values()) == len(every)
    ref = {}
    for n in every:
        ref[2 ** log2_bin(n)] = ref.get(2 ** log2_bin(n), 0) + 1
    assert {k: v for k, v in bars.items() if v} == ref
    for c in range(3):
        per = {}
        for n in sizes[c]:
            per[2 ** log2_bin(n)] = per.get(2 ** log2_bin(n), 0) + 1
        assert {low: n for (k, low), n in cells.items() if k == c} == per
    lows = sorted(bars)
    assert lows == [2**k for k in range(log2_bin(lows[0]), log2_bin(lows[-1]) + 1)]  # no gaps


def test_2d_objects_match_scipy_and_show_no_volume(tmp_path):
    s = cw.scan(EXAMPLES, num_classes=19, ignore_index=255, objects=True)
    masks = [np.asarray(Image.open(p)) for p in s.sources]
    sizes, _ = components(masks, 19, 2)
    page = Page(render_html(s))
    for c in range(19):
        assert page.numbers[f"v:objects:{c}"][0] == str(len(sizes[c]))
    bars, cells = histogram(page)
    assert sum(bars.values()) == sum(map(len, sizes)) == sum(cells.values())
    assert not any(k.startswith(("v:volume_mm3", "sp:", "ov:volumes")) for k in page.numbers)


def test_plain_2d_scan_shows_nothing_of_volumes_or_objects():
    s = cw.scan(EXAMPLES, num_classes=19, ignore_index=255)
    text = render_html(s)
    page = Page(text)
    assert not any(k.startswith(("v:", "sp:", "hist:", "ov:volumes", "ov:objects"))
                   for k in page.numbers)  # fmt: skip
    assert 'id="objects"' not in text
    assert "spacing" not in text
    assert histogram(page) == ({}, {})


def test_cli_report_passes_objects_through(volumes, tmp_path):
    root, vols, _ = volumes
    out = tmp_path / "r.html"
    r = subprocess.run([sys.executable, "-m", "classweights.cli", "report", str(root / "labelsTr"),
                        "--num-classes", "3", "--objects", "-o", str(out)],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    page = Page(out.read_text())
    sizes, _ = components(vols, 3, 3)
    assert [page.numbers[f"v:objects:{c}"][0] for c in range(3)] == [str(len(x)) for x in sizes]
    bars, _ = histogram(page)
    assert sum(bars.values()) == sum(map(len, sizes))
    # without --objects: volumes only, no object columns or histogram
    r = subprocess.run([sys.executable, "-m", "classweights.cli", "report", str(root / "labelsTr"),
                        "--num-classes", "3", "-o", str(out)],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    page = Page(out.read_text())
    assert "v:volume_mm3:0" in page.numbers
    assert "v:objects:0" not in page.numbers
    assert histogram(page) == ({}, {})


@pytest.mark.skipif(_browser() is None, reason=NO_BROWSER)
def test_browser_opens_the_volume_page_without_errors(volumes, tmp_path):
    _, _, s = volumes
    page = cw.report_html(s, tmp_path / "v.html")
    common = [_browser(), *QUIET, f"--user-data-dir={tmp_path / 'profile'}"]
    args = [*common, "--enable-logging=stderr", "--v=0", "--dump-dom", page.resolve().as_uri()]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'data-ready="1"' in r.stdout
    assert [line for line in r.stderr.splitlines() if ":CONSOLE" in line] == []
    assert json.dumps(NAMES[2])[1:-1] not in r.stdout  # the hostile name never became markup


def test_150_classes_with_a_million_objects_stay_small_and_complete(tmp_path):
    rng = np.random.default_rng(0)
    n, c = 30_000, 150
    counts = np.where(rng.random((n, c)) < 0.1, rng.integers(1, 50_000, (n, c)), 0)
    per_image = np.where(counts > 0, rng.integers(1, 6, (n, c)), 0)
    sizes = rng.integers(1, 2**20, int(per_image.sum()))
    base = cw.ClassStats.from_counts(counts, class_names=[f"class {k}" for k in range(c)])
    stats = cw.ClassStats(
        num_classes=c, ignore_index=None, counts=base.counts, image_total=base.image_total,
        image_ignored=base.image_ignored, image_unknown=base.image_unknown,
        sources=[f"img_{i:06d}.png" for i in range(n)], class_names=base.class_names,
        object_counts=per_image.astype(np.uint8), object_sizes=sizes,
    )  # fmt: skip
    out = cw.report_html(stats, tmp_path / "big.html")
    assert out.stat().st_size < 4_000_000
    bars, cells = histogram(Page(out.read_text()))
    assert sum(bars.values()) == sizes.size == sum(cells.values())
    assert {k for k, _ in cells} == set(range(c))  # one row per class
    for low, count in bars.items():
        assert count == int(((sizes >= low) & (sizes < 2 * low)).sum())
