"""Host script installation: which files each host needs, where its script folder is on each OS, and the
small Lua config that tells the scripts where the ``foley`` command is.

Layout installed into a host's script folder (``DEST``)::

    DEST/Foley Bridge - ....lua      the menu command(s) / actions
    DEST/foley_bridge/core.lua       shared JSON, paths, quoting, relay files
    DEST/foley_bridge/<host>_host.lua
    DEST/foley_bridge/config.lua     written here: {foley = "/abs/path/foley", work_dir = "..."}
"""
from __future__ import annotations

import logging
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from bridge import atomic
from bridge.errors import InputError, OutputError

log = logging.getLogger("foley.hosts")

HOSTS = ("resolve", "reaper")
SUPPORT = "foley_bridge"
CONFIG = "config.lua"


@dataclass
class Installed:
    host: str
    dest: Path
    files: list[Path]
    config: Path
    foley: str | None


def repo_root() -> Path:
    """The checkout holding reaper_scripts/ and resolve_scripts/ (the project is installed editable)."""
    import bridge

    return Path(bridge.__file__).resolve().parents[1]


def script_folder(host: str, system: str | None = None, env: Mapping[str, str] | None = None,
                  home: Path | None = None) -> Path:
    """The folder the host loads user scripts from, for ``system`` ("Linux", "Darwin", "Windows")."""
    check_host(host)
    system = system or {"darwin": "Darwin", "win32": "Windows"}.get(sys.platform, "Linux")
    env = os.environ if env is None else env
    home = home or Path.home()
    appdata = Path(env.get("APPDATA") or home / "AppData" / "Roaming")
    if host == "resolve":
        if system == "Darwin":
            return (home / "Library" / "Application Support" / "Blackmagic Design" / "DaVinci Resolve" / "Fusion"
                    / "Scripts" / "Edit")
        if system == "Windows":
            return appdata / "Blackmagic Design" / "DaVinci Resolve" / "Support" / "Fusion" / "Scripts" / "Edit"
        return home / ".local" / "share" / "DaVinciResolve" / "Fusion" / "Scripts" / "Edit"
    if system == "Darwin":
        base = home / "Library" / "Application Support" / "REAPER"
    elif system == "Windows":
        base = appdata / "REAPER"
    else:
        base = Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "REAPER"
    return base / "Scripts" / "Foley Bridge"


def check_host(host: str) -> str:
    if host not in HOSTS:
        raise InputError(f"host {host!r} is not one of: {', '.join(HOSTS)}")
    return host


def source_files(host: str, root: Path | None = None) -> list[tuple[Path, str]]:
    """(file in the checkout, path relative to the script folder) for every file a host needs."""
    check_host(host)
    root = root or repo_root()
    reaper_dir, resolve_dir = root / "reaper_scripts", root / "resolve_scripts"
    core = reaper_dir / SUPPORT / "core.lua"
    if host == "reaper":
        mains = sorted(reaper_dir.glob("Foley Bridge - *.lua"))
        support = [core, reaper_dir / SUPPORT / "reaper_host.lua"]
    else:
        mains = sorted(resolve_dir.glob("Foley Bridge - *.lua"))
        support = [core, resolve_dir / SUPPORT / "resolve_host.lua"]
    files = [(p, p.name) for p in mains] + [(p, f"{SUPPORT}/{p.name}") for p in support]
    missing = [str(p) for p, _ in files if not p.is_file()]
    if missing or not mains:
        raise InputError(
            f"the {host} scripts are missing from {root} ({', '.join(missing) or 'no Foley Bridge - *.lua'}); "
            "install foley-bridge from a full checkout (pip install -e .) so that reaper_scripts/ and "
            "resolve_scripts/ sit beside the bridge package")
    return files


def find_foley() -> str | None:
    """Absolute path of the ``foley`` command: on PATH, else beside the running Python."""
    found = shutil.which("foley")
    if found:
        return str(Path(found).absolute())
    name = "foley.exe" if os.name == "nt" else "foley"
    for folder in (Path(sys.executable).parent, Path(sys.executable).parent / "Scripts"):
        candidate = folder / name
        if candidate.is_file():
            return str(candidate.absolute())
    return None


def lua_string(value: str) -> str:
    """A Lua string literal for any text (paths with backslashes and quotes included)."""
    out = []
    for ch in value:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\{ord(ch):03d}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def config_text(foley: str | None, work_dir: str, port: int | None = None) -> str:
    """The Lua config the scripts load: ``return {foley = ..., work_dir = ..., port = ...}``."""
    lines = ["-- Written by `foley install-scripts`; run it again to update.", "return {"]
    if foley:
        lines.append(f"  foley = {lua_string(foley)},")
    lines.append(f"  work_dir = {lua_string(work_dir)},")
    if port is not None:
        lines.append(f"  port = {int(port)},")
    lines.append("}")
    return "\n".join(lines) + "\n"


def install(host: str, dest: str | os.PathLike | None = None, foley: str | None = None,
            work_dir: str | os.PathLike | None = None, port: int | None = None) -> Installed:
    """Copy a host's scripts into its script folder (or ``dest``) and write the config beside them.

    ``port`` names a daemon port other than the default for the scripts' ``foley submit``."""
    from bridge.daemon.paths import output_root

    files = source_files(host)
    target = Path(dest).expanduser().absolute() if dest else script_folder(host)
    foley = foley or find_foley()
    work = str(Path(work_dir).absolute()) if work_dir else str(output_root())
    written = []
    try:
        for src, rel in files:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            atomic.copy(src, target / rel)
            written.append(target / rel)
        config = target / SUPPORT / CONFIG
        config.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(config, config_text(foley, work, port))
    except OSError as exc:
        raise OutputError(f"cannot write the {host} scripts to {target}: {exc.strerror or exc}; pass a "
                          "folder you can write with --dest") from None
    log.info("installed %d %s files into %s (foley: %s)", len(written), host, target, foley)
    return Installed(host=host, dest=target, files=written, config=config, foley=foley)
