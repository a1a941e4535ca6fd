"""Running the installed host scripts under real Lua against the fake host APIs (used by the tests)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from daemon_utils import free_port  # free for TCP and UDP both: the daemon listens on both

LUA_DIR = Path(__file__).resolve().parent
REPO = LUA_DIR.parents[1]
LUA54 = shutil.which("lua5.4")
LUAJIT = shutil.which("luajit")
MARK = "SNAPSHOT "


def lua_str(text: str | os.PathLike) -> str:
    """A Lua long-bracket string literal (no escapes inside)."""
    text = str(text)
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


def run_lua(binary: str, code: str, workdir: Path, env: dict[str, str] | None = None,
            timeout: float = 180) -> tuple[Any, str]:
    """Run a Lua driver; return the decoded SNAPSHOT line (or None) and the whole output."""
    driver = workdir / f"driver-{time.monotonic_ns()}.lua"
    driver.write_text(code, encoding="utf-8")
    proc = subprocess.run([binary, str(driver)], cwd=workdir, capture_output=True, text=True, timeout=timeout,
                          env=env or dict(os.environ))
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f"{binary} failed ({proc.returncode}):\n{out}")
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):]), out
    return None, out


def install(host: str, dest: Path, *extra: str, env: dict[str, str] | None = None) -> Path:
    """Install a host's scripts with the real CLI (`foley install-scripts HOST --dest DEST`)."""
    subprocess.run([sys.executable, "-m", "bridge", "install-scripts", host, "--dest", str(dest), *extra],
                   check=True, capture_output=True, text=True, env=env)
    return dest


def write_wav(path: Path, seconds: float, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    audio = (rng.standard_normal((int(48000 * seconds), 2)) * 0.05).astype(np.float32)
    sf.write(path, audio, 48000, subtype="PCM_24")
    return path


class Daemon:
    """A real `foley serve` on a free loopback port, with its state and outputs under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.env = {**os.environ, "FOLEY_STATE_DIR": str(root / "state"), "FOLEY_OUTPUT_ROOT": str(root / "out"),
                    "FOLEY_ALLOW": str(root)}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 120.0) -> "Daemon":
        from bridge.daemon.client import ping

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bridge", "serve", "--port", str(self.port), "--allow", str(self.root),
             "--device", "cpu", "--no-warm"], env=self.env, stdout=subprocess.DEVNULL,
            stderr=open(self.root / "daemon.log", "wb"))
        deadline = time.monotonic() + timeout_s
        while ping("127.0.0.1", self.port, timeout_s=0.2) is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"foley serve did not start: {(self.root / 'daemon.log').read_text()[-2000:]}")
            time.sleep(0.2)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
