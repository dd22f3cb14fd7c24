"""Every output goes through one writer (`classweights.atomic`): FIFOs and devices are streamed
to, symlinks followed (their target replaced atomically), folders refused, ``-o -`` is stdout,
and a failed write or a closed stdout is one line with exit 1 -- checked with real files,
FIFOs, device nodes and subprocesses (issue 28 items 13 and 25)."""

from __future__ import annotations

import io
import json
import os
import pty
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

import classweights as cw
from classweights.errors import OutputError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "masks"
BASE = [str(EXAMPLES), "--num-classes", "19", "--ignore-index", "255"]
WEIGHTS = [0.5, 2.0, 1.25]


def _stats():
    return cw.ClassStats.from_counts([[90, 10, 0], [80, 0, 5]])


# ---- every writer, with an independent decoder of what it wrote -----------------------------
def _write_json(p):
    from classweights.export import write_export

    return write_export("json", p, WEIGHTS, stats=_stats())


def _write_yaml(p):
    from classweights.export import write_export

    return write_export("yaml", p, WEIGHTS, stats=_stats())


def _write_npy(p):
    from classweights.export import write_export

    return write_export("npy", p, WEIGHTS)


def _write_pth(p):
    pytest.importorskip("torch")
    from classweights.export import write_export

    return write_export("pth", p, WEIGHTS, stats=_stats(), method="manual")


def _write_html(p):
    return cw.report_html(_stats(), p)


def _write_png(p):
    pytest.importorskip("matplotlib")
    from classweights.plot import plot_classes
    from classweights.report import stats_dict

    return plot_classes(stats_dict(_stats()), p)


def _write_sampler(p):
    from classweights.sampler import sampler_report, write_sampling_weights

    data = sampler_report(_stats(), "repeat_factor", {"threshold": 0.5, "frequency": "images"})
    return write_sampling_weights(data, "json", p)[0]


def _write_npz(p):
    return _stats().save(p)


def _weights_of_json(b):
    return json.loads(b)["weights"]


def _weights_of_pth(b):
    import torch

    return torch.load(io.BytesIO(b), weights_only=True)["weights"].tolist()


def _png_size(b):
    from PIL import Image

    return Image.open(io.BytesIO(b)).size


WRITERS = {
    "x.json": (_write_json, lambda b: _weights_of_json(b) == WEIGHTS),
    "x.yaml": (_write_yaml, lambda b: yaml.safe_load(b)["weights"] == WEIGHTS),
    "x.npy": (_write_npy, lambda b: np.load(io.BytesIO(b)).tolist() == WEIGHTS),
    "x.pth": (_write_pth, lambda b: _weights_of_pth(b) == pytest.approx(WEIGHTS)),
    "x.html": (_write_html, lambda b: b.startswith(b"<!DOCTYPE html>") and b"</html>" in b),
    "x.png": (_write_png, lambda b: min(_png_size(b)) > 50),
    "s.json": (_write_sampler, lambda b: len(json.loads(b)["weights"]) == 2),
    "x.npz": (
        _write_npz,
        lambda b: np.load(io.BytesIO(b))["counts"].tolist() == [[90, 10, 0], [80, 0, 5]],
    ),
}


def _read_fifo_in_background(path):
    got = {}

    def read():
        with open(path, "rb") as fh:
            got["data"] = fh.read()

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t, got


@pytest.mark.parametrize("name", list(WRITERS))
def test_every_writer_streams_into_a_fifo_and_leaves_it_a_fifo(tmp_path, name):
    """A FIFO was replaced by a regular file (and its reader left waiting)."""
    write, valid = WRITERS[name]
    fifo = tmp_path / name
    os.mkfifo(fifo)
    t, got = _read_fifo_in_background(fifo)
    write(fifo)
    t.join(timeout=60)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced"
    assert not t.is_alive(), "the reader got nothing"
    assert valid(got["data"])
    assert sorted(os.listdir(tmp_path)) == [name]  # no temporary file left beside it


@pytest.mark.parametrize("name", list(WRITERS))
def test_every_writer_follows_a_symlink_and_replaces_its_target(tmp_path, name):
    write, valid = WRITERS[name]
    (tmp_path / "real").mkdir()
    (tmp_path / "links").mkdir()
    target = tmp_path / "real" / name
    target.write_bytes(b"old")
    target.chmod(0o640)
    link = tmp_path / "links" / name
    link.symlink_to(Path("..") / "real" / name)
    write(link)
    assert link.is_symlink() and os.readlink(link) == str(Path("..") / "real" / name)
    assert valid(target.read_bytes())
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # replaced, permissions kept
    assert sorted(os.listdir(tmp_path / "real")) == [name]  # the temporary file was there
    assert sorted(os.listdir(tmp_path / "links")) == [name]
    dangling = tmp_path / "links" / f"new-{name}"
    dangling.symlink_to(Path("..") / "real" / f"new-{name}")
    write(dangling)  # a link to a file not made yet: the file is made, the link stays
    assert dangling.is_symlink() and valid((tmp_path / "real" / f"new-{name}").read_bytes())


@pytest.mark.parametrize("name", ["x.json", "x.npy", "x.html", "s.json"])
def test_a_folder_or_socket_is_refused_by_every_writer(tmp_path, name):
    import socket

    write, _ = WRITERS[name]
    folder = tmp_path / name
    folder.mkdir()
    with pytest.raises(OutputError, match=rf"{folder} is a folder"):
        write(folder)
    assert folder.is_dir()
    sock_path = tmp_path / f"sock-{name}"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        with pytest.raises(OutputError, match=r"is a socket, not a file"):
            write(sock_path)
        assert stat.S_ISSOCK(os.lstat(sock_path).st_mode)


# ---- the command line: device nodes, folders, -o - --------------------------------------------
def run(*args, cache, text=False, stdout=subprocess.PIPE):
    env = {**os.environ, "CLASSWEIGHTS_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "classweights.cli", *map(str, args)],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=text,
        timeout=300,
        env=env,
    )


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def _char_device(path, minor):
    """A character device node like /dev/null (minor 3) or /dev/full (minor 7), made here so
    that no test ever writes to the machine's own /dev (as root the old code replaced them)."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
        with open(path, "wb"):
            pass
    except (PermissionError, OSError) as e:
        pytest.skip(f"cannot make a device node here ({e})")


@pytest.mark.parametrize(
    "args",
    [
        ["compute", *BASE, "--export", "json", "-o"],
        ["compute", *BASE, "-o"],  # a .pth record (suffixless: pth)
        ["report", *BASE, "-o"],
        ["sampler", *BASE, "--export", "csv", "-o"],
        ["stats", *BASE, "--plot"],
    ],
)
def test_a_full_device_is_exit_1_with_one_line_and_stays_a_device(tmp_path, cache, args):
    if args[0] == "stats":
        pytest.importorskip("matplotlib")
    full = tmp_path / ("full.png" if args[0] == "stats" else "full")
    _char_device(full, 7)
    out = run(*args, full, cache=cache, text=True)
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines[-1] == (
        f"error: writing {full} (a character device) failed: No space left on device"
    ), out.stderr
    assert "Traceback" not in out.stderr
    assert stat.S_ISCHR(os.lstat(full).st_mode)
    null = tmp_path / ("null.png" if args[0] == "stats" else "null")
    _char_device(null, 3)
    out = run(*args, null, cache=cache, text=True)
    assert out.returncode == 0, out.stderr
    assert stat.S_ISCHR(os.lstat(null).st_mode), "the device node was replaced by a file"


def test_a_folder_given_to_o_is_exit_2_with_one_line(tmp_path, cache):
    (tmp_path / "w.files.txt").mkdir()  # sampler's npy export writes FILE.files.txt beside it
    out = run("sampler", *BASE, "--export", "npy", "-o", tmp_path / "w.npy", cache=cache, text=True)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == f"error: {tmp_path / 'w.files.txt'} is a folder; pass a file name to write to"
    (tmp_path / "d.json").mkdir()
    out = run("compute", *BASE, "-o", tmp_path / "d.json", cache=cache, text=True)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1


def test_dash_is_stdout_for_text_and_for_binary_off_a_terminal(tmp_path, cache):
    ref = run("compute", *BASE, "-o", tmp_path / "w.json", cache=cache, text=True)
    assert ref.returncode == 0, ref.stderr
    expected = json.loads((tmp_path / "w.json").read_text())["weights"]
    out = run("compute", *BASE, "--export", "json", "-o", "-", cache=cache, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["weights"] == expected  # all of stdout: no table after it
    assert not (Path.cwd() / "-").exists()
    out = run("compute", *BASE, "--export", "npy", "-o", "-", cache=cache)
    assert out.returncode == 0 and np.load(io.BytesIO(out.stdout)).tolist() == expected
    out = run("report", *BASE, "-o", "-", cache=cache, text=True)
    assert out.returncode == 0 and out.stdout.startswith("<!DOCTYPE html>")
    assert out.stdout.rstrip().endswith("</html>") and "wrote" not in out.stderr
    out = run("sampler", *BASE, "--export", "csv", "-o", "-", cache=cache, text=True)
    rows = out.stdout.splitlines()
    assert out.returncode == 0 and rows[0] == "index,source,weight" and len(rows) == 41
    out = run("sampler", *BASE, "--export", "npy", "-o", "-", cache=cache, text=True)
    assert out.returncode == 2 and "pass --output FILE.npy" in out.stderr


def test_binary_to_a_terminal_is_refused(cache):
    main, tty = pty.openpty()
    try:
        out = run("compute", *BASE, "--export", "npy", "-o", "-", cache=cache, stdout=tty)
    finally:
        os.close(tty)
        os.close(main)
    assert out.returncode == 2
    assert b"writes binary npy data; redirect stdout" in out.stderr


# ---- a closed or broken stdout (item 25) -------------------------------------------------------
STDOUT_COMMANDS = [
    ["stats", *BASE, "--format", "table"],
    ["stats", *BASE, "--format", "json"],
    ["stats", *BASE, "--format", "csv"],
    ["stats", *BASE, "--format", "markdown"],
    ["compare", *BASE, "--format", "json"],
    ["compute", *BASE, "--export", "pytorch"],
    ["compute", *BASE, "--export", "json", "-o", "-"],
    ["sampler", *BASE, "--export", "csv"],
    ["report", *BASE, "-o", "-"],
    ["cache", "list"],
    ["cache", "path"],
]


@pytest.mark.parametrize("args", STDOUT_COMMANDS, ids=lambda a: "-".join(a[:1] + a[-2:]))
def test_a_closed_stdout_is_exit_1_with_one_line(cache, args):
    """`>&-`: tables exited 0 having written nothing; json/csv exited 1 with AttributeError."""
    env = {**os.environ, "CLASSWEIGHTS_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        ["bash", "-c", 'exec "$@" >&-', "_", sys.executable, "-m", "classweights.cli", *args],
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 1, out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        "error: cannot write to standard output: it is closed; run with stdout open "
        "(e.g. > FILE), or pass -o FILE where the command has one"
    )
    assert "Traceback" not in out.stderr and "AttributeError" not in out.stderr


@pytest.mark.parametrize("args", STDOUT_COMMANDS, ids=lambda a: "-".join(a[:1] + a[-2:]))
def test_a_reader_that_left_is_a_quiet_exit_1(cache, args):
    """The pipe's reader is gone before anything is written: EPIPE, as after `| head -1`.
    Python's pattern: no traceback, no message flood, exit 1."""
    r, w = os.pipe()
    os.close(r)
    try:
        out = run(*args, cache=cache, text=True, stdout=w)
    finally:
        os.close(w)
    assert out.returncode == 1
    assert out.stderr == ""


def test_head_1_stays_quiet(cache):
    env = {**os.environ, "CLASSWEIGHTS_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "classweights.cli", "stats", *BASE, "--format", "csv"]
    out = subprocess.run(
        ["bash", "-o", "pipefail", "-c", '"$@" | head -1', "_", *cmd],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.stdout.splitlines() == ["id,name,pixels,share,images,image_pixels,weight"]
    assert out.stderr == "" and out.returncode in (0, 1)
