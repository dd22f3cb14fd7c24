"""`cache list|show|clear|path` and `show FILE.pth`."""

from __future__ import annotations

import json
from typing import Any

import click

from ..atomic import write_stdout
from ..text import visible
from .errors import handle_errors

_cache_dir = click.option(
    "--cache-dir",
    type=click.Path(),
    help="Cache folder (default: $CLASSWEIGHTS_CACHE or the user cache dir).",
)
_format = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
)


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


@click.group()
def cache() -> None:
    """Inspect and clean the cache of statistics and weights.

    \b
    Examples:
      classweights cache list
      classweights cache clear --older-than 30d
      classweights cache path
    """


@cache.command("list")
@_cache_dir
@_format
@handle_errors
def list_(cache_dir: str | None, fmt: str) -> None:
    """Entries: key, dataset, images, sampled or full, methods, size, age.

    \b
    Examples:
      classweights cache list
      classweights cache list --format json
    """
    from ..cache.admin import list_entries
    from ..report.render import render

    render(list_entries(cache_dir), fmt, kind="cache", age=_age)


@cache.command()
@click.argument("key")
@_cache_dir
@handle_errors
def show(key: str, cache_dir: str | None) -> None:
    """The metadata of one entry (JSON).

    \b
    Examples:
      classweights cache list
      classweights cache show KEY
      classweights cache show 3fa9      (a unique prefix of the key)
    """
    from ..cache.admin import describe_entry

    meta = describe_entry(key, cache_dir)  # a unique prefix of a key is enough
    if meta is None:
        raise click.UsageError(f"no cache entry {visible(key)}")
    write_stdout(json.dumps(meta, indent=2) + "\n")
    for note in meta.get("warnings") or ():  # what the scan warned, raised again here too
        click.echo(f"warning: {visible(str(note.get('message')))}", err=True)


@cache.command()
@click.argument("key", required=False)
@click.option("--all", "all_", is_flag=True, help="Remove every entry.")
@click.option("--older-than", metavar="AGE", help="Remove entries older than AGE (30d, 12h).")
@_cache_dir
@handle_errors
def clear(key: str | None, all_: bool, older_than: str | None, cache_dir: str | None) -> None:
    """Remove entries: only folders the cache made; links and other folders are left alone
    (-v says which), nothing outside the cache folder is touched.

    \b
    Examples:
      classweights cache clear --older-than 30d
      classweights cache clear --all
    """
    from ..cache.admin import clear_entries, parse_age
    from ..errors import ConfigError

    if sum(x is not None and x is not False for x in (key, all_ or None, older_than)) != 1:
        raise click.UsageError("give exactly one of KEY, --all or --older-than AGE")
    try:
        age = parse_age(older_than) if older_than else None
    except ConfigError as e:
        raise click.BadParameter(str(e), param_hint="'--older-than'") from None
    root, victims = clear_entries(cache_dir, key=key, all=all_, older_than=age)
    entries = f"{len(victims)} entr{'y' if len(victims) == 1 else 'ies'}"
    click.echo(f"removed {entries} from {visible(root)}", err=True)


@cache.command()
@_cache_dir
@handle_errors
def path(cache_dir: str | None) -> None:
    """Print the cache folder.

    \b
    Examples:
      classweights cache path
      du -sh "$(classweights cache path)"
    """
    from ..cache import Store

    write_stdout(f"{Store(cache_dir).root}\n")  # for $(...): exact, as the user gave it


@click.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_format
@handle_errors
def show_file(file: str, fmt: str) -> None:
    """Show a saved weight file (.pth, .npy, .json, .yaml): method, options and weights.

    \b
    Examples:
      classweights compute examples/masks --num-classes 19 --ignore-index 255 -o w.pth
      classweights show w.pth
      classweights show w.json --format markdown
    """
    from ..cache.record import load_any_record
    from ..report import record_dict
    from ..report.render import render

    render(record_dict(load_any_record(file)), fmt, kind="record", title=file)


__all__: list[Any] = ["cache", "show_file"]
