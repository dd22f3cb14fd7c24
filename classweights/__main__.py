"""``python -m classweights``: the command line (as the ``classweights`` script)."""

from .cli import main

main()
