"""`foley install-scripts`: script folders per OS, the copied files, the Lua config, the ReaPack index."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from adapters.hosts import config_text, install, lua_string, repo_root, script_folder, source_files
from bridge.errors import InputError
from lua.harness import LUA54, LUAJIT, lua_str

HOME = Path("/home/ed")


@pytest.mark.parametrize("host, system, expected", [
    ("resolve", "Darwin", "/home/ed/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Edit"),
    ("resolve", "Windows", "/appdata/Blackmagic Design/DaVinci Resolve/Support/Fusion/Scripts/Edit"),
    ("resolve", "Linux", "/home/ed/.local/share/DaVinciResolve/Fusion/Scripts/Edit"),
    ("reaper", "Darwin", "/home/ed/Library/Application Support/REAPER/Scripts/Foley Bridge"),
    ("reaper", "Windows", "/appdata/REAPER/Scripts/Foley Bridge"),
    ("reaper", "Linux", "/home/ed/.config/REAPER/Scripts/Foley Bridge"),
])
def test_script_folder_per_os(host, system, expected):
    assert script_folder(host, system, env={"APPDATA": "/appdata"}, home=HOME) == Path(expected)


def test_unknown_host_names_the_choices():
    with pytest.raises(InputError, match="'logic' is not one of: resolve, reaper"):
        script_folder("logic")


def test_missing_scripts_say_how_to_fix(tmp_path):
    with pytest.raises(InputError, match="pip install -e"):
        source_files("reaper", root=tmp_path)


def test_cli_installs_files_and_config(tmp_path):
    dest = tmp_path / "My Scripts"
    out = subprocess.run([sys.executable, "-m", "bridge", "install-scripts", "reaper", "--dest", str(dest)],
                         check=True, capture_output=True, text=True).stdout
    assert f"into {dest}" in out and "Load ReaScript" in out
    for src, rel in source_files("reaper"):
        assert (dest / rel).read_bytes() == src.read_bytes()
    assert sorted(p.name for p in dest.glob("*.lua")) == [
        "Foley Bridge - cancel.lua", "Foley Bridge - generate for selected items.lua",
        "Foley Bridge - generate for time selection.lua"]
    config = (dest / "foley_bridge" / "config.lua").read_text()
    assert "foley = " in config and "work_dir = " in config
    assert not list(dest.rglob(".tmp-*")) and not list(dest.rglob("*.tmp"))


def test_resolve_install_carries_the_shared_core(tmp_path):
    done = install("resolve", tmp_path, foley="/opt/fb/bin/foley", work_dir=tmp_path / "w", port=9123)
    rels = sorted(str(p.relative_to(tmp_path)) for p in done.files)
    assert rels == ["Foley Bridge - Generate.lua", "foley_bridge/core.lua", "foley_bridge/resolve_host.lua"]
    core = repo_root() / "reaper_scripts" / "foley_bridge" / "core.lua"
    assert (tmp_path / "foley_bridge" / "core.lua").read_bytes() == core.read_bytes()
    assert done.config.read_text().count("port = 9123") == 1


@pytest.mark.parametrize("binary", [pytest.param(LUA54, id="lua5.4"), pytest.param(LUAJIT, id="luajit")])
def test_config_is_read_by_lua_with_awkward_paths(binary, tmp_path):
    if binary is None:
        pytest.skip("Lua is not installed (apt-get install lua5.4 luajit)")
    foley = 'C:\\Program Files\\Foley "Bridge"\\foley.exe'
    work = "/Users/ed/Library/Application Support/foley-bridge/jobs\ttab"
    done = install("resolve", tmp_path, foley=foley, work_dir=work, port=9000)
    code = f"""
local core = dofile({lua_str(tmp_path / 'foley_bridge' / 'core.lua')})
local cfg = core.load_config({lua_str(str(tmp_path / 'foley_bridge') + '/')})
io.write(cfg.foley, "\\n", cfg.work_dir, "\\n", tostring(cfg.port))
"""
    driver = tmp_path / "read.lua"
    driver.write_text(code)
    out = subprocess.run([binary, str(driver)], capture_output=True, text=True, check=True).stdout
    assert out.split("\n") == [foley, str(Path(work).absolute()), "9000"]
    assert done.foley == foley


def test_lua_string_escapes():
    assert lua_string('a\\b"c\n') == '"a\\\\b\\"c\\010"'
    assert config_text(None, "/w") == ('-- Written by `foley install-scripts`; run it again to update.\n'
                                       'return {\n  work_dir = "/w",\n}\n')


def test_reapack_index_lists_every_installed_file():
    index = ET.parse(repo_root() / "reaper_scripts" / "index.xml").getroot()
    sources = index.findall(".//source")
    files = {s.get("file") for s in sources}
    assert files == {rel for _, rel in source_files("reaper")}
    mains = {s.get("file") for s in sources if s.get("main") == "main"}
    assert mains == {p.name for p in (repo_root() / "reaper_scripts").glob("Foley Bridge - *.lua")}
    for s in sources:
        assert s.text.endswith(s.get("file").replace(" ", "%20"))


def test_registering_the_command_is_cheap():
    code = ("import sys, argparse; import bridge.commands.install_scripts as m; "
            "m.register(argparse.ArgumentParser().add_subparsers()); "
            "print(sorted(k for k in ('adapters.hosts', 'torch', 'cv2', 'av') if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_reapack_scripts_carry_their_version_and_an_rtf_description():
    """ReaPack reads @version from each script and the index <description> as RTF."""
    import re

    index = ET.parse(repo_root() / "reaper_scripts" / "index.xml").getroot()
    [version] = index.findall(".//version")
    for script in (repo_root() / "reaper_scripts").glob("Foley Bridge - *.lua"):
        head = script.read_text().split("\n", 5)[:5]
        assert f"-- @version {version.get('name')}" in head, script.name
    [description] = index.findall(".//metadata/description")
    rtf = description.text.strip()
    assert rtf.startswith("{\\rtf1") and rtf.endswith("}")
    depth = 0
    for ch in re.sub(r"\\[{}\\]", "", rtf):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0 and "\\par" in rtf


def test_cli_work_dir_goes_into_the_config(tmp_path):
    dest, work = tmp_path / "s", tmp_path / "jobs here"
    subprocess.run([sys.executable, "-m", "bridge", "install-scripts", "resolve", "--dest", str(dest), "--work-dir",
                    str(work)], check=True, capture_output=True, text=True)
    assert f"work_dir = {lua_string(str(work))}" in (dest / "foley_bridge" / "config.lua").read_text()
