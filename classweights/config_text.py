"""Reading settings files from strangers: a size cap, and YAML/JSON parsed within bounds.

A 400-byte YAML file of nested aliases (a "billion laughs") expands to gigabytes when it is
constructed, and a document nested a few thousand levels deep overflows Python's stack. So a
YAML text is first walked as a stream of parser events (which never expands an alias), counting
the nodes it *would* construct and its nesting depth; only a text within both limits is
constructed. JSON has no aliases; its depth is bounded by catching the parser's recursion.

>>> load_yaml("a: &x [1, 2]\\nb: *x\\n", "t.yaml")
{'a': [1, 2], 'b': [1, 2]}
>>> load_yaml("[" * 500 + "]" * 500, "deep.yaml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
classweights.errors.ConfigError: deep.yaml: nested more than 100 levels deep; ...
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import ConfigError

#: Largest settings file read (remap, colour or class-name table, loss or schedule config).
MAX_CONFIG_BYTES = 16 << 20
#: Most nodes a YAML document may expand to (aliases counted at their expanded size).
MAX_CONFIG_NODES = 1_000_000
#: Deepest nesting of lists and mappings in a settings file.
MAX_CONFIG_DEPTH = 100


def read_config_text(path: str | Path, what: str) -> str:
    """The text of a settings file, refused by its size before it is read and if not UTF-8."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{p}: the {what} file is {size:,} bytes, above the limit of "
                f"{MAX_CONFIG_BYTES:,} for a settings file; is it the right file?"
            )
        return p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{p}: the {what} file is not UTF-8 text (byte {e.object[e.start]:#04x} at offset "
            f"{e.start}); save it as UTF-8"
        ) from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read the {what} file ({e.strerror or e})") from None


def _yaml_loader() -> tuple[Any, Any]:
    import yaml

    return yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def check_yaml_size(text: str, where: str) -> None:
    """Refuse a YAML text whose aliases expand past ``MAX_CONFIG_NODES`` or that nests deeper
    than ``MAX_CONFIG_DEPTH``, from its parser events (nothing is constructed)."""
    yaml, loader = _yaml_loader()
    sizes: dict[str, int] = {}  # anchor -> expanded node count of its node
    stack: list[list[Any]] = [[None, 0]]  # open collections: [anchor, nodes so far]
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append([event.anchor, 1])
            if len(stack) - 1 > MAX_CONFIG_DEPTH:
                raise ConfigError(
                    f"{where}: nested more than {MAX_CONFIG_DEPTH} levels deep; a settings file "
                    "is a flat table or a shallow mapping"
                )
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, n = stack.pop()
        elif isinstance(event, yaml.ScalarEvent):
            anchor, n = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            anchor, n = None, sizes.get(event.anchor, 1)
        else:
            continue
        if anchor is not None:
            sizes[anchor] = n
        stack[-1][1] += n
        if stack[-1][1] > MAX_CONFIG_NODES:
            raise ConfigError(
                f"{where}: its aliases (*name) expand to more than {MAX_CONFIG_NODES:,} values "
                "(a YAML alias bomb?); write the table out without aliases"
            )


def load_yaml(text: str, where: str) -> Any:
    """``yaml.safe_load`` of a text checked by :func:`check_yaml_size` first."""
    yaml, loader = _yaml_loader()
    try:
        check_yaml_size(text, where)
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML ({_one_line(e)})") from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply to read") from None


def load_json(text: str, where: str) -> Any:
    """``json.loads`` with a nesting bound (a RecursionError becomes a ConfigError)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where}: not valid JSON ({e})") from None
    except RecursionError:
        raise ConfigError(
            f"{where}: nested too deeply to read; a settings file is a flat table or a shallow "
            "mapping"
        ) from None


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())
