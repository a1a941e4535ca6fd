"""The bundled starter kit of recorded sounds: where it is, its manifest and its credit lines.

The kit (``models/kit/``) holds real recordings named in UCS style (``CatID_FXName_CreatorID_
SourceID_NN.ext``), unchanged from their sources, with ``MANIFEST.csv`` (one row per file: CatID,
category, subcategory, description, source, licence, attribution, sha256, ...) and
``LICENSES.md``. Pure file reading, no audio: cheap enough for ``foley credits`` and ``--help``.
"""
from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bridge.errors import InputError

#: The kit folder inside the installed package.
KIT_DIR = Path(__file__).resolve().parent / "kit"
MANIFEST = KIT_DIR / "MANIFEST.csv"
LICENSES = KIT_DIR / "LICENSES.md"
#: Licences the kit may hold; CC-BY files must be credited wherever sound sources are named.
ALLOWED_LICENCES = ("CC0-1.0", "CC-BY-3.0", "CC-BY-4.0")


@dataclass(frozen=True)
class KitFile:
    """One manifest row."""

    file: str
    cat_id: str
    category: str
    subcategory: str
    description: str
    licence: str
    creator: str
    attribution: str
    sha256: str
    duration_s: float

    @property
    def path(self) -> str:
        return str(KIT_DIR / self.file)

    @property
    def needs_credit(self) -> bool:
        return self.licence.startswith("CC-BY")


@lru_cache(maxsize=1)
def manifest() -> tuple[KitFile, ...]:
    """Every kit file as the manifest describes it, in manifest order."""
    try:
        with open(MANIFEST, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise InputError(f"the bundled sound kit's manifest {str(MANIFEST)!r} cannot be read: {exc}; "
                         "reinstall foley-bridge") from None
    return tuple(KitFile(file=r["file"], cat_id=r["catid"], category=r["category"], subcategory=r["subcategory"],
                         description=r["description"], licence=r["licence"], creator=r["creator"],
                         attribution=r["attribution"], sha256=r["sha256"], duration_s=float(r["duration_s"] or 0.0))
                 for r in rows)


def by_path() -> dict[str, KitFile]:
    """Manifest rows keyed by the file's absolute path."""
    return {f.path: f for f in manifest()}


def credit_lines(files: list[str] | None = None) -> list[str]:
    """The attribution lines of the CC BY files (of ``files``, kit paths or names, when given), as the
    manifest spells them; each line once, in manifest order."""
    wanted = None if files is None else {Path(f).name for f in files}
    out: list[str] = []
    for f in manifest():
        if f.needs_credit and (wanted is None or f.file in wanted) and f.attribution not in out:
            out.append(f.attribution)
    return out


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def licence_counts() -> dict[str, int]:
    """How many kit files carry each licence."""
    files = manifest()
    return {lic: sum(1 for f in files if f.licence == lic) for lic in sorted({f.licence for f in files})}


def summary() -> dict[str, object]:
    """What ``foley library list`` shows for the kit."""
    files = manifest()
    return {"path": str(KIT_DIR), "files": len(files), "built_in": True, "licences": licence_counts(),
            "categories": len({f.category for f in files})}
