"""Rewrite the CLI's golden outputs (only for a deliberate change of output; review the diff).

    PYTHONPATH=$PWD python tests/golden/regenerate.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cases import GOLDEN, render_all


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="classweights-golden-") as tmp:
        outputs = render_all(Path(tmp))
    GOLDEN.mkdir(exist_ok=True)
    for old in GOLDEN.iterdir():
        old.unlink()
    for name, text in outputs.items():
        (GOLDEN / name).write_text(text, encoding="utf-8", newline="")
    print(f"wrote {len(outputs)} files to {GOLDEN}")


if __name__ == "__main__":
    main()
