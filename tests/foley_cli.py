"""Run the ``foley`` command as a user would: a subprocess of this interpreter."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

FOLEY = [sys.executable, "-m", "bridge"]


def run(*args: str, cwd: Path | str | None = None, umask: int | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    preexec = (lambda: os.umask(umask)) if umask is not None else None  # noqa: E731
    return subprocess.run([*FOLEY, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          preexec_fn=preexec)
