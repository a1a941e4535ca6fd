"""The REAPER actions and the Resolve menu script, installed with `foley install-scripts --dest`, run under
real Lua (lua5.4 as REAPER, luajit as Resolve) against fakes of the host APIs, end to end through a real
`foley submit` and daemon where a job runs."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lua.harness import LUA54, LUA_DIR, LUAJIT, Daemon, install, lua_str, run_lua, write_wav
from videos import Mover, drop, scene

need_lua54 = pytest.mark.skipif(LUA54 is None, reason="lua5.4 is not installed (apt-get install lua5.4)")
need_luajit = pytest.mark.skipif(LUAJIT is None, reason="luajit is not installed (apt-get install luajit)")
CATEGORY_ORDER = ["Foley Impacts", "Foley Footsteps", "FX Whooshes", "Ambience"]
FPS = 25


# --- fixtures --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hosts")


@pytest.fixture(scope="module")
def daemon(root):
    d = Daemon(root).start()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def video(root) -> Path:
    path = root / "media" / "drops.mp4"
    path.parent.mkdir()
    scene(path, [Mover(drop(0.3, 0.1, 0.7), seed=1), Mover(drop(0.7, 0.8, 1.4), color=(60, 200, 90), seed=2)],
          seconds=2.0, fps=FPS, width=320, height=180)
    return path


@pytest.fixture(scope="module")
def reaper_dir(root) -> Path:
    return install("reaper", root / "reaper")


@pytest.fixture(scope="module")
def resolve_dir(root) -> Path:
    return install("resolve", root / "resolve")


@pytest.fixture(scope="module")
def reaper_live(root, daemon) -> Path:
    """The REAPER scripts configured for the test daemon's port."""
    return install("reaper", root / "reaper_live", "--port", str(daemon.port), env=daemon.env)


@pytest.fixture(scope="module")
def resolve_live(root, daemon) -> Path:
    return install("resolve", root / "resolve_live", "--port", str(daemon.port), env=daemon.env)


def reaper_prelude(project: Path) -> str:
    return (f"local fake = dofile({lua_str(LUA_DIR / 'fake_reaper.lua')})\n"
            f"local dump = dofile({lua_str(LUA_DIR / 'dump.lua')})\n"
            f"fake.project_path = {lua_str(project)}\nfake.fps = {FPS}\n")


GENERATE = "Foley Bridge - generate for selected items.lua"


def generate_without_launch(tmp_path, video, script, setup: str = "",
                            after: str = 'print("SNAPSHOT " .. dump(fake.snapshot()))') -> str:
    """Lua that runs REAPER's generate ``script`` on one picture item with the launcher not run."""
    return reaper_prelude(tmp_path) + f"""
fake.exec_noop = true
{setup}
local src = fake.add_track("Picture")
fake.add_item(src, {{path = {lua_str(video)}, position = 0, length = 2}})
fake.run_script({lua_str(script)})
{after}
"""


def resolve_prelude() -> str:
    return (f"local fake = dofile({lua_str(LUA_DIR / 'fake_resolve.lua')})\n"
            f"local dump = dofile({lua_str(LUA_DIR / 'dump.lua')})\n")


def job_dirs(base: Path) -> list[Path]:
    """Job folders in the order they were made (their names sort by second only, then a random suffix)."""
    return sorted((p for p in base.glob("*") if (p / "request.json").exists()),
                  key=lambda p: ((p / "request.json").stat().st_mtime_ns, p.name))


def check_against_events(placements: list[dict], result: dict) -> int:
    """Every placement's transient (record_in_s + snap) sits on its event's timeline time; returns matches."""
    events = json.loads(Path(result["events"]).read_text())
    source = events["sources"][0]
    by_id = {str(e["id"]): e for e in events["events"]}
    checked = 0
    for p in placements:
        ev = by_id[str(p["id"])]
        t = source["record_in_s"] + ev["time_s"] - source["range_s"][0]
        if p["record_in_s"] > t - ev.get("snap_offset_s", p["snap_offset_s"]) + 1e-6:
            continue  # head trimmed at the start of the selection: the clip starts on the selection
        assert abs(p["record_in_s"] + p["snap_offset_s"] - t) < 1e-3
        checked += 1
    return checked


def lane(name: str) -> tuple[str, int]:
    base, _, n = name.rpartition(" ")
    return (base, int(n)) if base and n.isdigit() else (name, 1)


def expected_track_order(result: dict) -> list[str]:
    """Track names in creation order: the result's "tracks" list, else the placements' first appearance; each
    base track followed by its overlap lanes."""
    ranks = [t["name"] for t in result.get("tracks", [])]
    for p in result["placements"]:
        if lane(p["track"])[0] not in ranks:
            ranks.append(lane(p["track"])[0])
    names = {p["track"] for p in result["placements"]}
    return sorted(names, key=lambda n: (ranks.index(lane(n)[0]), lane(n)[1]))


def check_sync_and_ucs(placements: list[dict]) -> None:
    """Every clip carries its sync point as a cue marker at the snap offset, and UCS fields in iXML."""
    from wavinfo import WavInfoReader

    for p in placements:
        info = WavInfoReader(p["path"])
        assert list(info.cues.each_cue()) == [(1, round(p["snap_offset_s"] * 48000))], p["path"]
        xml = info.ixml.raw_xml
        assert xml.findtext("USER/CATID") and xml.findtext("USER/CATEGORY") and xml.findtext("USER/FXNAME")
        assert xml.findtext("ASWG/catId") == xml.findtext("USER/CATID")


# --- JSON --------------------------------------------------------------------------------------------------

TRICKY = r'''{"s": "quote \" backslash \\ slash \/ ctl \b\f\n\r\t end", "u": "caf\u00e9 \u20ac \ud83d\ude00 \u0000x",
 "raw": "日本語 ünï", "nested": [[1, [2, [3, []]]], {"a": {"b": [true, false, null, {}]}}],
 "nums": [0, -0.0, 1.5e3, -2.25E-2, 1e+2, 12345678901234, 0.1, -7], "empty": {}, "arr_null": [null, 1]}'''


@pytest.mark.parametrize("binary", [pytest.param(LUA54, marks=need_lua54, id="lua5.4"),
                                    pytest.param(LUAJIT, marks=need_luajit, id="luajit")])
def test_json_decoder_on_tricky_input(binary, tmp_path):
    (tmp_path / "in.json").write_text(TRICKY, encoding="utf-8")
    bad = ["[1,]", '{"a" 1}', "01", '"\x01"', "[1] x", '"\\x"', '{"a":1,}', "", '"open']
    (tmp_path / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    code = f"""
local core = dofile({lua_str(REPO_CORE)})
local dump = dofile({lua_str(LUA_DIR / 'dump.lua')})
local f = io.open("in.json", "rb"); local text = f:read("*a"); f:close()
local v = core.json.decode(text)
local again = core.json.decode(core.json.encode(v))
local bad = core.json.decode(io.open("bad.json", "rb"):read("*a"))
local errors = {{}}
for i, b in ipairs(bad) do
  local ok, err = pcall(core.json.decode, b)
  errors[i] = ok and "ACCEPTED" or tostring(err)
end
local null_kept = v.arr_null[1] == core.json.null and #v.arr_null == 2
print("{MARK_}" .. dump({{decoded = v, again = again, errors = errors, null_kept = null_kept,
  encoded_escapes = core.json.encode("a\\"b\\\\c\\n\\1")}}))
"""
    snap, out = run_lua(binary, code, tmp_path)
    expected = json.loads(TRICKY)
    expected["nested"][1]["a"]["b"][2] = "null"  # the dumper writes the null marker through tostring
    expected["arr_null"][0] = "null"
    assert snap["decoded"] == expected, out
    assert snap["again"] == expected
    assert snap["decoded"]["u"] == "café € \U0001F600 \x00x"
    assert snap["null_kept"] is True
    assert json.loads(snap["encoded_escapes"]) == 'a"b\\c\n\x01'
    for text, err in zip(bad, snap["errors"]):
        assert err != "ACCEPTED" and err.startswith("JSON:"), (text, err)


REPO_CORE = LUA_DIR.parents[1] / "reaper_scripts" / "foley_bridge" / "core.lua"
MARK_ = "SNAPSHOT "


@need_lua54
def test_command_quoting_survives_a_real_shell(tmp_path):
    nasty = tmp_path / "it's a \"dir\" $HOME `x` %PATH%"
    nasty.mkdir()
    code = f"""
local core = dofile({lua_str(REPO_CORE)})
local dump = dofile({lua_str(LUA_DIR / 'dump.lua')})
local p = io.popen("printf '%s' " .. core.quote_sh({lua_str(nasty)}))
local got = p:read("*a"); p:close()
print("{MARK_}" .. dump({{got = got, cmd = core.quote_cmd([[C:\\My Videos\\100%\\]])}}))
"""
    snap, _ = run_lua(LUA54, code, tmp_path)
    assert snap["got"] == str(nasty)
    assert snap["cmd"] == '"C:\\My Videos\\100%%\\\\"'


# --- REAPER ------------------------------------------------------------------------------------------------

def reaper_env(daemon: Daemon) -> dict[str, str]:
    return dict(daemon.env)


@need_lua54
def test_reaper_selected_items_end_to_end(reaper_live, daemon, video, root):
    project = root / "reaper_project"
    project.mkdir()
    code = reaper_prelude(project) + f"""
local src = fake.add_track("Picture")
fake.add_track("Dialogue")
fake.add_item(src, {{path = {lua_str(video)}, position = 12.5, length = 1.8, startoffs = 0.1}})
fake.run_script({lua_str(reaper_live / 'Foley Bridge - generate for selected items.lua')})
local rounds = fake.pump(240)
local s = fake.snapshot(); s.rounds = rounds
print("SNAPSHOT " .. dump(s))
"""
    snap, out = run_lua(LUA54, code, project, env=reaper_env(daemon))
    assert snap["messages"] == [], out
    [job] = job_dirs(project / "FoleyBridge")
    request = json.loads((job / "request.json").read_text())
    assert request["host"] == "reaper" and request["fps"] == FPS
    assert request["items"] == [{"path": str(video), "source_in_s": 0.1, "source_out_s": pytest.approx(1.9),
                                 "record_in_s": 12.5}]
    result = json.loads((job / "result.json").read_text())
    assert result["ok"], result
    placements = result["placements"]
    assert placements, "the synthetic drops must give events"
    assert snap["rounds"] > 1  # the defer loop polled; the UI was never blocked in one call

    names = [t["name"] for t in snap["tracks"]]
    new = names[1:-1]
    assert names[0] == "Picture" and names[-1] == "Dialogue"  # new tracks sit right below the source track
    assert new == expected_track_order(result)
    assert set(new) == {p["track"] for p in placements}
    assert "Foley Impacts" in new

    items = {t["name"]: t["items"] for t in snap["tracks"]}
    for p in placements:
        match = [i for i in items[p["track"]] if i["file"] == p["path"]]
        assert len(match) == 1
        it = match[0]
        assert abs(it["position"] - p["record_in_s"]) < 1e-3
        assert abs(it["length"] - p["duration_s"]) < 1e-6
        assert abs(it["snap"] - p["snap_offset_s"]) < 1e-6
        assert it["vol"] == 1 and it["pan"] == 0
        assert p["kind"] in it["notes"] and f"{p['gain_db']:+.1f} dB" in it["notes"]
        assert Path(it["file"]).is_file()
    assert check_against_events(placements, result) >= 1
    check_sync_and_ucs(placements)
    assert len(snap["undo_blocks"]) == 1 and snap["undo_depth"] == 0 and snap["refresh_depth"] == 0
    assert snap["ops_outside_undo"] == 0 and snap["edit_ops"] > 0
    assert "Foley Bridge: add" in snap["undo_blocks"][0]["desc"]
    assert snap["gfx_open"] is False and snap["ext"] == []  # window closed, cancel file forgotten


@need_lua54
def test_reaper_cancel_by_closing_the_progress_window(reaper_live, daemon, video, root):
    project = root / "reaper_cancel"
    project.mkdir()
    code = reaper_prelude(project) + f"""
local src = fake.add_track("Picture")
fake.add_item(src, {{path = {lua_str(video)}, position = 0, length = 2}})
fake.gfx_close_after = 1
fake.run_script({lua_str(reaper_live / 'Foley Bridge - generate for selected items.lua')})
fake.pump(240)
print("SNAPSHOT " .. dump(fake.snapshot()))
"""
    snap, out = run_lua(LUA54, code, project, env=reaper_env(daemon))
    [job] = job_dirs(project / "FoleyBridge")
    result = json.loads((job / "result.json").read_text())
    assert result == {"ok": False, "code": "cancelled", "message": result["message"]}
    assert "cancelled" in snap["console"] and snap["messages"] == []
    assert [t["name"] for t in snap["tracks"]] == ["Picture"] and snap["undo_blocks"] == []


@need_lua54
def test_reaper_job_failed_is_shown(reaper_live, daemon, root):
    project = root / "reaper_failed"
    project.mkdir()
    broken = project / "broken.mp4"
    broken.write_bytes(b"this is not a video" * 100)
    code = reaper_prelude(project) + f"""
local src = fake.add_track("Picture")
fake.add_item(src, {{path = {lua_str(broken)}, position = 0, length = 2}})
fake.run_script({lua_str(reaper_live / 'Foley Bridge - generate for selected items.lua')})
fake.pump(240)
print("SNAPSHOT " .. dump(fake.snapshot()))
"""
    snap, out = run_lua(LUA54, code, project, env=reaper_env(daemon))
    [msg] = snap["messages"]
    assert msg["text"].startswith("The Foley job failed") and "broken.mp4" in msg["text"], msg
    assert [t["name"] for t in snap["tracks"]] == ["Picture"] and snap["undo_blocks"] == []


@need_lua54
def test_reaper_nothing_selected(reaper_dir, tmp_path):
    code = reaper_prelude(tmp_path) + f"""
local src = fake.add_track("Picture")
fake.add_item(src, {{path = "/nowhere/a.mp4", position = 0, length = 2, selected = false}})
fake.run_script({lua_str(reaper_dir / 'Foley Bridge - generate for selected items.lua')})
fake.pump(5)
print("SNAPSHOT " .. dump(fake.snapshot()))
"""
    snap, _ = run_lua(LUA54, code, tmp_path)
    [msg] = snap["messages"]
    assert "Select one or more video items" in msg["text"] and msg["title"] == "Foley Bridge"
    assert snap["exec"] == [] and len(snap["tracks"]) == 1


@need_lua54
def test_reaper_offline_media(reaper_dir, tmp_path):
    code = reaper_prelude(tmp_path) + f"""
local src = fake.add_track("Picture")
fake.add_item(src, {{path = {lua_str(tmp_path / 'gone.mov')}, position = 3, length = 2}})
fake.run_script({lua_str(reaper_dir / 'Foley Bridge - generate for selected items.lua')})
print("SNAPSHOT " .. dump(fake.snapshot()))
"""
    snap, _ = run_lua(LUA54, code, tmp_path)
    [msg] = snap["messages"]
    assert "offline or missing" in msg["text"] and "gone.mov" in msg["text"] and "3.000 s" in msg["text"]
    assert snap["exec"] == []


@need_lua54
def test_reaper_time_selection_without_one(reaper_dir, tmp_path):
    code = reaper_prelude(tmp_path) + f"""
fake.add_track("Picture")
fake.run_script({lua_str(reaper_dir / 'Foley Bridge - generate for time selection.lua')})
print("SNAPSHOT " .. dump(fake.snapshot()))
"""
    snap, _ = run_lua(LUA54, code, tmp_path)
    assert "Make a time selection" in snap["messages"][0]["text"] and snap["exec"] == []


@need_lua54
def test_reaper_foley_missing_from_config(root, tmp_path, video):
    dest = install("reaper", tmp_path / "scripts", "--foley", str(tmp_path / "uninstalled" / "foley"))
    code = reaper_prelude(tmp_path) + f"""
local src = fake.add_track("Picture")
fake.add_item(src, {{path = {lua_str(video)}, position = 0, length = 2}})
fake.run_script({lua_str(dest / 'Foley Bridge - generate for selected items.lua')})
print("SNAPSHOT " .. dump(fake.snapshot()))
"""
    snap, _ = run_lua(LUA54, code, tmp_path)
    [msg] = snap["messages"]
    assert "was not found" in msg["text"] and "foley install-scripts reaper" in msg["text"]
    assert snap["exec"] == []


@need_lua54
def test_reaper_foley_not_on_path(tmp_path, video):
    """Scripts installed without a config (as ReaPack does) run `foley` from PATH; when it is not there the
    launcher's exit code says so."""
    dest = install("reaper", tmp_path / "scripts")
    (dest / "foley_bridge" / "config.lua").unlink()
    code = reaper_prelude(tmp_path) + f"""
local src = fake.add_track("Picture")
fake.add_item(src, {{path = {lua_str(video)}, position = 0, length = 2}})
fake.run_script({lua_str(dest / 'Foley Bridge - generate for selected items.lua')})
fake.pump(30)
print("SNAPSHOT " .. dump(fake.snapshot()))
"""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    snap, out = run_lua(LUA54, code, tmp_path, env=env)
    [msg] = snap["messages"]
    assert "foley command could not be started" in msg["text"], out
    assert "pip install foley-bridge" in msg["text"] and len(snap["exec"]) == 1


@need_lua54
def test_reaper_cancel_action_without_a_job(reaper_dir, tmp_path):
    code = reaper_prelude(tmp_path) + f"""
fake.run_script({lua_str(reaper_dir / 'Foley Bridge - cancel.lua')})
print("SNAPSHOT " .. dump(fake.snapshot()))
"""
    snap, _ = run_lua(LUA54, code, tmp_path)
    assert snap["messages"][0]["text"] == "No Foley Bridge job is running."


@need_lua54
def test_reaper_cancel_action_writes_the_cancel_file(reaper_dir, tmp_path):
    cancel = tmp_path / "job" / "cancel"
    cancel.parent.mkdir()
    code = reaper_prelude(tmp_path) + f"""
reaper.SetExtState("foley_bridge", "cancel_file", {lua_str(cancel)}, false)
fake.run_script({lua_str(reaper_dir / 'Foley Bridge - cancel.lua')})
print("SNAPSHOT " .. dump(fake.snapshot()))
"""
    snap, _ = run_lua(LUA54, code, tmp_path)
    assert cancel.is_file() and snap["messages"] == [] and "cancel requested" in snap["console"]


@need_lua54
def test_reaper_time_selection_cuts_items(reaper_dir, tmp_path):
    """The time selection keeps the overlapping part of every video item on the selected tracks."""
    vids = [tmp_path / f"v{i}.mp4" for i in range(3)]
    for v in vids:
        v.write_bytes(b"x")
    code = reaper_prelude(tmp_path) + f"""
local host = dofile({lua_str(reaper_dir / 'foley_bridge' / 'reaper_host.lua')})({lua_str(str(reaper_dir / 'foley_bridge') + os.sep)})
local a = fake.add_track("A"); local b = fake.add_track("B"); local c = fake.add_track("C")
a.selected = true; b.selected = true
fake.add_item(a, {{path = {lua_str(vids[0])}, position = 1, length = 4, startoffs = 10, playrate = 2}})
fake.add_item(b, {{path = {lua_str(vids[1])}, position = 4, length = 4}})
fake.add_item(b, {{path = "/x/audio.wav", type = "WAVE", position = 2, length = 4}})
fake.add_item(c, {{path = {lua_str(vids[2])}, position = 2, length = 4}})
fake.time_selection = {{2, 6}}
local items, track = host.collect_time_selection()
print("SNAPSHOT " .. dump({{items = items, track = track.name}}))
"""
    snap, _ = run_lua(LUA54, code, tmp_path)
    assert snap["track"] == "A"
    assert snap["items"] == [
        {"path": str(vids[0]), "source_in_s": 12.0, "source_out_s": 18.0, "record_in_s": 2.0},
        {"path": str(vids[1]), "source_in_s": 0.0, "source_out_s": 2.0, "record_in_s": 4.0},
    ]


@need_lua54
def test_reaper_section_sources_add_their_offset(reaper_dir, tmp_path):
    """A take playing a section of its file: D_STARTOFFS counts from the section start, which
    PCM_Source_GetSectionInfo reports; a reversed section is refused with a message."""
    vid = tmp_path / "v.mp4"
    vid.write_bytes(b"x")
    code = reaper_prelude(tmp_path) + f"""
local host = dofile({lua_str(reaper_dir / 'foley_bridge' / 'reaper_host.lua')})({lua_str(str(reaper_dir / 'foley_bridge') + os.sep)})
local a = fake.add_track("A")
local fwd = fake.add_item(a, {{path = {lua_str(vid)}, position = 1, length = 2, startoffs = 0.5, section = {{offs = 3}}}})
local rev = fake.add_item(a, {{path = {lua_str(vid)}, position = 5, length = 2, section = {{offs = 1, rev = true}}}})
local item = host.request_item(fwd)
local refused, why = host.request_item(rev)
fake.fps = 29.97
local fps = host.build_request({{}}, "/tmp").fps
print("SNAPSHOT " .. dump({{item = item, refused = refused, why = why, fps = fps}}))
"""
    snap, _ = run_lua(LUA54, code, tmp_path)
    assert snap["item"] == {"path": str(vid), "source_in_s": 3.5, "source_out_s": 5.5, "record_in_s": 1.0}
    assert snap["refused"] is False and "plays reversed" in snap["why"] and "5.000 s" in snap["why"]
    assert snap["fps"] == pytest.approx(30000 / 1001, abs=1e-12)  # a rounded 29.97 becomes exact


@need_lua54
def test_reaper_exec_failure_is_reported(reaper_dir, tmp_path, video):
    """ExecProcess returns nil when it cannot start the command at all: say so, leave no job behind."""
    code = reaper_prelude(tmp_path) + f"""
fake.exec_fails = true
local src = fake.add_track("Picture")
fake.add_item(src, {{path = {lua_str(video)}, position = 0, length = 2}})
fake.run_script({lua_str(reaper_dir / 'Foley Bridge - generate for selected items.lua')})
fake.pump(5)
print("SNAPSHOT " .. dump(fake.snapshot()))
"""
    snap, _ = run_lua(LUA54, code, tmp_path)
    [msg] = snap["messages"]
    assert "could not start the foley-bridge launcher" in msg["text"] and len(snap["exec"]) == 1
    assert snap["ext"] == [] and not snap["gfx_open"] and len(snap["tracks"]) == 1


@need_lua54
def test_reaper_place_orders_overlap_tracks(reaper_dir, tmp_path):
    wavs = [write_wav(tmp_path / f"c{i}.wav", 0.3, seed=i) for i in range(4)]
    result = {"ok": True, "output_dir": str(tmp_path), "placements": [
        {"id": 1, "kind": "ambience", "track": "Ambience", "path": str(wavs[0]), "record_in_s": 0.0,
         "duration_s": 0.3, "snap_offset_s": 0.0, "gain_db": -18.0, "pan": 0.0},
        {"id": 2, "kind": "impact", "track": "Foley Impacts 2", "path": str(wavs[1]), "record_in_s": 1.02,
         "duration_s": 0.3, "snap_offset_s": 0.012, "gain_db": -6.5, "pan": -0.4},
        {"id": 3, "kind": "impact", "track": "Foley Impacts", "path": str(wavs[2]), "record_in_s": 1.0,
         "duration_s": 0.3, "snap_offset_s": 0.01, "gain_db": -3.0, "pan": 0.5},
        {"id": 4, "kind": "whoosh", "track": "FX Whooshes", "path": str(wavs[3]), "record_in_s": 2.0,
         "duration_s": 0.3, "snap_offset_s": 0.15, "gain_db": -9.0, "pan": 0.9}]}
    (tmp_path / "bare.json").write_text(json.dumps(result))
    result["tracks"] = [{"name": n, "kind": k} for n, k in zip(CATEGORY_ORDER, ["impact", "footstep", "whoosh",
                                                                                  "ambience"])]
    (tmp_path / "result.json").write_text(json.dumps(result))
    code = reaper_prelude(tmp_path) + f"""
local host = dofile({lua_str(reaper_dir / 'foley_bridge' / 'reaper_host.lua')})({lua_str(str(reaper_dir / 'foley_bridge') + os.sep)})
fake.add_track("Top"); local src = fake.add_track("Picture"); fake.add_track("Bottom")
local result = host.core.read_json("result.json")
assert(host.place(result, src))
local bare = host.core.read_json("bare.json")
local s = fake.snapshot()
s.bare_order = host.core.track_names(bare.placements, bare.tracks)
print("SNAPSHOT " .. dump(s))
"""
    snap, _ = run_lua(LUA54, code, tmp_path)
    assert [t["name"] for t in snap["tracks"]] == ["Top", "Picture", "Foley Impacts", "Foley Impacts 2",
                                                   "FX Whooshes", "Ambience", "Bottom"]
    # without the result's track list: the order in which the placements first name each base track
    assert snap["bare_order"] == ["Ambience", "Foley Impacts", "Foley Impacts 2", "FX Whooshes"]
    whoosh = snap["tracks"][4]["items"][0]
    assert whoosh["position"] == 2.0 and whoosh["snap"] == 0.15 and "whoosh" in whoosh["notes"]
    assert "+0.90" in whoosh["notes"] and whoosh["take_name"] == "c3.wav"
    assert len(snap["undo_blocks"]) == 1 and snap["ops_outside_undo"] == 0


# --- Resolve -----------------------------------------------------------------------------------------------

def resolve_run(resolve_dir: Path, body: str) -> str:
    return resolve_prelude() + body + f"""
local report, err = dofile({lua_str(resolve_dir / 'Foley Bridge - Generate.lua')})
local s = fake.snapshot(); s.report = report; s.err = err
print("SNAPSHOT " .. dump(s))
"""


@need_luajit
def test_resolve_playhead_clip_end_to_end(resolve_live, daemon, video, root):
    work = root / "out"  # FOLEY_OUTPUT_ROOT: the config's work_dir
    before = set(work.glob("resolve-*")) if work.exists() else set()
    code = resolve_run(resolve_live, f"""
local tl = fake.setup({{fps = "25", start_frame = 90000}})
tl.current = fake.add_video({lua_str(video)}, 90000 + 250, 45, 3)
""")
    snap, out = run_lua(LUAJIT, code, root, env=daemon.env)
    assert snap.get("err") is None, out
    [job] = sorted(set(work.glob("resolve-*")) - before)
    request = json.loads((job / "request.json").read_text())
    assert request["host"] == "resolve" and request["fps"] == 25 and request["timeline_start_s"] == 3600
    [item] = request["items"]
    assert item["record_in_s"] == pytest.approx(90250 / 25) and item["source_in_s"] == pytest.approx(3 / 25)
    assert item["source_out_s"] == pytest.approx(48 / 25)
    result = json.loads((job / "result.json").read_text())
    placements = result["placements"]
    assert result["ok"] and placements

    names = [t["name"] for t in snap["audio_tracks"]]
    # the script re-checks lanes on the frames Resolve uses, so a lane can differ from the daemon's
    assert names[0] == "Audio 1" and {lane(n)[0] for n in names[1:]} == {lane(p["track"])[0] for p in placements}
    assert all(t["subtype"] == "stereo" for t in snap["audio_tracks"][1:])
    [bin_name] = snap["bins"]
    assert bin_name.startswith("Foley Bridge ") and snap["current_folder"] == "Master"
    assert sorted(i["path"] for i in snap["imports"]) == sorted(p["path"] for p in placements)
    assert all(i["bin"] == bin_name for i in snap["imports"])
    appended = {a["path"]: a for a in snap["appended"]}
    assert len(appended) == len(placements)
    for p in placements:
        a = appended[p["path"]]
        assert a["mediaType"] == 2 and a["startFrame"] == 0
        assert a["recordFrame"] == round(p["record_in_s"] * 25)
        assert abs(a["recordFrame"] / 25 - p["record_in_s"]) <= 0.5 / 25 + 1e-9
        # source frames count at the WAV's own rate (24 in Resolve) and end inside the file
        assert p["duration_s"] * 24 - 1 < a["endFrame"] <= p["duration_s"] * 24 + 1e-9
        assert names[a["trackIndex"] - 1] == a["track"] and lane(a["track"])[0] == lane(p["track"])[0]
    assert snap["report"]["placed"] == len(placements) and snap["dropped"] == []  # no clip lost to a collision
    assert check_against_events(placements, result) >= 1


@need_luajit
def test_resolve_job_failed(resolve_live, daemon, root):
    broken = root / "broken.mov"
    broken.write_bytes(b"not a movie" * 50)
    code = resolve_run(resolve_live, f"""
local tl = fake.setup({{fps = "25"}})
tl.current = fake.add_video({lua_str(broken)}, 90000, 50, 0)
""")
    snap, out = run_lua(LUAJIT, code, root, env=daemon.env)
    assert snap.get("err", "").startswith("The Foley job failed") and "broken.mov" in snap["err"], out
    assert len(snap["audio_tracks"]) == 1 and snap["bins"] == [] and snap["append_calls"] == 0


@need_luajit
def test_resolve_no_timeline(resolve_dir, tmp_path):
    snap, out = run_lua(LUAJIT, resolve_run(resolve_dir, "fake.setup({no_timeline = true})\n"), tmp_path)
    assert snap["err"].startswith("No timeline is open") and "[Foley Bridge] No timeline" in out


@need_luajit
def test_resolve_nothing_under_playhead(resolve_dir, tmp_path):
    snap, _ = run_lua(LUAJIT, resolve_run(resolve_dir, "fake.setup({})\n"), tmp_path)
    assert "set In and Out marks" in snap["err"]


@need_luajit
def test_resolve_offline_media(resolve_dir, tmp_path):
    code = resolve_run(resolve_dir, f"""
local tl = fake.setup({{}})
tl.current = fake.add_video({lua_str(tmp_path / 'missing.mov')}, 90000, 50, 0)
""")
    snap, _ = run_lua(LUAJIT, code, tmp_path)
    assert "is offline" in snap["err"] and "missing.mov" in snap["err"] and "Relink" in snap["err"]
    assert snap["bins"] == []


@need_luajit
def test_resolve_foley_not_found(tmp_path, video):
    dest = install("resolve", tmp_path / "scripts", "--foley", str(tmp_path / "nope" / "foley"))
    code = resolve_run(dest, f"""
local tl = fake.setup({{}})
tl.current = fake.add_video({lua_str(video)}, 90000, 50, 0)
""")
    snap, _ = run_lua(LUAJIT, code, tmp_path)
    assert "was not found" in snap["err"] and "foley install-scripts resolve" in snap["err"]


@need_luajit
@pytest.mark.parametrize("source_time", [True, False], ids=["GetSourceStartTime", "GetSourceStartFrame"])
def test_resolve_in_out_marks_select_and_cut_items(resolve_dir, tmp_path, source_time):
    """Marks are relative to the timeline start and the Out mark is inclusive; the source start comes from
    GetSourceStartTime (seconds) where Resolve has it, else GetSourceStartFrame at the clip's frame rate."""
    vids = [tmp_path / f"v{i}.mov" for i in range(3)]
    for v in vids:
        v.write_bytes(b"x")
    code = resolve_prelude() + f"""
fake.no_source_time = {'false' if source_time else 'true'}
local host = dofile({lua_str(resolve_dir / 'foley_bridge' / 'resolve_host.lua')})({lua_str(str(resolve_dir / 'foley_bridge') + os.sep)})
local tl = fake.setup({{fps = "23.976", start_frame = 86400}})
fake.add_video({lua_str(vids[0])}, 86400, 100, 10, {{FPS = "23.976"}})
fake.add_video({lua_str(vids[1])}, 86500, 100, 0, {{FPS = "50"}})
fake.add_video({lua_str(vids[2])}, 86700, 100, 0, {{FPS = "23.976"}})
tl.marks = {{video = {{["in"] = 50, out = 149}}}}
local fps = host.parse_fps(tl:GetSetting("timelineFrameRate"))
local items = host.collect(tl, fps)
print("SNAPSHOT " .. dump({{items = items, fps = fps, df = host.parse_fps("29.97 DF"), f24 = host.parse_fps("24")}}))
"""
    snap, _ = run_lua(LUAJIT, code, tmp_path)
    fps = 24000 / 1001
    assert snap["fps"] == pytest.approx(fps, abs=1e-12) and snap["df"] == pytest.approx(30000 / 1001)
    assert snap["f24"] == 24
    a, b = snap["items"]
    assert a["path"] == str(vids[0]) and a["record_in_s"] == pytest.approx(86450 / fps)
    assert a["source_in_s"] == pytest.approx((10 + 50) / fps) and a["source_out_s"] == pytest.approx((10 + 100) / fps)
    assert b["path"] == str(vids[1]) and b["record_in_s"] == pytest.approx(86500 / fps)
    assert b["source_in_s"] == 0 and b["source_out_s"] == pytest.approx(50 / fps)


@need_luajit
def test_resolve_locked_track_is_reported(resolve_dir, tmp_path):
    wav = write_wav(tmp_path / "hit.wav", 0.4)
    result = {"ok": True, "output_dir": str(tmp_path), "placements": [
        {"id": 1, "kind": "impact", "track": "Foley Impacts", "path": str(wav), "record_in_s": 3601.013,
         "duration_s": 0.4, "snap_offset_s": 0.01, "gain_db": -3.0, "pan": 0.2}]}
    (tmp_path / "result.json").write_text(json.dumps(result))
    code = resolve_prelude() + f"""
local host = dofile({lua_str(resolve_dir / 'foley_bridge' / 'resolve_host.lua')})({lua_str(str(resolve_dir / 'foley_bridge') + os.sep)})
local tl = fake.setup({{fps = "25", start_frame = 90000}})
local result = host.core.read_json("result.json")
fake.lock_new_tracks = true
local r1, locked = host.place(fake.project, tl, 25, result, "a")
fake.lock_new_tracks = false
local r2, err2 = host.place(fake.project, tl, 25, result, "b")
local s = fake.snapshot(); s.locked = locked; s.r2 = r2; s.err2 = err2
print("SNAPSHOT " .. dump(s))
"""
    snap, _ = run_lua(LUAJIT, code, tmp_path)
    assert "Foley Impacts are locked" in snap["locked"] and "Unlock" in snap["locked"]
    assert snap.get("err2") is None and snap["r2"]["placed"] == 1
    [a] = snap["appended"]  # the locked attempt left no track behind: the new track is the second
    assert a["recordFrame"] == 90025 and a["endFrame"] == 9 and a["trackIndex"] == 2
    assert snap["bins"] == ["Foley Bridge a", "Foley Bridge b"] and snap["bins_now"] == ["Foley Bridge b"]


@need_luajit
def test_resolve_silent_append_failure_is_reported(resolve_dir, tmp_path):
    """A track locked after it was checked: AppendToTimeline returns an empty list and the script says why."""
    wav = write_wav(tmp_path / "hit.wav", 0.4)
    (tmp_path / "result.json").write_text(json.dumps({"ok": True, "placements": [
        {"id": 1, "kind": "impact", "track": "Foley Impacts", "path": str(wav), "record_in_s": 3601.0,
         "duration_s": 0.4, "snap_offset_s": 0.0, "gain_db": 0.0, "pan": 0.0}]}))
    code = resolve_prelude() + f"""
local host = dofile({lua_str(resolve_dir / 'foley_bridge' / 'resolve_host.lua')})({lua_str(str(resolve_dir / 'foley_bridge') + os.sep)})
local tl = fake.setup({{fps = "25", start_frame = 90000}})
local pool = fake.project:GetMediaPool()
local append = pool.AppendToTimeline
pool.AppendToTimeline = function(self, infos)
  for _, t in ipairs(tl.tracks.audio) do t.locked = true end
  return append(self, infos)
end
local r, err = host.place(fake.project, tl, 25, host.core.read_json("result.json"), "c")
print("SNAPSHOT " .. dump({{err = err}}))
"""
    snap, _ = run_lua(LUAJIT, code, tmp_path)
    assert snap["err"].startswith("Resolve placed only 0 of 1 clips") and "Foley Impacts are locked" in snap["err"]
    assert "nothing was kept" in snap["err"]


@need_luajit
def test_job_folders_never_collide(tmp_path):
    """LuaJIT's random numbers repeat from run to run; two jobs started in the same second still differ."""
    code = f"""
local core = dofile({lua_str(REPO_CORE)})
local dump = dofile({lua_str(LUA_DIR / 'dump.lua')})
local dirs = {{}}
for i = 1, 3 do
  local dir = core.new_job_dir({lua_str(tmp_path)}, "resolve-")
  core.write_file_atomic(core.job_files(dir).request, "{{}}")
  dirs[i] = dir
end
print("SNAPSHOT " .. dump(dirs))
"""
    first, _ = run_lua(LUAJIT, code, tmp_path)
    second, _ = run_lua(LUAJIT, code, tmp_path)
    assert len(set(first + second)) == 6 and all(Path(d).is_dir() for d in first + second)


# --- Resolve with camera timecode ------------------------------------------------------------------------

TC_RATES = {"23.976": 24000 / 1001, "24": 24.0, "25": 25.0, "29.97": 30000 / 1001}


@need_luajit
@pytest.mark.parametrize("origin", ["real", "nominal"])
@pytest.mark.parametrize("rate", list(TC_RATES))
def test_resolve_camera_timecode_gives_file_relative_source(resolve_dir, tmp_path, rate, origin):
    """Camera media starting at 10:00:00:00: GetSourceStartTime answers in the clip's timecode, so the
    request must still count from the file's first frame."""
    vid = tmp_path / "cam.mov"
    vid.write_bytes(b"x")
    fps = TC_RATES[rate]
    code = resolve_prelude() + f"""
fake.nominal_timecode = {'true' if origin == 'nominal' else 'false'}
local host = dofile({lua_str(resolve_dir / 'foley_bridge' / 'resolve_host.lua')})({lua_str(str(resolve_dir / 'foley_bridge') + os.sep)})
local tl = fake.setup({{fps = "{rate}", start_frame = 86400}})
tl.current = fake.add_video({lua_str(vid)}, 86400 + 100, 60, 240, {{FPS = "{rate}", ["Start TC"] = "10:00:00:00"}})
local fps = host.parse_fps(tl:GetSetting("timelineFrameRate"))
local items, err = host.collect(tl, fps)
local t = tl.current:GetSourceStartTime()
print("SNAPSHOT " .. dump({{items = items, err = err, t = t}}))
"""
    snap, out = run_lua(LUAJIT, code, tmp_path)
    assert snap["t"] > 35000, "the fake answers in the clip's timecode"
    [item] = snap["items"]
    assert item["source_in_s"] == pytest.approx(240 / fps, abs=1e-9), out
    assert item["source_out_s"] == pytest.approx(300 / fps, abs=1e-9)
    assert item["record_in_s"] == pytest.approx(86500 / fps, abs=1e-9)


@need_luajit
@pytest.mark.parametrize("rate", list(TC_RATES))
def test_resolve_camera_timecode_end_to_end(resolve_live, daemon, root, rate):
    """The installed script and a real daemon on media with a 10:00:00:00 start timecode at each rate."""
    fps = TC_RATES[rate]
    video = root / "media" / f"cam_{rate}.mp4"
    video.parent.mkdir(exist_ok=True)
    scene(video, [Mover(drop(0.3, 0.1, 0.7), seed=1), Mover(drop(0.7, 0.8, 1.4), color=(60, 200, 90), seed=2)],
          seconds=2.0, fps=fps, width=320, height=180)
    work = root / "out"
    before = set(work.glob("resolve-*")) if work.exists() else set()
    start = 86400
    code = resolve_run(resolve_live, f"""
local tl = fake.setup({{fps = "{rate}", start_frame = {start}}})
tl.current = fake.add_video({lua_str(video)}, {start} + 100, 40, 5, {{FPS = "{rate}", ["Start TC"] = "10:00:00:00"}})
""")
    snap, out = run_lua(LUAJIT, code, root, env=daemon.env)
    assert snap.get("err") is None, out
    [job] = sorted(set(work.glob("resolve-*")) - before)
    [item] = json.loads((job / "request.json").read_text())["items"]
    assert item["source_in_s"] == pytest.approx(5 / fps, abs=1e-9)
    assert item["source_out_s"] == pytest.approx(45 / fps, abs=1e-9)
    result = json.loads((job / "result.json").read_text())
    assert result["ok"] and result["placements"]
    assert snap["report"]["placed"] == len(result["placements"])
    assert check_against_events(result["placements"], result) >= 1


# --- Windows launch --------------------------------------------------------------------------------------

WIN_BASE = "C:\\Users\\Zoë Ørsted\\Films\\Film (v2) R&D 100% done %PATH% @home ^x <a> |b| ünï 日本"


@need_lua54
def test_windows_launch_line_survives_cmd_quoting(tmp_path):
    """The command line that starts launch.cmd and the launcher's own lines, read by a model of cmd.exe's rules
    (tests/lua/cmd_model.py), give back every path exactly, however many & ( ) % ^ and non-ASCII letters it
    holds, and the exit code reaches its file."""
    from lua.cmd_model import CmdError, argv_of, batch_lines, expand_percent, parse_special, program_of, slash_s_c

    env = {"PATH": "C:\\Windows", "USERNAME": "ed", "ERRORLEVEL": "0", "done ": "X"}
    job_dir = WIN_BASE + "\\FoleyBridge\\20261201-101010-0042"
    foley = "C:\\Program Files (x86)\\Py & Co 100%\\Scripts\\foley.exe"
    real_launcher = tmp_path / "launch.cmd"
    code = f"""
local core = dofile({lua_str(REPO_CORE)})
local dump = dofile({lua_str(LUA_DIR / 'dump.lua')})
core.windows = true
local job = core.job_files({lua_str(job_dir)})
local program, params = core.launch_command(job.launcher)
local win_job = {{}}
for k, v in pairs(job) do win_job[k] = v end
win_job.launcher = {lua_str(real_launcher)}
core.write_launcher({lua_str(foley)}, win_job, {{port = 9000}})
print("SNAPSHOT " .. dump({{job = job, program = program, params = params}}))
"""
    snap, _ = run_lua(LUA54, code, tmp_path)
    job = snap["job"]
    assert job["launcher"] == job_dir + "\\launch.cmd"
    line = snap["program"] + " " + snap["params"]
    started = slash_s_c(line, env)
    assert program_of(started) == job["launcher"] and len(started.words) == 1 and not started.redirects

    text = real_launcher.read_bytes().decode("utf-8")
    echo_off, chcp, submit, exit_line, move = batch_lines(text, env)
    assert echo_off.words == ["@echo", "off"]
    assert chcp.words == ["chcp", "65001"] and chcp.redirects == [(1, ">", "NUL")]  # before any path
    assert argv_of(submit.words) == [foley, "submit", job["request"], "--result", job["result"], "--progress",
                                     job["progress"], "--cancel-file", job["cancel"], "--port", "9000"]
    assert submit.redirects == [(1, ">", job["log"]), (2, ">&", "1")]
    assert exit_line.words == ["echo", "0"] and exit_line.redirects == [(1, ">", job["exit"] + ".tmp")]
    assert argv_of(move.words) == ["move", "/Y", job["exit"] + ".tmp", job["exit"]]
    # the model reads the old form the way cmd does: the digit before ">" is a stream number, not text
    old = parse_special(expand_percent('echo %ERRORLEVEL%> "x"', {"ERRORLEVEL": "3"}, batch=True))
    assert old.words == ["echo"] and old.redirects == [(3, ">", "x")]
    # and the plain cmd.exe /C "<path>" line breaks on this path: cmd strips its quotes
    with pytest.raises(CmdError, match="outside quotes"):
        program_of(slash_s_c('cmd.exe /C "' + job["launcher"] + '"', env))
    assert program_of(slash_s_c('cmd.exe /C "C:\\Foley Jobs\\launch.cmd"', env)) == "C:\\Foley Jobs\\launch.cmd"


@need_lua54
def test_posix_launch_line_uses_shell_quoting(tmp_path):
    """On macOS/Linux the launcher starts as /bin/sh '<path>' in POSIX quoting, so any folder name works."""
    folder = tmp_path / "it's \"odd\" $HOME `x` (v2) & R&D ünï"
    folder.mkdir()
    launcher = folder / "launch.sh"
    launcher.write_text('#!/bin/sh\necho ran > "$(dirname "$0")/ran.txt"\n')
    code = f"""
local core = dofile({lua_str(REPO_CORE)})
local dump = dofile({lua_str(LUA_DIR / 'dump.lua')})
local program, params = core.launch_command({lua_str(launcher)})
os.execute(program .. " " .. params)
print("SNAPSHOT " .. dump({{program = program, params = params}}))
"""
    snap, _ = run_lua(LUA54, code, tmp_path)
    assert snap["program"] == "/bin/sh" and (folder / "ran.txt").read_text() == "ran\n"


@need_lua54
def test_reaper_launcher_that_never_starts_times_out(tmp_path, video):
    """A launcher that never runs: the defer loop stops with a message after the start timeout instead of
    polling for ever."""
    dest = install("reaper", tmp_path / "scripts")
    (dest / "foley_bridge" / "config.lua").write_text(
        f'return {{foley = "/bin/true", work_dir = {lua_str(tmp_path)}, start_timeout_s = 1}}\n')
    code = generate_without_launch(tmp_path, video, dest / GENERATE, after="""
local t0 = os.time()
fake.pump(20)
local s = fake.snapshot(); s.waited = os.time() - t0
print("SNAPSHOT " .. dump(s))
""")
    snap, out = run_lua(LUA54, code, tmp_path)
    [msg] = snap["messages"]
    assert "did not start within 1 s" in msg["text"] and "launch.sh" in msg["text"], out
    assert snap["waited"] <= 5 and not snap["gfx_open"] and snap["ext"] == [] and len(snap["tracks"]) == 1


@need_luajit
def test_resolve_wait_gives_up_on_a_launcher_that_never_starts(resolve_dir, tmp_path):
    code = resolve_prelude() + f"""
local host = dofile({lua_str(resolve_dir / 'foley_bridge' / 'resolve_host.lua')})({lua_str(str(resolve_dir / 'foley_bridge') + os.sep)})
local job = host.core.job_files({lua_str(tmp_path)})
local state = host.wait(job, 0.1, 1)
local f = io.open(job.log, "wb"); f:write("Traceback: something hangs\\n"); f:close()
local started = host.wait(job, 0.1, 1)
print("SNAPSHOT " .. dump({{state = state, started = started}}))
"""
    snap, _ = run_lua(LUAJIT, code, tmp_path)
    assert snap["state"]["done"] and snap["state"]["code"] == "not_started"
    assert "launcher did not start within 1 s" in snap["state"]["message"]
    assert "did not report progress" in snap["started"]["message"] and "something hangs" in snap["started"]["message"]


# --- Resolve lanes ----------------------------------------------------------------------------------------

def crowded_result(tmp_path: Path, n: int = 40) -> dict:
    """Impacts that touch or overlap, with lanes assigned to the sample as the daemon did before it knew the
    host's frames."""
    from bridge.timeline import Placement, assign_tracks

    ps, t = [], 3600.0 + 0.013
    for i in range(n):
        dur = round((0.11 + 0.037 * (i % 5)) * 48000) / 48000
        wav = write_wav(tmp_path / f"hit{i:03d}.wav", dur, seed=i)
        ps.append(Placement(event_id=i + 1, kind="impact", track="", path=str(wav),
                            record_in_s=round(t * 48000) / 48000, duration_s=dur, snap_offset_s=0.004,
                            gain_db=-3.0, pan=0.0, metadata={}))
        t += dur - (0.06 if i % 3 == 2 else 0.0)
    assign_tracks(ps, {"impact": "Foley Impacts"})
    placements = [{"id": p.event_id, "kind": p.kind, "track": p.track, "path": p.path,
                   "record_in_s": p.record_in_s, "duration_s": p.duration_s, "snap_offset_s": p.snap_offset_s,
                   "gain_db": p.gain_db, "pan": p.pan} for p in ps]
    return {"ok": True, "output_dir": str(tmp_path), "placements": placements,
            "tracks": [{"name": "Foley Impacts", "kind": "impact"}]}


@need_luajit
@pytest.mark.parametrize("rate", ["23.976", "25", "29.97"])
def test_resolve_overlapping_clips_never_collide(resolve_dir, tmp_path, rate):
    """Lanes follow the frames Resolve will use (record frame rounded, length in the WAV's own 24 fps), so no
    clip is dropped for landing on an occupied span."""
    result = crowded_result(tmp_path)
    (tmp_path / "result.json").write_text(json.dumps(result))
    code = resolve_prelude() + f"""
local host = dofile({lua_str(resolve_dir / 'foley_bridge' / 'resolve_host.lua')})({lua_str(str(resolve_dir / 'foley_bridge') + os.sep)})
local tl = fake.setup({{fps = "{rate}", start_frame = 86400}})
local fps = host.parse_fps("{rate}")
local report, err = host.place(fake.project, tl, fps, host.core.read_json("result.json"), "x")
local s = fake.snapshot(); s.report = report; s.err = err
print("SNAPSHOT " .. dump(s))
"""
    snap, out = run_lua(LUAJIT, code, tmp_path)
    n = len(result["placements"])
    assert snap.get("err") is None, out
    assert snap["dropped"] == [] and snap["report"]["placed"] == n == len(snap["appended"])
    names = [t["name"] for t in snap["audio_tracks"]]
    assert names[1:] == ["Foley Impacts"] + [f"Foley Impacts {i}" for i in range(2, len(names))]
    fps = TC_RATES[rate]
    by_path = {p["path"]: p for p in result["placements"]}
    for a in snap["appended"]:
        p = by_path[a["path"]]
        assert a["recordFrame"] == round(p["record_in_s"] * fps)
        assert a["endFrame"] == int(p["duration_s"] * 24 + 1e-6)  # the WAV's own rate, inside the file


@need_luajit
def test_resolve_failed_placement_is_undone_as_a_whole(resolve_dir, tmp_path):
    """Resolve drops some clips without an error: the placed ones, the new tracks and the bin are taken back."""
    result = crowded_result(tmp_path, n=6)
    (tmp_path / "result.json").write_text(json.dumps(result))
    code = resolve_prelude() + f"""
local host = dofile({lua_str(resolve_dir / 'foley_bridge' / 'resolve_host.lua')})({lua_str(str(resolve_dir / 'foley_bridge') + os.sep)})
local tl = fake.setup({{fps = "25", start_frame = 90000}})
local pool = fake.project:GetMediaPool()
local append = pool.AppendToTimeline
pool.AppendToTimeline = function(self, infos)
  local half = {{}}
  for i = 1, 3 do half[i] = infos[i] end
  local placed = append(self, half)
  return placed
end
local report, err = host.place(fake.project, tl, 25, host.core.read_json("result.json"), "y")
local s = fake.snapshot(); s.err = err
print("SNAPSHOT " .. dump(s))
"""
    snap, _ = run_lua(LUAJIT, code, tmp_path)
    assert snap["err"].startswith("Resolve placed only 3 of 6 clips, so nothing was kept")
    assert [t["name"] for t in snap["audio_tracks"]] == ["Audio 1"]
    assert snap["deleted_clips"] == 3 and snap["bins_now"] == [] and snap["deleted_bins"] == ["Foley Bridge y"]


# --- ReaPack copies, finding foley, track defaults, Resolve versions -----------------------------------------

@need_lua54
def test_reapack_copy_reads_the_install_scripts_config(tmp_path, video):
    """ReaPack installs into Scripts/<index>/<category>/ and writes no config: that copy reads the config that
    `foley install-scripts reaper` wrote in Scripts/Foley Bridge/, so it runs the configured foley."""
    scripts = tmp_path / "Scripts" / "Foley Bridge"
    install("reaper", scripts, "--foley", "/bin/true")
    reapack = scripts / "Foley Bridge"
    (reapack / "foley_bridge").mkdir(parents=True)
    for f in (REPO_CORE.parents[1]).glob("Foley Bridge - *.lua"):
        (reapack / f.name).write_bytes(f.read_bytes())
    for f in ("core.lua", "reaper_host.lua"):
        (reapack / "foley_bridge" / f).write_bytes((REPO_CORE.parent / f).read_bytes())
    code = generate_without_launch(tmp_path, video, reapack / GENERATE)
    snap, out = run_lua(LUA54, code, tmp_path, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    [line] = snap["exec"]
    [job] = job_dirs(tmp_path / "FoleyBridge")
    assert "'/bin/true' submit" in (job / "launch.sh").read_text(), out


@need_lua54
def test_foley_found_without_path(tmp_path, video):
    """No config and no foley on PATH (a REAPER opened from the Finder): the script finds the command where
    pip --user / pipx put it."""
    dest = install("reaper", tmp_path / "scripts")
    (dest / "foley_bridge" / "config.lua").unlink()
    home = tmp_path / "home"
    foley = home / ".local" / "bin" / "foley"
    foley.parent.mkdir(parents=True)
    foley.write_text("#!/bin/sh\nexit 0\n")
    foley.chmod(0o755)
    code = generate_without_launch(tmp_path, video, dest / GENERATE)
    snap, _ = run_lua(LUA54, code, tmp_path, env={"PATH": "/usr/bin:/bin", "HOME": str(home)})
    [job] = job_dirs(tmp_path / "FoleyBridge")
    assert f"'{foley}' submit" in (job / "launch.sh").read_text()


@need_luajit
def test_resolve_before_20_uses_the_playhead_clip(resolve_dir, tmp_path):
    """GetMarkInOut exists from Resolve 20: older versions use the clip under the playhead, and say why when
    there is none."""
    vid = tmp_path / "v.mov"
    vid.write_bytes(b"x")
    code = resolve_prelude() + f"""
fake.version = {{19, 1, 3, 7, ""}}
local host = dofile({lua_str(resolve_dir / 'foley_bridge' / 'resolve_host.lua')})({lua_str(str(resolve_dir / 'foley_bridge') + os.sep)})
local tl = fake.setup({{fps = "25", start_frame = 90000}})
tl.marks = {{video = {{["in"] = 0, out = 10}}}}
local major = host.version_major(resolve)
local none, why = host.collect(tl, 25, major)
tl.current = fake.add_video({lua_str(vid)}, 90000, 50, 0)
local items = host.collect(tl, 25, major)
print("SNAPSHOT " .. dump({{major = major, why = why, items = items}}))
"""
    snap, _ = run_lua(LUAJIT, code, tmp_path)
    assert snap["major"] == 19 and "need DaVinci Resolve 20 or later" in snap["why"] and "Resolve 19" in snap["why"]
    assert len(snap["items"]) == 1 and snap["items"][0]["path"] == str(vid)


# --- Re-running replaces the previous pass ---------------------------------------------------------------------

@need_lua54
def test_reaper_rerun_replaces_the_previous_pass(reaper_live, daemon, video, root):
    """Run on a selection, run again (Yes: replace), run a third time (No: keep both): the second pass takes
    the first one's place in one undo step; the third stacks beside it."""
    project = root / "reaper_rerun"
    project.mkdir()
    script = reaper_live / 'Foley Bridge - generate for selected items.lua'
    code = reaper_prelude(project) + f"""
local src = fake.add_track("Picture")
fake.add_item(src, {{path = {lua_str(video)}, position = 4, length = 2}})
fake.add_track("Dialogue")
local snaps = {{}}
fake.answers = {{}}
fake.run_script({lua_str(script)}); fake.pump(240); snaps[1] = fake.snapshot()
snaps[1].questions = #fake.messages; snaps[1].undo = #fake.undo_blocks
snaps[1].last_undo = fake.undo_blocks[#fake.undo_blocks].desc
fake.answers = {{6}}
fake.run_script({lua_str(script)}); fake.pump(240); snaps[2] = fake.snapshot()
snaps[2].questions = #fake.messages; snaps[2].undo = #fake.undo_blocks
snaps[2].last_undo = fake.undo_blocks[#fake.undo_blocks].desc
fake.answers = {{7}}
fake.run_script({lua_str(script)}); fake.pump(240); snaps[3] = fake.snapshot()
snaps[3].questions = #fake.messages; snaps[3].undo = #fake.undo_blocks
snaps[3].last_undo = fake.undo_blocks[#fake.undo_blocks].desc
print("SNAPSHOT " .. dump(snaps))
"""
    snaps, out = run_lua(LUA54, code, project, env=reaper_env(daemon))
    jobs = job_dirs(project / "FoleyBridge")
    assert len(jobs) == 3, out
    results = [json.loads((j / "result.json").read_text()) for j in jobs]
    order = [[t["name"] for t in s["tracks"]] for s in snaps]
    first = expected_track_order(results[0])
    assert order[0] == ["Picture", *first, "Dialogue"]
    assert snaps[0]["questions"] == 0 and snaps[1]["questions"] == 1  # asked: replace, keep both or cancel
    assert all(m["kind"] == 3 for m in snaps[2]["messages"])
    second = expected_track_order(results[1])
    assert order[1] == ["Picture", *second, "Dialogue"]  # the first pass is gone, not stacked
    files = {i["file"] for t in snaps[1]["tracks"] if t.get("tag") for i in t["items"]}
    assert files == {p["path"] for p in results[1]["placements"]}
    assert "replacing" in snaps[1]["last_undo"] and snaps[1]["undo"] == 2  # one undo step per run
    third = expected_track_order(results[2])
    assert order[2] == ["Picture", *third, *second, "Dialogue"]  # kept both
    assert all(t.get("tag") for t in snaps[2]["tracks"] if t["name"] not in ("Picture", "Dialogue"))


@need_lua54
def test_reaper_rerun_leaves_passes_elsewhere(reaper_dir, tmp_path):
    """Only the tagged items over the selection go; a pass elsewhere on the same tracks, and untagged
    tracks, stay; cancel adds nothing."""
    wav = write_wav(tmp_path / "a.wav", 0.3)
    result = {"ok": True, "job": "j2", "output_dir": str(tmp_path), "placements": [
        {"id": 1, "kind": "impact", "track": "Foley Impacts", "path": str(wav), "record_in_s": 1.0,
         "duration_s": 0.3, "snap_offset_s": 0.01, "gain_db": 0.0, "pan": 0.0}]}
    (tmp_path / "result.json").write_text(json.dumps(result))
    code = reaper_prelude(tmp_path) + f"""
local host = dofile({lua_str(reaper_dir / 'foley_bridge' / 'reaper_host.lua')})({lua_str(str(reaper_dir / 'foley_bridge') + os.sep)})
local src = fake.add_track("Picture")
local old = fake.add_track("Foley Impacts")
reaper.GetSetMediaTrackInfo_String(old, "P_EXT:foley_bridge", "j1", true)
for _, t in ipairs({{0.5, 1.2, 30.0}}) do
  local it = fake.add_item(old, {{path = {lua_str(wav)}, position = t, length = 0.3, type = "WAVE"}})
  reaper.GetSetMediaItemInfo_String(it, "P_EXT:foley_bridge", "j1", true)
end
fake.add_item(old, {{path = {lua_str(wav)}, position = 1.5, length = 0.3, type = "WAVE"}})  -- the user's own
local result = host.core.read_json("result.json")
fake.answers = {{2}}
local none, why = host.place(result, src, {{0, 10}})
local cancelled = fake.snapshot()
fake.answers = {{6}}
assert(host.place(result, src, {{0, 10}}))
local s = fake.snapshot(); s.why = why; s.cancelled = cancelled
print("SNAPSHOT " .. dump(s))
"""
    snap, _ = run_lua(LUA54, code, tmp_path)
    assert "Nothing was added" in snap["why"] and len(snap["cancelled"]["tracks"]) == 2
    names = [t["name"] for t in snap["tracks"]]
    assert names == ["Picture", "Foley Impacts", "Foley Impacts"]
    kept = sorted(i["position"] for i in snap["tracks"][2]["items"])
    assert kept == [1.5, 30.0]  # the user's own item and the pass outside the selection stay
    assert [i["position"] for i in snap["tracks"][1]["items"]] == [1.0]


@need_luajit
@pytest.mark.parametrize("keep", [False, True], ids=["replace", "keep-both"])
def test_resolve_rerun_replaces_the_previous_pass(resolve_live, daemon, video, root, keep):
    """Run the menu script twice on the same clip: the second pass replaces the first (its clips and its
    emptied tracks), or, with keep_previous in the config, stands beside it."""
    dest = install("resolve", root / f"resolve_rerun_{keep}", "--port", str(daemon.port), env=daemon.env)
    if keep:
        config = dest / "foley_bridge" / "config.lua"
        config.write_text(config.read_text().replace("return {", "return {\n  keep_previous = true,"))
    code = resolve_prelude() + f"""
local tl = fake.setup({{fps = "25", start_frame = 90000}})
tl.current = fake.add_video({lua_str(video)}, 90000 + 250, 45, 3)
local r1, e1 = dofile({lua_str(dest / 'Foley Bridge - Generate.lua')})
local first = fake.snapshot()
local n1 = #first.audio_tracks
local r2, e2 = dofile({lua_str(dest / 'Foley Bridge - Generate.lua')})
local s = fake.snapshot(); s.r1 = r1; s.r2 = r2; s.e1 = e1; s.e2 = e2; s.n1 = n1
print("SNAPSHOT " .. dump(s))
"""
    snap, out = run_lua(LUAJIT, code, root, env=daemon.env)
    assert snap.get("e1") is None and snap.get("e2") is None, out
    first_tracks = snap["r1"]["tracks"]
    names = [t["name"] for t in snap["audio_tracks"]]
    if keep:
        assert names == ["Audio 1", *first_tracks, *snap["r2"]["tracks"]] and snap["r2"].get("replaced") is None
    else:
        assert names == ["Audio 1", *snap["r2"]["tracks"]] and snap["r2"]["replaced"] == snap["r1"]["placed"]
        assert sum(t["items"] for t in snap["audio_tracks"]) == snap["r2"]["placed"]


# --- The Resolve window and the prompt box -------------------------------------------------------------------

PROMPT = "glass bottles knocked over on a wooden table"


@need_luajit
def test_resolve_window_prompt_progress_and_placement(resolve_live, daemon, video, root):
    """Through Resolve's UI Manager: type a prompt, press Generate, watch the progress, get the clips; the
    prompt reaches the request's options."""
    work = root / "out"
    before = set(work.glob("resolve-*")) if work.exists() else set()
    code = resolve_run(resolve_live, f"""
fake.enable_ui({{{{at = 1, id = "Prompt", text = {lua_str(PROMPT)}}}, {{at = 2, id = "Go", event = "Clicked"}}}})
local tl = fake.setup({{fps = "25", start_frame = 90000}})
tl.current = fake.add_video({lua_str(video)}, 90000 + 250, 45, 3)
""").replace('print("SNAPSHOT " .. dump(s))', 's.ui = {fired = fake.ui.fired, statuses = fake.ui.statuses, shown = fake.ui.shown}\nprint("SNAPSHOT " .. dump(s))')
    snap, out = run_lua(LUAJIT, code, root, env=daemon.env)
    assert snap.get("err") is None, out
    [job] = sorted(set(work.glob("resolve-*")) - before)
    request = json.loads((job / "request.json").read_text())
    assert request["options"]["prompt"] == PROMPT
    assert snap["ui"]["fired"] == ["Go.Clicked"] and snap["ui"]["shown"] == 1
    assert any("%" in (s or "") for s in snap["ui"]["statuses"])  # progress lines shown in the window
    assert snap["report"]["placed"] == len(json.loads((job / "result.json").read_text())["placements"])


@need_luajit
def test_resolve_cancel_from_the_window(resolve_live, daemon, video, root):
    """Cancel in the window stops the job: nothing is imported or placed."""
    code = resolve_run(resolve_live, f"""
fake.enable_ui({{{{at = 1, id = "Go", event = "Clicked"}}, {{at = 2, id = "Cancel", event = "Clicked"}}}})
local tl = fake.setup({{fps = "25", start_frame = 90000}})
tl.current = fake.add_video({lua_str(video)}, 90000 + 250, 45, 3)
""")
    snap, out = run_lua(LUAJIT, code, root, env=daemon.env)
    assert snap["err"] == "Cancelled; nothing was added.", out
    assert snap["bins"] == [] and snap["append_calls"] == 0 and len(snap["audio_tracks"]) == 1


@need_luajit
def test_resolve_window_closed_before_starting(resolve_dir, video, tmp_path):
    code = resolve_run(resolve_dir, f"""
fake.enable_ui({{{{at = 1, id = "FoleyBridge", event = "Close"}}}})
local tl = fake.setup({{fps = "25", start_frame = 90000}})
tl.current = fake.add_video({lua_str(video)}, 90000 + 250, 45, 3)
""")
    snap, _ = run_lua(LUAJIT, code, tmp_path)
    assert snap["err"] == "Closed before starting; nothing was added." and snap["bins"] == []
    assert not list(tmp_path.glob("**/request.json"))


@need_lua54
@pytest.mark.parametrize("typed", [PROMPT, "", False], ids=["prompt", "blank", "cancel"])
def test_reaper_prompt_box(reaper_dir, tmp_path, video, typed):
    """The optional one-line prompt goes into the request's options.prompt; blank leaves it out; Cancel starts
    nothing."""
    code = generate_without_launch(
        tmp_path, video, reaper_dir / GENERATE,
        setup=f"fake.user_input = {('false' if typed is False else lua_str(typed))}",
        after='local s = fake.snapshot(); s.asked = fake.inputs_asked\nprint("SNAPSHOT " .. dump(s))')
    snap, _ = run_lua(LUA54, code, tmp_path)
    assert snap["asked"] == 1
    jobs = job_dirs(tmp_path / "FoleyBridge") if (tmp_path / "FoleyBridge").exists() else []
    if typed is False:
        assert jobs == [] and snap["exec"] == [] and "nothing was started" in snap["console"]
        return
    [job] = jobs
    options = json.loads((job / "request.json").read_text())["options"]
    assert options.get("prompt") == (typed or None)
