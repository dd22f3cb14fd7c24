"""Text from a dataset is data, never markup: one place that makes it safe to show.

Class names, file and folder names, cache keys and the text stored in weight files come from
datasets downloaded from strangers. Every renderer passes such text through one of these
functions at its boundary (rich cells are built as ``rich.text.Text``, never parsed as markup;
see :mod:`classweights.report`):

==================  ==============================================================
:func:`visible`     control characters (C0, DEL, C1, bidi overrides, other
                    invisible format characters, line separators, lone
                    surrogates) written as Python-style escapes: ``\\x1b``,
                    ``\\u202e``. For terminals, error lines, plots, comments.
:func:`visible_lines`  the same, keeping ``\\n`` (text that is ours and multi-line)
:func:`markdown_escape`  :func:`visible`, then every character Markdown or HTML
                    would act on (``|``, backticks, ``*``, ``_``, ``[``, ``<``,
                    ``&``, ``$``, ``@`` ...) backslash-escaped
:func:`csv_cell`    :func:`visible`, and a leading ``=``, ``+``, ``-`` or ``@``
                    prefixed with ``'`` so a spreadsheet shows a formula as text
==================  ==============================================================

A backslash already in the text is kept as it is (Windows paths stay readable), so the
visible form of ``ESC`` and the four characters ``\\x1b`` look alike; the point is that
nothing reaches the terminal that it would act on. JSON needs none of this: ``json.dumps``
escapes every control and non-ASCII character itself.
"""

from __future__ import annotations

import unicodedata
from typing import Any

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_JOINERS = {"\u200c", "\u200d"}  # ZWNJ/ZWJ: part of the spelling of Persian, Indic, emoji
_HIDDEN_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}
_MARKDOWN = set("\\`*_[]<>|~&$@")
_FORMULA = ("=", "+", "-", "@")


def _hidden(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat in _HIDDEN_CATEGORIES or (cat == "Cf" and ch not in _JOINERS)


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    o = ord(ch)
    if o <= 0xFF:
        return f"\\x{o:02x}"
    return f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}"


def visible(text: Any) -> str:
    """``text`` (made a ``str``) with every control or invisible formatting character shown
    as an escape, so a terminal, a plot or a reader sees it instead of acting on it.

    >>> visible("road"), visible("car\\x1b[2J"), visible("\\u202eevil"), visible("a\\nb")
    ('road', 'car\\\\x1b[2J', '\\\\u202eevil', 'a\\\\nb')
    >>> print(visible("\\x1b]8;;http://x\\x07link"))
    \\x1b]8;;http://x\\x07link
    """
    text = str(text)
    if text.isprintable():  # the usual case: nothing to do
        return text
    return "".join(_escape(ch) if _hidden(ch) else ch for ch in text)


def visible_lines(text: Any) -> str:
    """:func:`visible` line by line: our own line breaks stay, everything else is shown.

    >>> print(visible_lines("method  inverse_freq\\nclass 1 (\\x1b[31mcar)"))
    method  inverse_freq
    class 1 (\\x1b[31mcar)
    """
    return "\n".join(visible(line) for line in str(text).split("\n"))


def markdown_escape(text: Any) -> str:
    """Text for a Markdown (GitHub) table cell: shown as written, never as markup or HTML.

    An ``_`` between two letters or digits is left alone: it never starts emphasis there.

    >>> print(markdown_escape("a|b `c` <i>*d*</i> [x](y) $e$ road_marking _f_"))
    a\\|b \\`c\\` \\<i\\>\\*d\\*\\</i\\> \\[x\\](y) \\$e\\$ road_marking \\_f\\_
    """
    text = visible(text)
    out = []
    for i, ch in enumerate(text):
        inside = 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()
        intraword = ch == "_" and inside
        out.append("\\" + ch if ch in _MARKDOWN and not intraword else ch)
    return "".join(out)


def csv_cell(value: Any) -> Any:
    """A CSV field: numbers as they are; text made :func:`visible`, and text a spreadsheet
    would run as a formula (leading ``=``, ``+``, ``-``, ``@``) prefixed with ``'``.

    >>> csv_cell(3), csv_cell("road"), csv_cell("=HYPERLINK(1)"), csv_cell("a\\rb")
    (3, 'road', "'=HYPERLINK(1)", 'a\\\\rb')
    """
    if not isinstance(value, str):
        return value
    text = visible(value)
    return "'" + text if text.startswith(_FORMULA) else text
