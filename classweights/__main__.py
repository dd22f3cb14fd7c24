"""``python -m classweights``: the command line (as the ``classweights`` script)."""

from .cli import main

if __name__ == "__main__":
    main()
