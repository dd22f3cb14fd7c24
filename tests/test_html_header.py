"""The HTML report's header names the dataset root and the image count, not every mask path (a
--split-file scan printed 306 paths before any number); the paths go to a collapsed list
(issue 30). Checked on the page's text with Python's own HTML parser."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
from conftest import save_png

import classweights as cw
from classweights.html import render_html


class _Parts(HTMLParser):
    """The text of the header's subtitle and the items of collapsed lists."""

    def __init__(self):
        super().__init__()
        self.stack, self.sub, self.items, self.summary = [], "", [], ""

    def handle_starttag(self, tag, attrs):
        self.stack.append((tag, dict(attrs).get("class", "")))

    def handle_endtag(self, tag):
        self.stack.pop()

    def handle_data(self, data):
        if not self.stack:
            return
        tag, cls = self.stack[-1]
        if tag == "p" and cls == "sub":
            self.sub += data
        elif tag == "li" and any(c == "paths" for _, c in self.stack):
            self.items.append(data)
        elif tag == "summary":
            self.summary += data


def test_split_file_scan_header_shows_root_and_count_and_a_collapsed_path_list(tmp_path):
    ann = tmp_path / "ann"
    ann.mkdir()
    rng = np.random.default_rng(0)
    ids = [f"img{i:03d}" for i in range(40)]
    for i in ids:
        save_png(ann / f"{i}.png", rng.integers(0, 3, size=(4, 5)).astype(np.uint8))
    (tmp_path / "train.txt").write_text("\n".join(ids) + "\n")
    stats = cw.scan(ann, split_file=tmp_path / "train.txt", num_classes=3)
    assert len(stats.settings["paths"]) == 40  # one path per listed mask
    page = _Parts()
    page.feed(render_html(stats))
    assert page.sub.endswith("· 40 images") and page.sub.count("img0") == 0
    assert page.sub.partition(" · ")[0].endswith("ann")  # the folder the masks share
    assert page.summary == "40 paths given"
    assert [i.rpartition("/")[2] for i in page.items] == [f"{i}.png" for i in ids]


def test_one_folder_header(tmp_path):
    for i in range(3):
        save_png(tmp_path / f"{i}.png", np.zeros((2, 2), np.uint8))
    page = _Parts()
    page.feed(render_html(cw.scan(tmp_path, num_classes=2)))
    assert page.sub.endswith("· 3 images") and "tmp" in page.sub and not page.items
