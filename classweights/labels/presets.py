"""The presets ``--classes``, ``--palette`` and ``--remap`` name: class names, colour tables, the
void colours of their datasets, and the Cityscapes labelId -> trainId table."""

from __future__ import annotations

CITYSCAPES = [
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
]  # fmt: skip
CITYSCAPES_COLORS = [
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
    (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100),
    (0, 80, 100), (0, 0, 230), (119, 11, 32),
]  # fmt: skip
# Cityscapes labelId -> trainId (labelIds 0..33; every id without a train class -> ignore 255)
CITYSCAPES_TRAIN_IDS = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11,
    25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}  # fmt: skip
CAMVID = [
    "sky", "building", "pole", "road", "pavement", "tree", "sign symbol", "fence", "car",
    "pedestrian", "bicyclist",
]  # fmt: skip
CAMVID_COLORS = [
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222),
    (128, 128, 0), (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192),
]  # fmt: skip
PASCAL_VOC = [
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
]  # fmt: skip
ADE20K = [
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane",
    "grass", "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant",
    "curtain", "chair", "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror",
    "rug", "field", "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp",
    "bathtub", "railing", "cushion", "base", "box", "column", "signboard",
    "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace", "refrigerator",
    "grandstand", "path", "stairs", "runway", "case", "pool table", "pillow", "screen door",
    "stairway", "river", "bridge", "bookcase", "blind", "coffee table", "toilet", "flower",
    "book", "hill", "bench", "countertop", "stove", "palm", "kitchen island", "computer",
    "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus", "towel", "light",
    "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television receiver",
    "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman",
    "bottle", "buffet", "poster", "stage", "van", "ship", "fountain", "conveyer belt",
    "canopy", "washer", "plaything", "swimming pool", "stool", "barrel", "basket",
    "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food", "step", "tank",
    "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher", "screen",
    "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan",
    "fan", "pier", "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator",
    "glass", "clock", "flag",
]  # fmt: skip
CELEBAMASK_HQ = [
    "background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear",
    "r_ear", "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth",
]  # fmt: skip


def voc_colors(n: int) -> list[tuple[int, int, int]]:
    """The PASCAL VOC colour map: bits of the class id spread over the colour channels."""
    out = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out.append((r, g, b))
    return out


CLASS_PRESETS: dict[str, list[str]] = {
    "cityscapes": CITYSCAPES,
    "camvid": CAMVID,
    "pascal-voc": PASCAL_VOC,
    "ade20k": ADE20K,
    "celebamask-hq": CELEBAMASK_HQ,
}
PALETTE_PRESETS: dict[str, list[tuple[int, int, int]]] = {
    "cityscapes": CITYSCAPES_COLORS,
    "camvid": CAMVID_COLORS,
    "pascal-voc": voc_colors(len(PASCAL_VOC)),
}
# void colours of a preset's dataset: mapped to the ignore index (255 when none is given)
PALETTE_VOID: dict[str, list[tuple[int, int, int]]] = {
    "camvid": [(0, 0, 0)],  # SegNet's CamVid: Unlabelled
    "pascal-voc": [(224, 224, 192)],  # VOC's object border / difficult region (label 255)
}
REMAP_PRESETS: dict[str, dict[int, int]] = {
    "cityscapes": {i: CITYSCAPES_TRAIN_IDS.get(i, 255) for i in range(34)},
}
