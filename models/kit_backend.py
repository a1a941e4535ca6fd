"""The "kit" sound source: the recordings bundled with foley-bridge (:mod:`models.kit`).

The kit's files are analysed (level, transient, brightness) into an index kept beside the user's
library index (``kit-index.sqlite``), so only the first load pays for it (a few seconds on two cores)
and later ones re-read it in milliseconds; where that folder cannot be written the index is kept in
memory for the process. Their UCS fields come from the kit's manifest. Choice and cut are those of
:mod:`models.recorded`; a category the kit lacks raises :class:`models.sound.NoMatch`, and the engine
falls back to the synthesizer.
"""
from __future__ import annotations

import dataclasses
import logging
import os

from models import kit
from models.library import LibraryFile, LibraryIndex
from models.recorded import RecordingBackend

log = logging.getLogger("foley.kit_backend")


def _kit_index() -> LibraryIndex:
    """The kit's analysis cache beside the user's library index; in memory when that cannot be written."""
    from bridge.errors import OutputError
    from models.library.paths import default_db_path

    try:
        return LibraryIndex(default_db_path().parent / "kit-index.sqlite", workers=2)
    except OutputError as exc:
        log.info("kit analysis kept in memory: %s", exc)
        return LibraryIndex(":memory:", workers=2)


class KitBackend(RecordingBackend):
    """Sound source "kit"; see the module docstring."""

    name = "kit"

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(device=device)
        rows = kit.by_path()
        with _kit_index() as index:
            index.add([kit.KIT_DIR])
            skipped = [s for s in index.skipped() if os.path.realpath(s["path"]).startswith(
                os.path.realpath(kit.KIT_DIR))]
            analysed = index.files(roots=[str(kit.KIT_DIR)])
        for s in skipped:
            log.warning("kit file %s left out: %s", s["path"], s["reason"])
        self._by_category: dict[str, list[LibraryFile]] = {}
        for f in analysed:
            m = rows.get(os.path.realpath(f.path)) or rows.get(f.path)
            if m is None:
                log.warning("kit file %s is not in the kit manifest; left out", f.path)
                continue
            f = dataclasses.replace(f, cat_id=m.cat_id, category=m.category, subcategory=m.subcategory,
                                    description=m.description)
            self._by_category.setdefault(m.category, []).append(f)
        log.info("kit ready: %d recordings in %d categories", sum(map(len, self._by_category.values())),
                 len(self._by_category))

    def category_files(self, category: str) -> list[LibraryFile]:
        return self._by_category.get(category.upper(), [])

    def describe_source(self, f: LibraryFile) -> str:
        """Kit files are named by their UCS file name alone (it identifies them in the manifest)."""
        return os.path.basename(f.path)
