"""Write docs/cli.md, the CLI reference, from the ``--help`` of every command.

    PYTHONPATH=$PWD python docs/make_cli_reference.py            # rewrite docs/cli.md
    PYTHONPATH=$PWD python docs/make_cli_reference.py --stdout   # print it

tests/test_cli_reference.py fails when docs/cli.md differs from what this writes.
"""

from __future__ import annotations

from pathlib import Path

import click

OUT = Path(__file__).resolve().parent / "cli.md"
WIDTH = 100


def _helps(command: click.Command, parent: click.Context | None, name: str):
    # what a 100-column terminal shows (click keeps 2 columns free when it measures one)
    settings = {**command.context_settings, "terminal_width": WIDTH - 2, "max_content_width": WIDTH}
    ctx = click.Context(command, parent=parent, info_name=name, **settings)
    yield ctx.command_path, command.get_help(ctx)
    if isinstance(command, click.Group):
        for sub in command.list_commands(ctx):
            yield from _helps(command.get_command(ctx, sub), ctx, sub)


def reference() -> str:
    """The Markdown text of docs/cli.md."""
    from classweights.cli import cli

    parts = [
        "# Command-line reference\n",
        "Generated from `--help` by `docs/make_cli_reference.py`; do not edit by hand "
        "(tests/test_cli_reference.py fails when this page is stale).\n",
    ]
    helps = list(_helps(cli, None, "classweights"))
    parts.append("\n".join(f"- [`{path}`](#{path.replace(' ', '-')})" for path, _ in helps) + "\n")
    for path, text in helps:
        parts.append(f'<a id="{path.replace(" ", "-")}"></a>\n## `{path}`\n\n```text\n{text}\n```\n')
    return "\n".join(parts)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--stdout"]:  # what the test compares (a fresh process: click caches
        sys.stdout.write(reference())  # each command's help option on first use)
    else:
        OUT.write_text(reference(), encoding="utf-8")
        print(f"wrote {OUT}")
