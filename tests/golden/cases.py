"""The CLI calls whose stdout is kept byte for byte in ``tests/golden/`` (see regenerate.py).

Each case runs the real console script in a subprocess from the repository root, with
``NO_COLOR=1``, ``COLUMNS=100`` and a fresh ``CLASSWEIGHTS_CACHE``; volatile fields (cache
folder, cache keys, fingerprints, ages, temporary folders) are replaced by fixed tokens.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "out"
MASKS = "examples/masks"
DATA = [MASKS, "--num-classes", "19", "--ignore-index", "255", "--classes", "cityscapes"]
DATA += ["--workers", "1"]
FORMATS = ("table", "json", "csv", "markdown")
# a published vector for `match`: sqrt_inv_freq of the example masks, rounded to 4 digits
PUBLISHED = "WEIGHTS"


def cases() -> list[tuple[str, list[str]]]:
    """(name, arguments) of every golden call; ``{tmp}w.pth`` runs in the temporary folder."""
    out: list[tuple[str, list[str]]] = []
    for fmt in FORMATS:
        out.append((f"stats.{fmt}", ["stats", *DATA, "--format", fmt]))
        for method in ("sqrt_inv_freq", "effective_num", "median_freq"):
            out.append((f"compute-{method}.{fmt}", ["compute", *DATA, "--method", method, "--format", fmt]))
        out.append((f"compute-clip.{fmt}", ["compute", *DATA, "--clip", "0.5,3", "--renormalize", "--format", fmt]))
        out.append((f"compare.{fmt}", ["compare", *DATA, "--format", fmt]))
        out.append((f"compare-splits.{fmt}", ["compare-splits", MASKS, MASKS, *DATA[1:], "--format", fmt]))
        out.append((f"sampler.{fmt}", ["sampler", *DATA, "--format", fmt]))
        out.append((f"sampler-presence.{fmt}", ["sampler", *DATA, "--method", "class_presence", "--format", fmt]))
    for export in ("pytorch", "mmseg", "monai", "keras", "json", "yaml"):
        out.append((f"compute-export-{export}.txt", ["compute", *DATA, "--export", export]))
    for export in ("json", "csv"):
        out.append((f"sampler-export-{export}.txt", ["sampler", *DATA, "--export", export]))
    for fmt in ("table", "json", "markdown"):
        out.append((f"show.{fmt}", ["show", "{tmp}w.pth", "--format", fmt]))
        out.append((f"cache-list.{fmt}", ["cache", "list", "--format", fmt]))
    for fmt in ("text", "json"):
        out.append((f"explain.{fmt}", ["explain", "{tmp}w.pth", "--format", fmt]))
        out.append((f"explain-class.{fmt}", ["explain", "{tmp}w.pth", "--class", "3", "--format", fmt]))
    for fmt in ("table", "json", "csv"):
        out.append((f"match.{fmt}", ["match", *DATA, "--weights", PUBLISHED, "--format", fmt]))
    return out


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLASSWEIGHTS_", "FORCE_COLOR"))}
    env.update(NO_COLOR="1", COLUMNS="100", LINES="50", CLASSWEIGHTS_CACHE=str(cache))
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run(args: list[str], tmp: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run ``classweights ARGS`` (from the repository root); stdout and stderr as text."""
    cmd = [sys.executable, "-c", "from classweights.cli import main; main()", *args]
    return subprocess.run(
        cmd, cwd=cwd, env=_env(tmp / "cache"), capture_output=True, text=True, timeout=600
    )


def prepare(tmp: Path) -> str:
    """Write ``{tmp}/w.pth`` (the cache gets its entry too); return the vector for `match`."""
    done = run(["compute", *DATA, "-o", f"{tmp}/w.pth"], tmp)
    assert done.returncode == 0, done.stderr
    vec = run(["compute", *DATA, "--format", "json"], tmp)
    import json

    weights = [c["weight"] for c in json.loads(vec.stdout)["classes"]]
    return ",".join(f"{w:.4f}" for w in weights)


_HEX = re.compile(r"(?<![.\d])\b[0-9a-f]{16,64}\b")


def normalise(text: str, tmp: Path) -> str:
    """Replace the folders, keys and ages that change from run to run by fixed tokens."""
    for path, token in ((tmp / "cache", "<CACHE>"), (tmp, "<TMP>"), (ROOT, "<ROOT>")):
        text = text.replace(str(path.resolve()), token).replace(str(path), token)
    text = _HEX.sub("<HEX>", text)
    # a rich table pads to its widest cell: a line holding a folder token ends where it ends
    text = re.sub(r"(<CACHE>|<TMP>|<ROOT>)([^\n]*?) +$", r"\1\2", text, flags=re.M)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?", "<TIME>", text)
    text = re.sub(r'"(age_seconds|created_at|mtime)": [0-9.e+-]+', r'"\1": 0', text)
    # an entry's size on disk holds the dataset's absolute path (meta.json): not golden
    text = re.sub(r'"size": \d+', '"size": 0', text)
    text = re.sub(r" *\b\d+ kB\b", " <SIZE>", text)
    text = re.sub(r"methods +size", "methods size", text)  # the column is as wide as its cells
    text = re.sub(r"\| \d+[smhd] \|$", "| <AGE> |", text, flags=re.M)  # markdown
    text = re.sub(r" +\d+[smhd]$", " <AGE>", text, flags=re.M)  # a table's right-aligned age
    return text


def render_all(tmp: Path) -> dict[str, str]:
    """Every case's normalised stdout (with its exit code when not 0)."""
    published = prepare(tmp)
    result = {}
    for name, args in cases():
        cwd = tmp if any("{tmp}" in a for a in args) else ROOT  # a short, fixed file name
        args = [a.replace("{tmp}", "").replace(PUBLISHED, published) for a in args]
        done = run(args, tmp, cwd)
        text = done.stdout
        if done.returncode != 0:
            text += f"\n[exit {done.returncode}]\n{done.stderr}"
        result[name] = normalise(text, tmp)
    return result
