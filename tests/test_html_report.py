"""The HTML report: every number against a NumPy count of the masks, co-occurrence against a
plain loop, hostile names stay text, nothing is fetched, and a real headless browser opens it."""

import json
import math
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from conftest import save_png

import classweights as cw
from classweights.html import render_html
from classweights.weights import WEIGHT_METHODS, compute_weights

C = 5  # class 4 never appears
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "masks"


class Page(HTMLParser):
    """Every tag with its attributes, every number cell (``data-k``) with its text, script
    bodies and the text of the page."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags, self.numbers, self.scripts, self.text = [], {}, [], []
        self._open = []  # [tag, key or None, text parts]
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        self._open.append([tag, a.get("data-k"), [], a])

    def handle_endtag(self, tag):
        while self._open:
            t, key, parts, a = self._open.pop()
            if key is not None:
                assert key not in self.numbers, f"{key} shown twice"
                self.numbers[key] = (a.get("data-v"), a.get("data-f"), "".join(parts))
            if t == "script":
                self.scripts.append((a, "".join(parts)))
            if t == tag:
                break

    def handle_data(self, data):
        self.text.append(data)
        for entry in self._open:
            entry[2].append(data)


def shown(value, kind):
    """The text a number must have (independent of the page code)."""
    if kind == "pct":
        return f"{100 * value:.2g}%" if 0 < value < 1e-4 else f"{100 * value:.2f}%"
    if kind == "float":
        return f"{value:.4g}"
    return f"{int(value):,}"


def build_masks(folder, names=None):
    """Eight masks: random ones, one all void, one dominated by class 1, one of another size."""
    rng = np.random.default_rng(7)
    folder.mkdir(parents=True, exist_ok=True)
    masks = {}
    for i in range(5):
        m = rng.choice([0, 1, 2, 3, 255], size=(16, 24), p=[0.4, 0.3, 0.15, 0.05, 0.1])
        masks[f"rand{i}.png"] = m.astype(np.uint8)
    masks["void.png"] = np.full((16, 24), 255, np.uint8)
    dom = np.ones((16, 24), np.uint8)
    dom[0, :3] = 2
    masks["dominant.png"] = dom
    other = rng.choice([0, 2], size=(20, 24)).astype(np.uint8)
    masks["bigger.png"] = other
    for name, m in masks.items():
        save_png(folder / (names or {}).get(name, name), m)
    return masks


def reference(masks):
    """Per-image table by a plain loop, rows in file-name order (the scan's order)."""
    order = sorted(masks)
    table = np.array([[int((masks[f] == c).sum()) for c in range(C)] for f in order])
    total = np.array([masks[f].size for f in order])
    ignored = np.array([int((masks[f] == 255).sum()) for f in order])
    return order, table, total, ignored


def numpy_cooccurrence(table):
    co = np.zeros((C, C), np.int64)
    for row in table:
        for i in range(C):
            for j in range(C):
                co[i, j] += bool(row[i] and row[j])
    return co


@pytest.fixture
def dataset(tmp_path):
    masks = build_masks(tmp_path / "masks")
    stats = cw.scan(tmp_path / "masks", num_classes=C, ignore_index=255)
    page = tmp_path / "report.html"
    cw.report_html(stats, page, command="classweights report masks", fingerprint="abc123")
    return masks, stats, Page(page.read_text())


def test_every_number_shown_matches_numpy(dataset):
    masks, _, page = dataset
    order, table, total, ignored = reference(masks)
    pixels = table.sum(0)
    labelled = table.sum(1)
    share = pixels / pixels.sum()
    images = (table > 0).sum(0)
    n = len(order)
    want = {"ov:images": n, "ov:pixels": total.sum(), "ov:labelled_pixels": labelled.sum(),
            "ov:ignored_pixels": ignored.sum(), "ov:unknown_pixels": 0, "ov:num_classes": C,
            "ov:skipped": 0, "dg:present_classes": 4}  # fmt: skip
    present = pixels[pixels > 0]
    want["dg:max_min_ratio"] = present.max() / present.min()
    s = share[share > 0]
    want["dg:normalized_entropy"] = -(s * np.log(s)).sum() / math.log(C)
    want["dg:ignored_share"] = ignored.sum() / total.sum()
    ref_stats = cw.ClassStats.from_counts(table, total, ignored)  # weights from the loop's counts
    for c in range(C):
        want.update({f"id:{c}": c, f"pixels:{c}": pixels[c], f"share:{c}": share[c],
                     f"images:{c}": images[c], f"image_frac:{c}": images[c] / n})  # fmt: skip
    for m in WEIGHT_METHODS:
        if m != "manual":
            w = compute_weights(ref_stats, m)
            want.update({f"w:{m}:{c}": w[c] for c in range(C)})
    # odd images: all void, one class > 95 %, the rarest classes' holders, other sizes
    frac = labelled / total
    for i in np.flatnonzero(frac < 0.05):
        want.update({f"void:pixels:{i}": total[i], f"void:labelled:{i}": labelled[i],
                     f"void:labelled_frac:{i}": frac[i], f"void:ignored:{i}": ignored[i],
                     f"void:unknown:{i}": 0})  # fmt: skip
    for i in np.flatnonzero((labelled > 0) & (table.max(1) > 0.95 * labelled)):
        want.update({f"dominant:cls_pixels:{i}": table[i].max(), f"dominant:labelled:{i}":
                     labelled[i], f"dominant:share:{i}": table[i].max() / labelled[i]})  # fmt: skip
    for c in np.flatnonzero(pixels > 0):
        for i in np.flatnonzero(table[:, c] > 0):
            want.update({f"rare{c}:cls_pixels:{i}": table[i, c], f"rare{c}:pixels:{i}": total[i]})
    sizes, freq = np.unique(total, return_counts=True)
    for i in np.flatnonzero(total != sizes[freq.argmax()]):
        want[f"size:pixels:{i}"] = total[i]

    assert set(page.numbers) == set(want)  # nothing missing, nothing extra
    for key, (value, kind, text) in page.numbers.items():
        v = float(value)
        assert v == pytest.approx(float(want[key]), rel=1e-12, abs=1e-15), key
        assert text == shown(v, kind), (key, text)
    assert order.index("void.png") in {int(k.split(":")[-1]) for k in want if k[:4] == "void"}
    assert "dominant.png" in "".join(page.text)
    assert "bigger.png" in "".join(page.text)


def test_cooccurrence_matches_a_plain_loop(dataset):
    masks, _, page = dataset
    _, table, _, _ = reference(masks)
    (island,) = [body for a, body in page.scripts if a.get("id") == "cooc-data"]
    data = json.loads(island)
    co = numpy_cooccurrence(table)
    assert np.array_equal(np.array(data["counts"]), co)
    never = {int(a["data-id"]) for t, a in page.tags if t == "li" and "data-id" in a}
    present = np.diag(co) > 0
    want = {i for i in range(C) if present[i] and any(present & (co[i] == 0))}
    assert never == want


def test_large_dataset_page_stays_small(tmp_path):
    rng = np.random.default_rng(0)
    n, c = 30_000, 150
    share = rng.dirichlet(np.full(c, 0.3))
    presence = rng.random((n, c)) < np.clip(share * 40, 0.002, 0.9)
    counts = np.where(presence, rng.integers(1, 50_000, size=(n, c)), 0)
    sources = [f"/data/ADEChallengeData2016/annotations/training/ADE_train_{i:08d}.png"
               for i in range(n)]  # fmt: skip
    total = counts.sum(1) + rng.integers(0, 20_000, size=n)
    stats = cw.ClassStats.from_counts(counts, total, total - counts.sum(1), sources=sources,
                                      class_names=[f"class {k}" for k in range(c)])  # fmt: skip
    out = cw.report_html(stats, tmp_path / "big.html", compare=stats.subset(range(2000)))
    size = out.stat().st_size
    assert size < 4_000_000, f"{size / 1e6:.1f} MB"
    page = Page(out.read_text())
    assert sum(k.startswith("pixels:") for k in page.numbers) == c
    assert len([k for k in page.numbers if k.startswith("size:")]) <= 50  # lists are capped


HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(2)>', "a&b", "</style>x",
           "ok"]  # fmt: skip


def test_hostile_names_and_paths_stay_text(tmp_path):
    files = {"rand0.png": '"><img src=y onerror=alert(3)>.png', "void.png": "<script>v.png"}
    build_masks(tmp_path / "m", names=files)
    stats = cw.scan(tmp_path / "m", num_classes=C, ignore_index=255)
    stats.class_names = HOSTILE
    text = render_html(stats, compare=stats, labels=("<i>train</i>", "val"))
    page = Page(text)
    tags = [t for t, _ in page.tags]
    assert "img" not in tags
    assert "i" not in tags
    scripts = [a for t, a in page.tags if t == "script"]
    assert len(scripts) == 2
    assert sum(a.get("type") == "application/json" for a in scripts) == 1
    assert not [k for _, a in page.tags for k in a if k.startswith("on")]  # no event handlers
    body = "".join(page.text)
    for name in [*HOSTILE, *files.values()]:
        assert name in body  # shown as text, unchanged
    (island,) = [b for a, b in page.scripts if a.get("id") == "cooc-data"]
    assert json.loads(island)["names"] == HOSTILE


def test_nothing_is_fetched(dataset):
    _, _, page = dataset
    for tag, attrs in page.tags:
        for k in ("src", "href", "xlink:href", "action", "poster", "data"):
            assert k not in attrs or attrs[k].startswith("#"), (tag, attrs)
        assert tag not in ("link", "iframe", "object", "img", "embed")
    raw = "".join(b for _, b in page.scripts) + "".join(page.text)
    assert "http://" not in raw
    assert "https://" not in raw
    assert "@import" not in raw


def test_optional_columns_appear_only_when_given(tmp_path):
    s = cw.ClassStats.from_counts([[5, 0, 1], [3, 3, 0]])
    page = Page(render_html(s, extra_columns={"objects": np.array([4, 2, 1])}))
    assert [page.numbers[f"x:objects:{c}"][0] for c in range(3)] == ["4", "2", "1"]
    assert not any(k.startswith("x:") for k in Page(render_html(s)).numbers)


def test_cli_writes_the_page(tmp_path):
    out = tmp_path / "report.html"
    r = subprocess.run([sys.executable, "-m", "classweights.cli", "report", str(EXAMPLES),
                        "--num-classes", "19", "--ignore-index", "255", "--classes", "cityscapes",
                        "-o", str(out), "--compare", str(EXAMPLES)],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert f"wrote {out}" in r.stderr
    page = Page(out.read_text())
    body = "".join(page.text)
    assert "classweights report" in body
    assert cw.__version__ in body
    assert "road" in body
    assert page.numbers["ov:images"][0] == "40"
    assert page.numbers["cmp:js"][0] == "0.0"


def test_cli_refuses_an_unwritable_output_before_scanning(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    args = ["report", str(tmp_path / "no masks here"), "-o", str(blocker / "r.html")]
    r = subprocess.run([sys.executable, "-m", "classweights.cli", *args],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.startswith(f"error: cannot write the report to {blocker / 'r.html'}")
    assert len(r.stderr.splitlines()) == 1


# ---- a real browser -------------------------------------------------------------------------
def _browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


QUIET = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps",
         "--disable-features=Translate,MediaRouter,OptimizationHints"]  # fmt: skip


NO_BROWSER = "no Chromium here: apt-get install chromium (.ci/run installs it where it can)"


@pytest.mark.skipif(_browser() is None, reason=NO_BROWSER)
def test_browser_opens_it_without_errors_or_requests(dataset, tmp_path):
    _, stats, _ = dataset
    page = cw.report_html(stats, tmp_path / "r.html", compare=stats)
    url = page.resolve().as_uri()
    common = [_browser(), *QUIET, f"--user-data-dir={tmp_path / 'profile'}"]
    net = tmp_path / "net.json"
    args = [*common, "--enable-logging=stderr", "--v=0", f"--log-net-log={net}", "--dump-dom", url]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'data-ready="1"' in r.stdout  # the page script ran to its end
    console = [line for line in r.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    # requests made for the page carry its file:// site; the browser's own do not
    events = json.loads(net.read_text())["events"]
    params = [e.get("params", {}) for e in events]
    fetched = [p for p in params if "file://" in str(p.get("network_isolation_key", ""))
               and not p.get("url", "file:").startswith("file:")]  # fmt: skip
    assert fetched == []
    # sorting: two clicks on the "pixels" header sort the class table by pixels, descending
    probe = tmp_path / "probe.html"
    click = ('<script>var h=document.querySelectorAll("#classes th")[2];h.click();h.click();'
             'document.body.setAttribute("data-order",Array.prototype.map.call(document.'
             'querySelectorAll("#classes tbody tr"),function(r){return r.cells[0].textContent;'
             '}).join(","));</script></body>')  # fmt: skip
    probe.write_text(page.read_text().replace("</body>", click))
    r = subprocess.run([*common, "--dump-dom", probe.as_uri()], capture_output=True, text=True,
                       timeout=120)  # fmt: skip
    order = np.argsort(-stats.pixels, kind="stable").tolist()
    assert f'data-order="{",".join(map(str, order))}"' in r.stdout
    shot = tmp_path / "shot.png"
    subprocess.run([*common, "--window-size=1280,2000", f"--screenshot={shot}", url],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    from PIL import Image

    im = np.asarray(Image.open(shot).convert("L"))
    assert im.shape == (2000, 1280)
    assert im.std() > 10
    if os.environ.get("CLASSWEIGHTS_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["CLASSWEIGHTS_KEEP_SCREENSHOT"])


# ---- co-occurrence stays O(classes) (issue 28 item 19) ---------------------------------------
def _many_classes(c, n, per_image, seed=0):
    rng = np.random.default_rng(seed)
    counts = np.zeros((n, c), np.int64)
    for i in range(n):
        cls = rng.choice(c, size=per_image, replace=False)
        counts[i, cls] = rng.integers(1, 1000, size=per_image)
    counts[np.arange(c) % n, np.arange(c)] += 1  # every class present somewhere
    return counts


def _reference_pairs(counts, k):
    """Every pair by a plain NumPy product over all classes; the k sharing most images (ties:
    lower ids first) and the number of pairs sharing any."""
    held = (counts > 0).astype(np.int64)
    co = held.T @ held
    i, j = np.triu_indices(len(co), 1)
    v = co[i, j]
    order = np.lexsort((j, i, -v))
    return [(int(i[o]), int(j[o]), int(v[o])) for o in order[:k]], int((v > 0).sum())


def test_a_3000_class_report_stays_small_valid_and_lists_the_top_pairs(tmp_path):
    """3,000 classes made a 24-114 MB page (a dense co-occurrence matrix); the page is now
    O(classes): under 10 MB here, the co-occurrence part a list of the top 200 pairs."""
    c = 3000
    counts = _many_classes(c, 60, 150)
    stats = cw.ClassStats.from_counts(counts, class_names=[f"class <{k}>" for k in range(c)])
    out = cw.report_html(stats, tmp_path / "big.html")
    size = out.stat().st_size
    assert size < 10_000_000, f"{size / 1e6:.1f} MB"
    text = out.read_text()
    page = Page(text)  # parses; every number cell once
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert sum(k.startswith("pixels:") for k in page.numbers) == c
    assert not [a for a, _ in page.scripts if a.get("id") == "cooc-data"]  # no dense matrix
    start = text.index('<section id="cooccurrence"')
    section = text[start : text.index("</section>", start)]
    assert len(section) < 100_000
    want, together = _reference_pairs(counts, 200)
    got = [(int(k.split(":")[1]), int(k.split(":")[2]), int(v)) for k, (v, _, _) in
           page.numbers.items() if k.startswith("pair:")]  # fmt: skip
    assert got == want
    pairs = c * (c - 1) // 2
    assert f"{together:,} of the {pairs:,} pairs of present classes" in "".join(page.text)
    assert "class <17>" in "".join(page.text) and "<17>" not in [t for t, _ in page.tags]


def test_page_size_grows_linearly_with_the_classes(tmp_path):
    sizes = []
    for c in (1000, 4000):
        stats = cw.ClassStats.from_counts(_many_classes(c, 40, 100))
        sizes.append(len(render_html(stats).encode()))
    assert sizes[1] < 4.6 * sizes[0], sizes  # 4x the classes: ~4x the page, not 16x


def test_many_classes_few_present_keep_the_dense_matrix_of_the_present_ones():
    c = 1000
    counts = np.zeros((6, c), np.int64)
    rng = np.random.default_rng(3)
    present = np.sort(rng.choice(c, size=40, replace=False))
    counts[:, present] = rng.integers(0, 3, size=(6, 40))
    counts[0, present] += 1
    page = Page(render_html(cw.ClassStats.from_counts(counts)))
    (island,) = [b for a, b in page.scripts if a.get("id") == "cooc-data"]
    data = json.loads(island)
    assert data["names"] == [str(k) for k in present]
    held = (counts[:, present] > 0).astype(int)
    ref = np.array([[sum(r[i] and r[j] for r in held) for j in range(40)] for i in range(40)])
    assert np.array_equal(np.array(data["counts"]), ref)
    assert "The 960 classes absent from every image are left out." in "".join(page.text)


def test_the_top_pairs_at_65536_classes_fit_in_a_capped_child():
    """One dense matrix at 65,536 classes is 34 GB; the pair search stays within the ceiling."""
    sys.path.insert(0, str(Path(__file__).resolve().parent / "robustness"))
    from capped import python

    out = python(
        """
        import numpy as np
        from classweights.html.cooccurrence import top_pairs
        c, n = 65536, 64
        counts = np.zeros((n, c), np.int32)
        for i in range(n):
            counts[i, i * 1024:(i + 1) * 1024 + 2] = 1  # neighbours share 2 classes
        counts[:, 5] = 1  # class 5 is in every image
        pairs, together = top_pairs(counts, np.arange(c), k=3)
        print(pairs, "|", together)
        """
    )
    assert out.returncode == 0, out.stderr
    pairs, together = out.stdout.strip().split(" | ")
    # class 5 with 1024 and 1025 (images 0 and 1) first, then with 2048 (images 1 and 2)
    assert pairs == "[(5, 1024, 2), (5, 1025, 2), (5, 2048, 2)]"
    # pairs sharing an image, by inclusion-exclusion: image i holds T_i (its classes and 5),
    # 1026 classes in image 0, 1027 in images 1..62, 1025 in image 63; neighbours share 3
    # classes (3 pairs), others only class 5 (no pair)
    def pairs_of(m):
        return m * (m - 1) // 2

    assert int(together) == pairs_of(1026) + 62 * pairs_of(1027) + pairs_of(1025) - 63 * 3
