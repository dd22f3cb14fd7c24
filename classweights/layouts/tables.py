"""The label tables of the dataset layouts: SegNet's CamVid merge, COCO-Stuff's unused ids,
Mapillary Vistas v1.2's names (facts from the datasets' own documentation)."""

from __future__ import annotations

CAMVID32_TO_11: dict[tuple[int, int, int], int] = {
    # SegNet's grouping of the 32 CamVid classes into 11 (void (0, 0, 0) -> ignore)
    (128, 128, 128): 0,  # Sky
    (0, 128, 64): 1,
    (128, 0, 0): 1,
    (64, 192, 0): 1,
    (64, 0, 64): 1,
    (192, 0, 128): 1,
    (192, 192, 128): 2,
    (0, 0, 64): 2,  # Column_Pole, TrafficCone
    (128, 64, 128): 3,
    (128, 0, 192): 3,
    (192, 0, 64): 3,  # Road, LaneMkgsDriv/NonDriv
    (0, 0, 192): 4,
    (64, 192, 128): 4,
    (128, 128, 192): 4,  # Sidewalk, ParkingBlock, Shoulder
    (128, 128, 0): 5,
    (192, 192, 0): 5,  # Tree, VegetationMisc
    (192, 128, 128): 6,
    (128, 128, 64): 6,
    (0, 64, 64): 6,  # SignSymbol, Misc_Text, TrafficLight
    (64, 64, 128): 7,  # Fence
    (64, 0, 128): 8,
    (64, 128, 192): 8,
    (192, 128, 192): 8,
    (192, 64, 128): 8,
    (128, 64, 64): 8,
    (64, 64, 0): 9,
    (192, 128, 64): 9,
    (64, 0, 192): 9,
    (64, 128, 64): 9,  # Pedestrian, ...
    (0, 128, 192): 10,
    (192, 0, 192): 10,  # Bicyclist, MotorcycleScooter
}
CAMVID_VOID = 11

# COCO-Stuff 164k stuffthingmaps ids 0..181: these 11 thing ids are never used
COCO_STUFF_UNUSED = (11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90)
COCO_STUFF_REMAP = {
    k: (255 if k in COCO_STUFF_UNUSED else k - sum(u < k for u in COCO_STUFF_UNUSED))
    for k in range(182)
}

MAPILLARY_V12 = [
    "Bird",
    "Ground Animal",
    "Curb",
    "Fence",
    "Guard Rail",
    "Barrier",
    "Wall",
    "Bike Lane",
    "Crosswalk - Plain",
    "Curb Cut",
    "Parking",
    "Pedestrian Area",
    "Rail Track",
    "Road",
    "Service Lane",
    "Sidewalk",
    "Bridge",
    "Building",
    "Tunnel",
    "Person",
    "Bicyclist",
    "Motorcyclist",
    "Other Rider",
    "Lane Marking - Crosswalk",
    "Lane Marking - General",
    "Mountain",
    "Sand",
    "Sky",
    "Snow",
    "Terrain",
    "Vegetation",
    "Water",
    "Banner",
    "Bench",
    "Bike Rack",
    "Billboard",
    "Catch Basin",
    "CCTV Camera",
    "Fire Hydrant",
    "Junction Box",
    "Mailbox",
    "Manhole",
    "Phone Booth",
    "Pothole",
    "Street Light",
    "Pole",
    "Traffic Sign Frame",
    "Utility Pole",
    "Traffic Light",
    "Traffic Sign (Back)",
    "Traffic Sign (Front)",
    "Trash Can",
    "Bicycle",
    "Boat",
    "Bus",
    "Car",
    "Caravan",
    "Motorcycle",
    "On Rails",
    "Other Vehicle",
    "Trailer",
    "Truck",
    "Wheeled Slow",
    "Car Mount",
    "Ego Vehicle",
]  # (index 65 = "Unlabeled", the void label)
