"""Regenerate the bundled example masks: `python examples/make_examples.py`.

40 Cityscapes-like street scenes, 256 x 512, trainIds 0..18 with void = 255, written as 8-bit
PNGs to examples/masks/. Deterministic (seed 0); class names are the `cityscapes` preset.
"""

from pathlib import Path

from classweights.synthetic import write_pngs

if __name__ == "__main__":
    out = Path(__file__).parent / "masks"
    for old in out.glob("*.png"):
        old.unlink()
    paths = write_pngs(out, n=40, height=256, width=512, seed=0)
    print(f"wrote {len(paths)} masks to {out}")
