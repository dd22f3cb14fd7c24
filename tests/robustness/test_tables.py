"""Malformed remap, colour and class-name tables, and config bombs: exit 2, one line naming the
file, within a memory ceiling (each CLI case runs in a capped child process)."""

import sys

import numpy as np
import pytest
from capped import cli, one_line_error, python
from conftest import save_png

import classweights as cw
import classweights.cache
import classweights.requests.source
import classweights.sources.readers as readers

# nine levels of nine aliases each: 9**9 = 387 million strings once expanded, in 324 bytes
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi")
)


@pytest.fixture
def masks(tmp_path):
    (tmp_path / "masks").mkdir()
    save_png(tmp_path / "masks" / "a.png", np.array([[0, 1], [2, 1]], np.uint8))
    return tmp_path / "masks"


def test_alias_bomb_is_small():
    assert len(ALIAS_BOMB) < 400


@pytest.mark.parametrize("flag", ["--remap", "--classes", "--palette"])
def test_yaml_alias_bomb_is_refused_before_it_expands(masks, tmp_path, flag):
    table = tmp_path / "table.yaml"
    table.write_text(ALIAS_BOMB)
    r = cli("stats", masks, "--num-classes", 3, flag, table)
    line = one_line_error(r, table, "alias")
    assert len(line) < 300  # the expanded structure is never printed


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("3: 0.9\n", "the label of 3 is 0.9, not a whole number"),
        ("3: 2.7\n", "the label of 3 is 2.7, not a whole number"),
        ("3: true\n", "the label of 3 is True, not a whole number"),
        ("100000000000000000000000000000: 1\n", "key is 1e+29, outside the label range"),
        ("[1, 2]\n", "must be a mapping of raw value -> label"),
    ],
)
def test_bad_remap_values_exit_2_naming_the_file(masks, tmp_path, text, problem):
    table = tmp_path / "remap.yaml"
    table.write_text(text)
    one_line_error(cli("stats", masks, "--num-classes", 3, "--remap", table), table, problem)


def test_remap_values_are_not_truncated_in_python(tmp_path):
    with pytest.raises(cw.ConfigError, match=r"the label of 3 is 0\.9"):
        cw.scan(tmp_path, num_classes=3, remap={3: 0.9})
    with pytest.raises(cw.ConfigError, match="the label of 3 is True"):
        cw.scan(tmp_path, num_classes=3, remap={3: True})


def test_palette_label_that_is_a_name(masks, tmp_path):
    table = tmp_path / "palette.json"
    table.write_text('{"#ff0000": "road"}')
    r = cli("stats", masks, "--num-classes", 3, "--palette", table)
    one_line_error(r, table, "the label of colour (255, 0, 0) is 'road', not a whole number")


def test_classes_mapping_with_names_as_keys(masks, tmp_path):
    table = tmp_path / "classes.yaml"
    table.write_text("road: 0\ncar: 1\nsky: 2\n")
    one_line_error(cli("stats", masks, "--num-classes", 3, "--classes", table), table, "'road'")


def test_classes_file_not_utf8(masks, tmp_path):
    table = tmp_path / "names.txt"
    table.write_bytes("road\nStra\xdfe\nsky\n".encode("latin-1"))
    one_line_error(cli("stats", masks, "--num-classes", 3, "--classes", table), table, "UTF-8")


def test_classes_mapping_with_integer_keys_is_ordered_by_id(masks, tmp_path):
    table = tmp_path / "classes.yaml"
    table.write_text("2: sky\n0: road\n1: car\n")
    assert cw.scan(masks, num_classes=3, classes=table).class_names == ["road", "car", "sky"]


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_table_nested_3000_levels(masks, tmp_path, suffix):
    table = tmp_path / f"remap{suffix}"
    table.write_text('{"a": ' * 3000 + "1" + "}" * 3000)
    one_line_error(cli("stats", masks, "--num-classes", 3, "--remap", table), table, "nested")


def test_loss_and_schedule_configs_nested_3000_levels(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: DiceLoss\nx: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n")
    from classweights.losses import build_loss
    from classweights.schedule.config import _load_config

    with pytest.raises(cw.ConfigError, match="nested more than 100 levels"):
        build_loss(deep)
    with pytest.raises(cw.ConfigError, match="nested more than 100 levels"):
        _load_config(str(deep))


def test_loss_config_alias_bomb_within_memory_ceiling(tmp_path):
    bomb = tmp_path / "loss.yaml"
    bomb.write_text("name: DiceLoss\n" + ALIAS_BOMB)
    r = python(
        f"""
        from classweights.schedule.config import _load_config
        from classweights.errors import ConfigError
        try:
            _load_config({str(bomb)!r})
        except ConfigError as e:
            print(e)
        """
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "alias" in r.stdout and len(r.stdout) < 300


def test_load_weights_checks_the_method_before_reading_any_file(monkeypatch, tmp_path):
    save_png(tmp_path / "a.png", np.array([[0, 1]], np.uint8))

    def boom(*a, **k):
        raise AssertionError("a file was read before the weight options were checked")

    monkeypatch.setattr(readers, "read_image", boom)
    monkeypatch.setattr(sys.modules["classweights.requests.source"], "discover", boom)
    with pytest.raises(cw.ConfigError, match="method='bogus' is not valid"):
        cw.load_weights(tmp_path, method="bogus", num_classes=2, cache_dir=tmp_path / "c")
    with pytest.raises(cw.ConfigError, match="unknown scan setting or weight option normalise"):
        cw.load_weights(tmp_path, num_classes=2, cache_dir=tmp_path / "c", normalise="sum")
    with pytest.raises(cw.ConfigError, match="beta= does not apply to method='pos_weight'"):
        cw.load_weights(tmp_path, method="pos_weight", num_classes=2, cache_dir=tmp_path / "c",
                        beta=0.9)  # fmt: skip
    assert not (tmp_path / "c").exists()


def test_cli_weight_options_are_checked_before_reading(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")  # reading it would fail
    r = cli("compute", tmp_path, "--num-classes", 2, "--beta", 2)
    one_line_error(r, "--beta 2.0 is not valid")
