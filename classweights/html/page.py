"""The report's markup: one self-contained HTML string from :func:`~.data.page_data`.

Every text that comes from the dataset (class names, paths, messages quoting them) passes
through :func:`html.escape` (``quote=True``) or, inside the JSON island, through
:func:`json_island`; the page never runs or styles what a dataset contains. Every number
shown is emitted by :func:`cell`/:func:`figure`, which keep the exact value in ``data-v``
(tests compare it with ``ClassStats``; the sorting script reads it).
"""

from __future__ import annotations

from html import escape
from typing import Any

from .assets import CSS, SCRIPT
from .cells import cell, figure, section
from .cooccurrence import cooccurrence_html
from .overview import header_text, overview_html
from .svg import bar_panels, log_domain

SHORT = {
    "inverse_freq": "inv",
    "sqrt_inv_freq": "sqrt",
    "effective_num": "eff.num",
    "median_freq": "median",
    "log_count": "log",
    "uniform": "unif",
}


def diagnosis_html(d: dict[str, Any]) -> str:
    g = d["diagnosis"]
    named = g["named"]
    items = [
        "max/min pixels of present classes: "
        f"{figure('dg:max_min_ratio', g['max_min_ratio'], 'float')}&times;",
        f"normalised entropy: {figure('dg:normalized_entropy', g['normalized_entropy'], 'float')} "
        "(1 balanced, 0 one class)",
        f"ignored share of all pixels: {figure('dg:ignored_share', g['ignored_share'], 'pct')}",
        f"present classes: {figure('dg:present_classes', g['present_classes'])}",
    ]
    for key, label in (
        ("absent_classes", "absent"),
        ("rare_classes", "rare (< 1 % of pixels)"),
        ("rare_in_images", "in < 1 % of the images"),
    ):
        if named[key]:
            items.append(f"{label}: {escape(', '.join(named[key]))}")
    hints = "".join(f"<li>{escape(h)}</li>" for h in g["hints"])
    body = "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"
    if hints:
        body += f'<h3>Hints</h3><ul class="hints">{hints}</ul>'
    return section("diagnosis", "Imbalance diagnosis", body)


def class_table_html(d: dict[str, Any]) -> str:
    methods, extras = d["methods"], d["extra_columns"]
    vol = d.get("volumes")
    vcols = [h for _, h, _, _ in vol["columns"]] if vol else []
    head = [
        "id",
        "class",
        "pixels",
        "share",
        "images",
        "% images",
        *extras,
        *vcols,
        *[SHORT.get(m, m) for m in methods],
    ]
    titles = [""] * (6 + len(extras)) + [t for *_, t in (vol or {}).get("columns", [])] + methods
    ths = "".join(
        f'<th title="{escape(t)}">{escape(h)}</th>' for h, t in zip(head, titles, strict=True)
    )
    rows = []
    for r in d["classes"]:
        c = r["id"]
        tds = [
            cell(f"id:{c}", c),
            f"<td>{escape(r['name'])}</td>",
            cell(f"pixels:{c}", r["pixels"]),
            cell(f"share:{c}", r["share"], "pct"),
            cell(f"images:{c}", r["images"]),
            cell(f"image_frac:{c}", r["image_frac"], "pct"),
        ]
        tds += [cell(f"x:{k}:{c}", r["extra"][k], "float") for k in extras]
        if vol:
            from .volumes import class_cells

            tds += class_cells(vol, c)
        tds += [cell(f"w:{m}:{c}", r["weights"][m], "float") for m in methods]
        rows.append(f'<tr class="{"absent" if r["pixels"] == 0 else ""}">{"".join(tds)}</tr>')
    opts = ", ".join(f"{k}={v}" for k, v in d["weight_options"].items())
    notes = "".join(f"<li>{escape(n)}</li>" for n in d["weight_notes"])
    body = (
        f'<div class="scroll"><table class="sortable"><thead><tr>{ths}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    if notes:
        body += f'<ul class="note">{notes}</ul>'
    note = (
        "Click a header to sort. Share: of the labelled pixels. Weights of every method "
        f"({escape(opts)}); hover a method for its full name."
    )
    return section("classes", "Classes", body, note)


def charts_html(d: dict[str, Any]) -> str:
    names = [r["name"] for r in d["classes"]]
    share = [r["share"] for r in d["classes"]]
    images = [r["images"] for r in d["classes"]]
    classes = bar_panels(
        names,
        [
            ("share of labelled pixels", share, True, None),
            ("images containing the class", images, False, None),
        ],
        label="class share and images per class",
    )
    wvals = [w for r in d["classes"] for w in r["weights"].values()]
    dom = log_domain(wvals)
    weights = bar_panels(
        names,
        [
            (SHORT.get(m, m), [r["weights"][m] for r in d["classes"]], True, dom)
            for m in d["methods"]
        ],
        label="weights per method",
        panel=150,
    )
    body = (
        f'<h3>Share and images per class</h3><div class="scroll">{classes}</div>'
        f'<h3>Weights of each method (common log axis)</h3><div class="scroll">{weights}</div>'
    )
    return section("charts", "Charts", body, "Hover a bar for its exact value.")


def _img_table(rows: list[dict[str, Any]], cols: list[tuple[str, str, str]], name: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h, _, _ in [("file", "", ""), *cols])
    body = []
    for r in rows:
        tds = [f'<td class="path">{escape(r["source"])}</td>']
        for _h, key, kind in cols:
            v = r[key]
            tds.append(
                f"<td>{escape(v)}</td>"
                if isinstance(v, str)
                else cell(f"{name}:{key}:{r['index']}", v, kind)
            )
        body.append(f"<tr>{''.join(tds)}</tr>")
    return (
        f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _n(n: int, noun: str) -> str:
    """``1 image``, ``2 images``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _more(n: int) -> str:
    return f'<p class="note">… and {n:,} more.</p>' if n else ""


def odd_html(d: dict[str, Any]) -> str:
    o = d["odd"]
    v, dm, sz = o["void"], o["dominant"], o["size"]
    parts = [
        f"<h3>All or nearly all void ({_n(v['total'], 'image')}: labelled &lt; 5 % of pixels)</h3>"
    ]
    if v["rows"]:
        cols = [
            ("pixels", "pixels", "int"),
            ("labelled", "labelled", "int"),
            ("labelled %", "labelled_frac", "pct"),
            ("ignored", "ignored", "int"),
            ("unknown", "unknown", "int"),
        ]
        parts.append(_img_table(v["rows"], cols, "void") + _more(v["more"]))
    parts.append(
        f"<h3>One class over 95 % of the labelled pixels ({_n(dm['total'], 'image')})</h3>"
    )
    if dm["rows"]:
        cols = [
            ("class", "name", ""),
            ("its pixels", "cls_pixels", "int"),
            ("labelled", "labelled", "int"),
            ("its share", "share", "pct"),
        ]
        parts.append(_img_table(dm["rows"], cols, "dominant") + _more(dm["more"]))
    parts.append('<h3>Images holding the rarest classes</h3><div class="cards">')
    for r in o["rarest"]:
        parts.append(
            f"<div><h4>{escape(r['name'])}: {r['pixels']:,} pixels in {r['images']:,} "
            f"image{'s' if r['images'] != 1 else ''}</h4>"
        )
        cols = [("pixels of the class", "cls_pixels", "int"), ("image pixels", "pixels", "int")]
        parts.append(_img_table(r["rows"], cols, f"rare{r['cls']}") + _more(r["more"]) + "</div>")
    parts.append("</div>")
    common = f"{sz['majority']:,} pixels ({_n(sz['majority_images'], 'image')})"
    distinct = _n(sz["distinct"], "distinct size")
    parts.append(
        f"<h3>Size differs from the majority ({_n(sz['total'], 'image')})</h3>"
        f"<p>The most common size is {common}; {distinct}.</p>"
    )
    if sz["rows"]:
        parts.append(
            _img_table(sz["rows"], [("pixels", "pixels", "int")], "size") + _more(sz["more"])
        )
    note = f"File names relative to {escape(d['source_root'])}. " if d["source_root"] else ""
    note += "Image size is its pixel count (the statistics keep no height and width)."
    return section("odd", "Odd images", "".join(parts), note)


def compare_html(d: dict[str, Any]) -> str:
    cmp = d["compare"]
    la, lb = cmp["labels"]
    head = [
        "id",
        "class",
        f"share {la}",
        f"share {lb}",
        f"{lb}/{la}",
        f"images {la}",
        f"images {lb}",
        "missing from",
    ]
    ths = "".join(f"<th>{escape(h)}</th>" for h in head)
    rows = []
    for r in cmp["classes"]:
        c = r["id"]
        miss = {"a": la, "b": lb, "both": "both", None: ""}[r["missing_from"]]
        rows.append(
            "<tr>"
            + cell(f"cmp:id:{c}", c)
            + f"<td>{escape(r['name'])}</td>"
            + cell(f"cmp:share_a:{c}", r["share_a"], "pct")
            + cell(f"cmp:share_b:{c}", r["share_b"], "pct")
            + cell(f"cmp:ratio:{c}", r["ratio"], "float")
            + cell(f"cmp:images_a:{c}", r["images_a"])
            + cell(f"cmp:images_b:{c}", r["images_b"])
            + f"<td>{escape(miss)}</td></tr>"
        )
    names = [r["name"] for r in cmp["classes"]]
    sa, sb = [r["share_a"] for r in cmp["classes"]], [r["share_b"] for r in cmp["classes"]]
    dom = log_domain(sa + sb)
    chart = bar_panels(
        names,
        [(f"share {la}", sa, True, dom), (f"share {lb}", sb, True, dom)],
        label="class share in each split",
    )
    js = figure("cmp:js", cmp["js_divergence_bits"], "float")
    na, nb = figure("cmp:images:a", cmp["images"][0]), figure("cmp:images:b", cmp["images"][1])
    head_p = (
        f"<p>Jensen-Shannon divergence of the class shares: <b>{js} bits</b> "
        f"(0 identical, 1 disjoint) · {escape(la)}: {na} images · {escape(lb)}: {nb} "
        "images</p>"
    )
    body = (
        head_p + f'<div class="scroll"><table class="sortable"><thead><tr>{ths}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        f'<div class="scroll">{chart}</div>'
    )
    return section("compare", f"Split drift: {la} vs {lb}", body)


def render_page(d: dict[str, Any], title: str = "classweights dataset report") -> str:
    """The whole page (a ``str``), from :func:`~classweights.html.data.page_data`."""

    sections = [
        overview_html(d),
        diagnosis_html(d),
        class_table_html(d),
        charts_html(d),
        cooccurrence_html(d),
        odd_html(d),
    ]
    has_objects = bool(d.get("volumes") and d["volumes"]["histogram"] is not None)
    if has_objects:
        from .volumes import objects_html

        sections.insert(4, objects_html(d))  # after the charts
    if d["compare"] is not None:
        sections.insert(3, compare_html(d))
    nav = "".join(
        f'<a href="#{sid}">{label}</a>'
        for sid, label in (
            ("overview", "overview"),
            ("diagnosis", "diagnosis"),
            ("classes", "classes"),
            *([("compare", "split drift")] if d["compare"] else []),
            ("charts", "charts"),
            *([("objects", "object sizes")] if has_objects else []),
            ("cooccurrence", "co-occurrence"),
            ("odd", "odd images"),
        )
    )
    subtitle = header_text(d["overview"])
    css = CSS
    if d.get("volumes"):
        from .volumes import CSS as VOLUME_CSS

        css += VOLUME_CSS
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{css}</style></head><body>"
        f'<header><h1>{escape(title)}</h1><p class="sub">{subtitle}</p><nav>{nav}</nav></header>'
        f"<main>{''.join(sections)}</main><script>{SCRIPT}</script></body></html>\n"
    )
