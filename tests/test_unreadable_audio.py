"""Sound-library files that cannot be read are skipped with the operating system's own reason."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge.errors import InputError
from models.audio import read_audio
from models.library import LibraryIndex


def _locked(folder: Path) -> Path:
    """A regular, non-empty file this process may not read (root reads everything: a write-only
    kernel attribute stands in)."""
    path = folder / "locked.wav"
    if os.geteuid() != 0:
        sf.write(path, np.zeros(4800, dtype=np.float32), 48000)
        os.chmod(path, 0)
        return path
    for target in ("/sys/bus/pci/rescan", "/sys/bus/pci/drivers_probe"):
        if os.path.isfile(target):
            try:
                open(target, "rb").close()
            except PermissionError:
                path.symlink_to(target)
                return path
    pytest.skip("no file here that this (root) process cannot read")


def test_an_unreadable_library_file_is_skipped_as_permission_denied(tmp_path: Path) -> None:
    lib = tmp_path / "sfx"
    lib.mkdir()
    sf.write(lib / "METLImpt_hit.wav", (0.5 * np.sin(np.arange(9600) / 5)).astype(np.float32), 48000)
    locked = _locked(lib)
    with pytest.raises(InputError, match="Permission denied"):
        read_audio(str(locked))
    index = LibraryIndex(tmp_path / "lib.sqlite")
    index.add([lib])
    reasons = {Path(s["path"]).name: s["reason"] for s in index.skipped()}
    assert "Permission denied" in reasons["locked.wav"], reasons
    assert "System error" not in reasons["locked.wav"] and "pipe" not in reasons["locked.wav"]
    assert "METLImpt_hit.wav" not in reasons
