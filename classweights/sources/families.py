"""Families of mask files: one folder holding several encodings of the same frames is refused.

A *family* is a file-name pattern: the name with its digit runs replaced (digits that never change
within the family stay, e.g. DRIVE's ``manual1``), and with the name of the folder it lies in and
split words (``train``, ``val``...) replaced too, wherever they lie in the name. The folder path
is not part of the pattern, so Cityscapes' city subfolders, or ``train/`` and ``val/``, are one
family. A file's *id* is what its pattern replaced (``aachen``, ``000000``, ``000019``).

Two families whose files share ids are the same frames in two encodings (Cityscapes
``*_labelIds.png``, ``*_instanceIds.png`` and ``*_color.png`` side by side; DRIVE's
``1st_manual/21_manual1.gif`` beside ``mask/21_training_mask.gif``) when the names differ after
the id (a suffix), or before it in a word that names an encoding (``color_0001`` beside
``label_0001``). Sequences that restart their frame numbers (CamVid's ``0006R0_f00930`` beside
``Seq05VD_f00930``) differ before the id in a sequence name, and stay one dataset. The refusal
names each family, its file count and the ``--glob`` that selects exactly it.

Cost: one ``str.translate`` of all the names (0.06 s for 100,000); only a folder whose names fall
into several patterns is looked at more closely (per pattern, then per file of those patterns).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import DatasetError

_DIGITS = str.maketrans("0123456789", "##########")
_TOKENS = re.compile(r"#+|\{dir\}|[A-Za-z]+|[^A-Za-z#{]+|[{]")
_SPLIT_WORDS = frozenset(
    {"train", "training", "val", "valid", "validation", "test", "testing", "trainval", "dev"}
)
VARIABLE = ("#", "{dir}", "{split}")
_ID_PARTS = ("#", "{dir}")  # a split word is not part of a frame's id
#: words that name an encoding, not a sequence (a prefix difference counts only with one of them)
_WORDS = """color colour instance instances instanceids label labels labelids labeltrainids
trainids mask masks gt seg segmentation semantic panoptic vis viz rgb overlay class object objects
manual annot annotation annotations depth disparity polygons pred prediction predictions output
prob probs probability"""
ENCODING_WORDS = frozenset(_WORDS.split())
#: encodings that are not label masks (named, never offered as a --glob)
NOT_LABELS = {
    "color": "colour renderings",
    "colour": "colour renderings",
    "instanceids": "instance ids",
    "instance": "instance ids",
    "rgb": "colour images",
    "vis": "visualisations",
    "viz": "visualisations",
    "overlay": "visualisations",
    "instances": "instance ids",
    "panoptic": "panoptic ids",
}
_IMAGE_FOLDERS = frozenset(
    {"images", "image", "imgs", "img", "jpegimages", "photos", "rgb", "imagestr", "imagests"}
)
_LABEL_ORDER = ("labeltrainids", "labelids", "trainids", "label", "labels", "manual", "mask", "gt")
#: above this many patterns (and more than half as many as files) names are ids themselves
MAX_FAMILIES = 64


@dataclass
class Family:
    tokens: tuple[str, ...]  # the pattern; VARIABLE entries are replaced parts
    files: list[str] = field(default_factory=list)  # relative POSIX paths
    ids: list[tuple[str, ...]] = field(default_factory=list)  # one per file

    @property
    def name(self) -> str:
        return "".join("*" if t in VARIABLE else t for t in self.tokens)

    def words(self) -> set[str]:
        return {t.lower() for t in self.tokens if t.isalpha()}


def check_families(root: object, rels: Sequence[str]) -> None:
    """Refuse ``rels`` (paths relative to ``root``, ``/``-separated) when they hold two families
    of file names that share ids: several encodings of the same frames."""
    if len(rels) < 2:
        return
    keyed = _keys(rels)
    keys = Counter(keyed)
    if len(keys) == 1:
        return
    copies = _sibling_copies(rels)
    if copies is not None:
        raise DatasetError(_copies_message(root, *copies, rels))
    if _ids_only(len(keys), len(rels)):
        return
    patterns: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for key in keys:
        patterns[_pattern(_name_key(key))].append(key)
    if len(patterns) == 1 or _ids_only(len(patterns), len(rels)):
        return
    pattern_of = {k: p for p, ks in patterns.items() for k in ks}
    members: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for r, key in zip(rels, keyed, strict=True):
        members[pattern_of[key]].append(r)
    found = [_family(tokens, files) for tokens, files in members.items()]
    clash = _clashes(found)
    if clash is not None:
        raise DatasetError(_message(root, *clash, rels))


def _sibling_copies(rels: Sequence[str]) -> tuple[list[str], int, str] | None:
    """Two sibling folders of different kinds holding the same file names (``imagesTr/`` beside
    ``labelsTr/``, Mapillary's ``labels/`` beside ``instances/``, CamVid's ``train/`` beside
    ``trainannot/``): ``(the folders, label-like first; names in common; one of them)``.
    Folders of one kind (``train/`` and ``val/``, ``seq01/`` and ``seq02/``) may share names."""
    first: dict[tuple[str, str], str] = {}
    shared: Counter[tuple[str, str]] = Counter()
    example: dict[tuple[str, str], str] = {}
    kinds: dict[str, tuple[str, ...]] = {}
    for r in rels:
        folder, _, name = r.rpartition("/")
        if not folder:  # the folder given itself has no sibling here
            continue
        other = first.setdefault((folder.rpartition("/")[0], name), folder)
        if other == folder:
            continue
        for f in (other, folder):
            if f not in kinds:
                kinds[f] = _folder_kind(f.rpartition("/")[2])
        if kinds[other] != kinds[folder]:
            shared[(other, folder)] += 1
            example.setdefault((other, folder), name)
    if not shared:
        return None
    (a, b), n = shared.most_common(1)[0]
    parent = a.rpartition("/")[0]
    folders = {f for pair in shared for f in pair if f.rpartition("/")[0] == parent}
    return sorted(folders, key=_folder_rank), n, example[(a, b)]


_SPLIT_IN_NAME = re.compile("|".join(sorted(_SPLIT_WORDS, key=len, reverse=True)))


def _folder_kind(name: str) -> str:
    """A folder's name with digits and split words replaced, wherever they lie: ``train/`` and
    ``val/``, ``trainannot/`` and ``valannot/``, ``train2017/`` and ``val2017/`` are one kind.

    >>> _folder_kind("trainannot") == _folder_kind("valannot"), _folder_kind("imagesTr")
    (True, 'imagestr')
    """
    return _SPLIT_IN_NAME.sub("{split}", name.lower().translate(_DIGITS))


def _copies_message(
    root: object, folders: list[str], n: int, name: str, rels: Sequence[str]
) -> str:
    parts, globs = [], []
    for f in folders:
        exts = {r.rpartition("/")[2].partition(".")[2] for r in rels if r.rpartition("/")[0] == f}
        glob = f"{f}/*.{exts.pop()}" if len(exts) == 1 else f"{f}/*"
        what = _folder_not_labels(f)
        parts.append(f"{f}/" + (f" ({what})" if what else ""))
        if not what:
            globs.append(f"--glob '{glob}'")
    layout = " (or --layout nnunet)" if "labelsTr" in folders else ""
    pick = " or ".join(globs[:3]) if globs else "--glob with the folder of the label masks"
    return (
        f"{root} holds the same {n:,} file name(s) in {', '.join(parts[:-1])} and {parts[-1]} "
        f"(e.g. {name}): several kinds of files for the same frames, not more masks; count one "
        f"of them: pass {pick}{layout}"
    )


def _folder_not_labels(folder: str) -> str:
    """What a folder holds when its name says it is not label masks (photographs, colour
    renderings, instance ids), else ''. A bare split name beside ``<split>annot`` (CamVid)
    holds the photographs."""
    base = folder.rpartition("/")[2].lower()
    words = set(re.findall(r"[a-z]+", base)) | {base}
    if words & _IMAGE_FOLDERS or base in {"train", "val", "test"}:
        return "images, not masks"
    return next((NOT_LABELS[w] for w in NOT_LABELS if w in words), "")


def _folder_rank(folder: str) -> tuple[int, str]:
    return (1 if _folder_not_labels(folder) else 0, folder)


def _keys(rels: Sequence[str]) -> list[str]:
    """Each path with its digits replaced by ``#``: one ``str.translate`` of all the paths
    joined (0.06 s for 100,000 paths; one call per path is six times slower)."""
    keyed = "\n".join(rels).translate(_DIGITS).split("\n")
    return keyed if len(keyed) == len(rels) else [r.translate(_DIGITS) for r in rels]


def _ids_only(families: int, files: int) -> bool:
    """Names that are ids themselves (random strings, words): nearly a pattern per file."""
    return families > MAX_FAMILIES and 2 * families > files


def _name_key(key: str) -> str:
    """The file-name part of a path key, with the name of its folder at its start replaced
    (Cityscapes' ``<city>_...`` in ``<city>/``)."""
    folder, _, name = key.rpartition("/")
    parent = folder.rpartition("/")[2]
    if parent and name.startswith(parent) and not name[len(parent) : len(parent) + 1].isalnum():
        return "{dir}" + name[len(parent) :]
    return name


def _pattern(key: str) -> tuple[str, ...]:
    return tuple(
        "#" if t.startswith("#") else "{split}" if t.lower() in _SPLIT_WORDS else t
        for t in _TOKENS.findall(key)
    )


_GROUPS = {"#": r"(\d+)", "{dir}": r"(.+?)", "{split}": r"([A-Za-z]+)"}


def _family(tokens: tuple[str, ...], files: list[str]) -> Family:
    """The family of ``files`` (all of pattern ``tokens``) with each file's id; digits that never
    change within the family (of two files or more) become part of the pattern."""
    rx = re.compile("".join(_GROUPS.get(t) or re.escape(t) for t in tokens))
    slots = [j for j, t in enumerate(tokens) if t in VARIABLE]
    rows = []
    for f in files:
        name = f.rpartition("/")[2]
        m = rx.fullmatch(name)
        rows.append(m.groups() if m else (name,) * len(slots))
    pattern, keep = list(tokens), []
    for k, j in enumerate(slots):
        first = rows[0][k]
        if len(rows) > 1 and tokens[j] == "#" and all(r[k] == first for r in rows):
            pattern[j] = first  # e.g. DRIVE's manual1: the observer, not an id
        elif tokens[j] != "{split}":  # a split word tells splits apart, not frames
            keep.append(k)
    return Family(tuple(pattern), files, [tuple(r[k] for k in keep) for r in rows])


def _clashes(found: list[Family]) -> tuple[list[Family], int, tuple[str, ...]] | None:
    """The families that are encodings of the same frames, how many ids they share (the most
    between two of them) and one such id; None when there are none."""
    ids = [set(f.ids) for f in found]
    clashing: set[int] = set()
    most, example = 0, ()
    for a in range(len(found)):
        for b in range(a + 1, len(found)):
            shared = ids[a] & ids[b]
            shared.discard(())
            if shared and _encodings(found[a].tokens, found[b].tokens):
                clashing |= {a, b}
                if len(shared) > most:
                    most, example = len(shared), min(shared)
    if not clashing:
        return None
    return [found[i] for i in sorted(clashing)], most, example


def _encodings(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Two patterns whose ids coincide name the same frames when what differs between them
    names an encoding (``_labelIds`` / ``_color``, ``_manual1`` / ``_training_mask``,
    ``label_`` / ``color_``), or, after the id, is another extension or a fixed number (nnU-Net's
    channel ``_0000``, a second rater's ``_2``). Not when a sequence name differs before the
    frame number (CamVid's ``0006R0_f#`` / ``Seq05VD_f#``), nor for a letter added to a name
    (``m1b.png`` beside ``m1.png``).

    >>> _encodings(("#", "_", "manual", "1", ".", "gif"), ("#", "_", "mask", ".", "gif"))
    True
    >>> _encodings(("m", "#", ".", "png"), ("m", "#", "b", ".", "png"))
    False
    """
    common = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    tail = 0
    while tail < min(len(a), len(b)) - common and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    da, db = a[common : len(a) - tail], b[common : len(b) - tail]
    if {t.lower() for t in (*da, *db)} & ENCODING_WORDS:
        return True
    last_a = max((i for i, t in enumerate(a) if t in _ID_PARTS), default=-1)
    last_b = max((i for i, t in enumerate(b) if t in _ID_PARTS), default=-1)
    if common <= max(last_a, last_b):  # they differ before the id ends: sequences
        return False
    return tail == 0 or any(t.isdigit() for t in (*da, *db))  # an extension, a fixed number


def _message(
    root: object, fams: list[Family], shared: int, example: tuple[str, ...], rels: Sequence[str]
) -> str:
    fams = sorted(fams, key=_label_rank)
    parts, globs = [], []
    for f in fams:
        what = _not_labels(f)
        glob = _glob_for(f, rels)
        parts.append(
            f"{glob or f.name} ({len(f.files):,} file{'s' * (len(f.files) > 1)}"
            + (f", {what}" if what else "")
            + ")"
        )
        if not what:
            globs.append(f"--glob '{glob}'")
    layout = " (or --layout cityscapes)" if any("labelids" in f.words() for f in fams) else ""
    pick = " or ".join(globs[:3]) if globs else "--glob with the pattern of the label masks"
    return (
        f"{root} holds several kinds of masks side by side, encodings of the same frames: "
        f"{'; '.join(parts[:6])}{' and more' if len(parts) > 6 else ''} share {shared:,} "
        f"frame id(s) (e.g. {'_'.join(example)}); count one of them: pass {pick}{layout}"
    )


def _label_rank(f: Family) -> tuple[int, str]:
    words = f.words()
    rank = next((i for i, w in enumerate(_LABEL_ORDER) if w in words), len(_LABEL_ORDER))
    return (rank + (100 if _not_labels(f) else 0), f.name)


def _not_labels(f: Family) -> str:
    """What a family holds when it is not label masks (colour renderings, instance ids,
    photographs), else ''."""
    words = f.words()
    hit = next((NOT_LABELS[w] for w in NOT_LABELS if w in words), "")
    folders = {p.rpartition("/")[0].rpartition("/")[2].lower() for p in f.files[:50]}
    if not hit and folders & _IMAGE_FOLDERS:
        hit = "images, not masks"
    return hit


def _glob_for(f: Family, rels: Sequence[str]) -> str:
    """The shortest ``--glob`` that selects exactly the files of ``f`` among ``rels``."""
    folders = {p.rpartition("/")[0] for p in f.files}
    prefix = "**/" if len(folders) > 1 else (next(iter(folders)) + "/" if folders != {""} else "")
    names = _name_globs(f.tokens)
    mine = set(f.files)
    for name in names:
        rx = _glob_regex(prefix + name)
        if all(bool(rx.fullmatch(r)) == (r in mine) for r in rels):
            return prefix + name
    return prefix + names[-1]


def _name_globs(tokens: tuple[str, ...]) -> list[str]:
    """Candidate name globs, shortest first: ``*`` + a tail cut before a separator, a head cut
    after one, then the whole pattern with ``*`` for each replaced part."""
    star = ["*" if t in VARIABLE else t for t in tokens]
    cuts = [i for i, t in enumerate(tokens) if not t[:1].isalnum() and t not in VARIABLE]
    tails = ["*" + "".join(star[i:]) for i in reversed(cuts) if "*" not in "".join(star[i:])]
    heads = ["".join(star[: i + 1]) + "*" for i in cuts if "*" not in "".join(star[: i + 1])]
    whole = "".join(star)
    return [*sorted(set(tails + heads), key=len), whole]


def _glob_regex(glob: str) -> re.Pattern[str]:
    """What a pathlib glob (``**/``, ``*``, ``?``, ``[...]``) matches, as a regex on relative
    POSIX paths."""
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[" and "]" in glob[i + 1 :]:
            j = glob.index("]", i + 1)
            out.append(glob[i : j + 1])
            i = j + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out))
