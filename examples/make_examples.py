"""Regenerate the bundled example masks: `python examples/make_examples.py`.

- `masks/`: 40 Cityscapes-like street scenes, 256 x 512, trainIds 0..18 with void = 255, 8-bit
  PNGs (class names: the `cityscapes` preset);
- `binary/`: 6 vessel-like masks, 96 x 128, 0 background / 255 foreground, 8-bit grey PNGs
  (`classweights stats examples/binary --binary`);
- `colour/`: 6 aerial-like colour masks, 96 x 128, stored as palette PNGs whose palettes list
  the colours in a different order in every file (as hand-made and remote-sensing sets do), with
  their colour table `colour/classes.json` (`--palette examples/colour/classes.json`).

Deterministic (seeded); each set is a few KB.
"""

import json
from pathlib import Path

import numpy as np
from PIL import Image

from classweights.synthetic import write_pngs

HERE = Path(__file__).parent
#: aerial classes and their colours (the table `colour/classes.json` holds)
AERIAL = {
    "#000000": 0,  # background
    "#ff0000": 1,  # building
    "#808080": 2,  # road
    "#00ff00": 3,  # vegetation
    "#0000ff": 4,  # water
}


def _fresh(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


def vessels(n: int = 6, h: int = 96, w: int = 128, seed: int = 0) -> list[np.ndarray]:
    """Thin random-walk 'vessels' on a 0 background: 255 where a vessel is."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        m = np.zeros((h, w), np.uint8)
        for _ in range(int(rng.integers(3, 7))):
            y, x = int(rng.integers(0, h)), 0
            for x in range(w):
                y = int(np.clip(y + rng.integers(-1, 2), 0, h - 2))
                m[y : y + 2, x] = 255
        out.append(m)
    return out


def aerial(n: int = 6, h: int = 96, w: int = 128, seed: int = 1) -> list[np.ndarray]:
    """Label images 0..4: background, building blocks, a road, vegetation, sometimes water."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        m = np.zeros((h, w), np.uint8)
        m[:, : int(rng.integers(20, 50))] = 3
        if i % 2 == 0:
            m[int(rng.integers(60, 80)) :, :] = 4
        y = int(rng.integers(20, 70))
        m[y : y + 8, :] = 2
        for _ in range(int(rng.integers(2, 6))):
            by, bx = int(rng.integers(0, h - 16)), int(rng.integers(0, w - 16))
            m[by : by + 12, bx : bx + 14] = 1
        out.append(m)
    return out


def save_palette_png(path: Path, labels: np.ndarray, order: list[int]) -> None:
    """A palette PNG whose palette lists the class colours in ``order`` (index i holds the
    colour of class order[i]), so the same colour has another index in another file."""
    colours = list(AERIAL)
    index = np.empty(len(order), np.uint8)
    index[order] = np.arange(len(order), dtype=np.uint8)
    im = Image.fromarray(index[labels], mode="P")
    pal = []
    for cls in order:
        c = colours[cls]
        pal += [int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)]
    im.putpalette(pal)
    im.save(path, optimize=False)


if __name__ == "__main__":
    paths = write_pngs(_fresh(HERE / "masks"), n=40, height=256, width=512, seed=0)
    print(f"wrote {len(paths)} masks to {HERE / 'masks'}")
    binary = _fresh(HERE / "binary")
    for i, m in enumerate(vessels()):
        Image.fromarray(m).save(binary / f"{21 + i}_manual1.png", optimize=True)
    print(f"wrote 6 masks to {binary}")
    colour = _fresh(HERE / "colour")
    rng = np.random.default_rng(2)
    for i, m in enumerate(aerial()):
        save_palette_png(colour / f"tile_{i:02d}.png", m, rng.permutation(5).tolist())
    (colour / "classes.json").write_text(json.dumps(AERIAL, indent=1) + "\n")
    print(f"wrote 6 masks and classes.json to {colour}")
