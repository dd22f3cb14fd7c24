"""Synthetic label masks with realistic region shapes, for examples, tests and benchmarks.

`street_scene` draws a Cityscapes-like layout in trainIds (0..18, void = 255): sky above,
buildings and vegetation in the middle, road and sidewalk below, then objects (cars, people,
poles, signs...) as ellipses and boxes whose sizes follow a long-tailed distribution, so that
class shares are as imbalanced as in real driving data and PNG files compress like real masks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

# trainIds
ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN, VEG, TERRAIN, SKY = range(11)
PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTO, BICYCLE = range(11, 19)
VOID = 255

# object class -> (probability an image has it, mean count, relative size)
_OBJECTS = {
    CAR: (0.9, 4, 0.12),
    PERSON: (0.6, 4, 0.05),
    POLE: (0.9, 5, 0.02),
    SIGN: (0.7, 3, 0.03),
    LIGHT: (0.5, 2, 0.02),
    BICYCLE: (0.3, 2, 0.04),
    RIDER: (0.15, 1, 0.05),
    TRUCK: (0.08, 1, 0.15),
    BUS: (0.05, 1, 0.18),
    TRAIN: (0.02, 1, 0.2),
    MOTO: (0.06, 1, 0.05),
    WALL: (0.3, 1, 0.15),
    FENCE: (0.4, 1, 0.12),
    TERRAIN: (0.5, 1, 0.15),
}


def street_scene(height: int, width: int, rng: np.random.Generator) -> NDArray[np.uint8]:
    """One Cityscapes-like trainId mask (uint8, void = 255).

    >>> m = street_scene(64, 128, np.random.default_rng(0))
    >>> m.shape, m.dtype, bool(set(np.unique(m)) <= set(range(19)) | {255})
    ((64, 128), dtype('uint8'), True)
    """
    h, w = height, width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xs = xx / w
    horizon = h * rng.uniform(0.35, 0.5)
    sky_line = horizon - h * rng.uniform(0.1, 0.3) * (1 + 0.5 * np.sin(xs * rng.uniform(3, 9)))
    m = np.full((h, w), BUILDING, np.uint8)
    m[yy < sky_line] = SKY
    veg = (np.sin(xs * rng.uniform(5, 15) + rng.uniform(0, 6)) > rng.uniform(0.2, 0.8)) & (
        yy < horizon
    )
    m[veg & (yy > sky_line - h * 0.08)] = VEG
    road_edge = horizon + (yy - horizon) * 0  # flat horizon line
    m[yy >= road_edge] = ROAD
    walk = np.abs(xs - 0.5) * 2 > 0.55 + (yy - horizon) / h * 0.6
    m[(yy >= horizon) & walk] = SIDEWALK
    for cls, (p, mean_n, size) in _OBJECTS.items():
        if rng.random() > p:
            continue
        for _ in range(max(1, rng.poisson(mean_n))):
            s = size * np.exp(rng.normal(0, 0.5))
            cy = rng.uniform(horizon - h * 0.1, h * 0.95)
            cx = rng.uniform(0, w)
            scale = 0.3 + (cy / h)  # nearer objects (lower in the image) are larger
            ry = h * s * scale * (2.5 if cls in (POLE, PERSON, RIDER, LIGHT) else 0.6)
            rx = w * s * scale * (0.08 if cls == POLE else 0.5)
            if cls in (POLE, SIGN, LIGHT, WALL, FENCE, BUS, TRUCK, TRAIN):
                region = (np.abs(yy - cy) < ry) & (np.abs(xx - cx) < rx)
            else:
                region = ((yy - cy) / max(ry, 1)) ** 2 + ((xx - cx) / max(rx, 1)) ** 2 < 1
            m[region] = cls
    m[yy > h * rng.uniform(0.9, 0.97)] = VOID  # ego vehicle
    if rng.random() < 0.5:
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), h * rng.uniform(0.02, 0.06)
        m[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = VOID
    return m


def write_pngs(
    folder: str | Path, n: int, height: int = 256, width: int = 512, seed: int = 0
) -> list[Path]:
    """Write ``n`` street-scene masks as 8-bit greyscale PNGs; returns the paths."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        p = folder / f"scene_{i:04d}_labelTrainIds.png"
        Image.fromarray(street_scene(height, width, rng)).save(p, optimize=False)
        paths.append(p)
    return paths
