"""While the daemon runs, the sound-library index follows files added to and removed from its folders."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from daemon_utils import DaemonProcess, wait_for
from models.library import LibraryIndex


def _click(path: Path) -> None:
    audio = np.zeros(24000, dtype=np.float32)
    audio[4800:4900] = np.hanning(100) * 0.8
    sf.write(str(path), audio, 48000, subtype="PCM_16")


def test_daemon_keeps_the_library_index_current(tmp_path: Path) -> None:
    lib = tmp_path / "sfx"
    lib.mkdir()
    _click(lib / "METLImpt_Pipe hit_ABC_Test.wav")
    db = tmp_path / "root" / "data" / "library.sqlite"
    index = LibraryIndex(db)
    index.add([str(lib)])
    assert index.stats()["files"] == 1
    index.close()
    daemon = DaemonProcess(tmp_path / "root", args=("--no-warm",)).start()
    try:
        wait_for(lambda: "sound-library folder" in daemon.output(), 30, "library watcher start")
        _click(lib / "FEETHmn_Gravel step_ABC_Test.wav")

        def count() -> int:
            idx = LibraryIndex(db)
            try:
                return idx.stats()["files"]
            finally:
                idx.close()

        wait_for(lambda: count() == 2, 30, "new file indexed")
        (lib / "METLImpt_Pipe hit_ABC_Test.wav").unlink()
        wait_for(lambda: count() == 1, 30, "removed file dropped")
    finally:
        assert daemon.stop() == 0
