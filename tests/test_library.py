"""The sound-library index: UCS names, indexing real and generated files, incremental and
resumable re-indexing, odd files, search ranking, the watcher and the ``foley library`` CLI."""
from __future__ import annotations

import json
import os
import shutil
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import models.library.rows  # noqa: F401 - its MAX_ANALYSE_S is patched below
from bridge.errors import Cancelled, InputError
from models import library, ucs
from models.library import LibraryIndex, default_db_path, find_transient

SFX = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "sfx"
SR = 44100


def burst(sr: int = SR, seconds: float = 1.0, at_s: float = 0.3, tone_hz: float = 0.0, level: float = 0.8,
          decay_s: float = 0.05, seed: int = 0, noise_floor: float = 0.0) -> np.ndarray:
    """Silence (or a low noise floor), then a decaying noise burst (or tone) starting at ``at_s``."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    x = noise_floor * rng.standard_normal(n)
    start = int(round(at_s * sr))
    t = np.arange(n - start) / sr
    body = np.sin(2 * np.pi * tone_hz * t) if tone_hz else rng.uniform(-1, 1, n - start)
    body[0] = 1.0
    x[start:] += level * body * np.exp(-t / decay_s)
    return x.astype(np.float32)


def write(path: Path, audio: np.ndarray, sr: int = SR, subtype: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".ogg": ("OGG", "VORBIS"), ".mp3": ("MP3", "MPEG_LAYER_III"), ".aif": ("AIFF", "PCM_16")}
    container, default_subtype = fmt.get(path.suffix, (None, "PCM_16"))
    sf.write(str(path), audio, sr, format=container, subtype=subtype or default_subtype)
    return path


def make_ucs_library(root: Path) -> dict[str, Path]:
    """A small library of UCS-named files (plus one keyword-named file)."""
    files = {
        "gravel_walk": ("FEETHmn_Gravel walk_ABC_Lib.wav", burst(at_s=0.2, tone_hz=0, seed=1)),
        "concrete_step": ("FEETHmn_Concrete step_ABC_Lib.wav", burst(at_s=0.1, seed=2, level=0.5)),
        "pipe_hit": ("METLImpt_Pipe hit_ABC_Lib.wav", burst(at_s=0.05, tone_hz=2500, seed=3)),
        "plank_drop": ("WOODImpt_Plank drop_ABC_Lib.flac", burst(at_s=0.15, tone_hz=300, seed=4)),
        "door_slam": ("DOORWood_Slam_ABC_Lib.aif", burst(at_s=0.25, tone_hz=120, seed=5)),
        "whoosh": ("WHSHBy_Fast pass_ABC_Lib.mp3", burst(at_s=0.4, seed=6, decay_s=0.2)),
        "room_tone": ("AMBRoom_Office tone_ABC_Lib.wav",
                      (0.05 * np.random.default_rng(7).standard_normal(SR * 2)).astype(np.float32)),
        "gravel_impact": ("gravel_impact_heavy.ogg", burst(at_s=0.2, seed=8)),
    }
    out = {}
    for key, (name, audio) in files.items():
        out[key] = write(root / ("sub" if key == "plank_drop" else "") / name, audio)
    return out


@pytest.fixture()
def lib(tmp_path: Path) -> tuple[LibraryIndex, Path, dict[str, Path]]:
    root = tmp_path / "sfx"
    files = make_ucs_library(root)
    index = LibraryIndex(tmp_path / "db" / "library.sqlite")
    yield index, root, files
    index.close()


# --------------------------------------------------------------------------- UCS names

def cat(name: str) -> tuple[str, str]:
    n = ucs.parse_name(name)
    return n.category, n.subcategory


def test_ucs_names_parse_into_category_and_fields() -> None:
    n = ucs.parse_name("/a/FEETHmn_Gravel walk_ABC_Lib.wav")
    assert (n.is_ucs, n.cat_id, n.category, n.subcategory) == (True, "FEETHmn", "FOOTSTEPS", "HUMAN")
    assert (n.fx_name, n.creator_id, n.source_id) == ("Gravel walk", "ABC", "Lib")
    assert cat("METLImpt_Pipe hit_X_Y.wav") == ("METAL", "IMPACT")
    assert cat("DOORWood_Slam_X_Y.aif") == ("DOORS", "WOOD")
    assert cat("AMBRoom_Office_X_Y.wav") == ("AMBIENCE", "ROOM TONE")
    assert cat("WHOOSH_Fast_X_Y.wav")[0] == "SWOOSHES"
    user = ucs.parse_name("FOLYFeet-Gravel_Step_X_Y.flac")
    assert (user.category, user.subcategory, user.user_category) == ("FOLEY", "FEET", "Gravel")
    # A capitalised word that is not a CatID is not taken for one.
    assert not ucs.parse_name("Hello_World.wav").is_ucs


def test_keyword_categories_for_plain_names() -> None:
    assert cat("minetest_default_hard_footstep.1.ogg")[0] == "FOOTSTEPS"
    metal_step = ucs.parse_name("minetest_default_metal_footstep.2.ogg")
    assert (metal_step.category, metal_step.subcategory) == ("FOOTSTEPS", "METAL")
    assert cat("netfox_whoosh.wav")[0] == "SWOOSHES"
    assert cat("minetest_default_dug_metal.1.ogg") == ("METAL", "IMPACT")
    assert cat("minetest_doors_door_close.ogg")[0] == "DOORS"
    assert cat("kitchen room tone.wav") == ("AMBIENCE", "ROOM TONE")
    assert cat("untitled take 3.wav")[0] == ""


def test_kind_fits_map_categories_to_event_kinds() -> None:
    assert ucs.kind_fit("FOOTSTEPS", "HUMAN", "footstep") == 1.0
    assert ucs.kind_fit("FOLEY", "FEET", "footstep") == 1.0
    assert ucs.kind_fit("METAL", "IMPACT", "impact") == 1.0
    assert ucs.kind_fit("SWOOSHES", "WHOOSH", "whoosh") == 1.0
    assert ucs.kind_fit("AMBIENCE", "ROOM TONE", "ambience") == 1.0
    assert ucs.kind_fit("FOOTSTEPS", "HUMAN", "impact") < ucs.FIT_MIN
    assert ucs.kind_fit("METAL", "IMPACT", "ambience") == 0.0


# --------------------------------------------------------------------------- analysis

def test_find_transient_is_sample_accurate_after_silence_and_noise() -> None:
    for at, floor in ((0.3, 0.0), (0.5123, 0.003), (0.0, 0.0)):
        x = burst(at_s=at, noise_floor=floor, seconds=1.0)
        assert abs(find_transient(x, SR) - round(at * SR)) <= 1


def test_find_transient_takes_the_strong_hit_not_an_early_tick() -> None:
    x = burst(at_s=0.6, seconds=1.0, level=0.8)
    x[int(0.1 * SR)] += 0.02  # a faint tick long before the hit
    assert abs(find_transient(x, SR) - round(0.6 * SR)) <= 1


def test_default_index_location_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FOLEY_BRIDGE_DATA", str(tmp_path / "data"))
    assert default_db_path() == tmp_path / "data" / "library.sqlite"
    monkeypatch.delenv("FOLEY_BRIDGE_DATA")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    if os.name == "posix" and os.uname().sysname == "Linux":
        assert default_db_path() == tmp_path / "xdg" / "foley-bridge" / "library.sqlite"


# --------------------------------------------------------------------------- indexing

def test_index_generated_ucs_library(lib) -> None:
    index, root, files = lib
    report = index.add([root])
    assert report.scanned == len(files) and report.added == len(files) and not report.skipped
    row = index.get(str(files["gravel_walk"]))
    assert ((row["status"], row["category"], row["subcategory"], row["cat_id"])
            == ("ok", "FOOTSTEPS", "HUMAN", "FEETHmn"))
    assert row["fx_name"] == "Gravel walk" and row["sample_rate"] == SR and row["channels"] == 1
    assert abs(row["transient_s"] - 0.2) < 0.0005
    assert row["fits"]["footstep"] == 1.0
    pipe, plank = index.get(str(files["pipe_hit"])), index.get(str(files["plank_drop"]))
    assert pipe["centroid_hz"] > plank["centroid_hz"] and pipe["brightness"] > plank["brightness"]
    assert index.get(str(files["gravel_impact"]))["category"] == "DIRT & SAND"
    door, whoosh = index.get(str(files["door_slam"])), index.get(str(files["whoosh"]))
    assert (door["format"], door["category"], abs(door["transient_s"] - 0.25) < 0.0005) == ("AIFF", "DOORS", True)
    assert (whoosh["format"], whoosh["category"], whoosh["status"]) == ("MP3", "SWOOSHES", "ok")
    roots = index.list_roots()
    assert [r["path"] for r in roots] == [os.path.realpath(root)] and roots[0]["files"] == len(files)
    stats = index.stats()
    assert stats["files"] == len(files) and stats["by_kind"]["footstep"] == 2
    assert stats["by_kind"]["ambience"] == 1 and stats["by_kind"]["whoosh"] == 1


def test_reindex_reads_only_what_changed(lib) -> None:
    index, root, files = lib
    index.add([root])
    assert index.add([root]).analysed == []
    new = write(root / "FEETHmn_Snow crunch_ABC_Lib.wav", burst(seed=11))
    changed = files["pipe_hit"]
    write(changed, burst(at_s=0.4, tone_hz=2500, seed=12))
    st = os.stat(changed)
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    os.remove(files["door_slam"])
    report = index.add([root])
    assert sorted(report.analysed) == sorted([str(new), str(changed)])
    assert (report.added, report.updated, report.removed) == (1, 1, 1)
    assert abs(index.get(str(changed))["transient_s"] - 0.4) < 0.0005
    assert index.get(str(files["door_slam"])) is None
    assert all("Slam" not in h.path for h in index.search("slam door wood"))


def test_interrupted_indexing_resumes(lib, monkeypatch: pytest.MonkeyPatch) -> None:
    index, root, files = lib
    cancel = threading.Event()

    def progress(done: int, total: int, path: str) -> None:
        if done >= 3:
            cancel.set()

    with pytest.raises(Cancelled):
        index.add([root], progress=progress, cancel=cancel)
    again = index.add([root])
    assert len(again.analysed) == len(files) - 3 and again.unchanged == 3


def test_odd_files_are_indexed_or_skipped_with_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "odd"
    root.mkdir()
    (root / "empty.wav").write_bytes(b"")
    (root / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + os.urandom(200))
    (root / "noise.mp3").write_bytes(os.urandom(500))
    write(root / "eight_bit_hit.wav", burst(), subtype="PCM_U8")
    write(root / "hires_hit.wav", burst(sr=96000), sr=96000, subtype="PCM_24")
    write(root / "surround_hit.wav", np.tile(burst()[:, None], (1, 6)) * 0.5)
    write(root / "silent.wav", np.zeros(SR, dtype=np.float32))
    write(root / "long_ambience.flac", (0.1 * np.random.default_rng(0).standard_normal(SR * 3)).astype(np.float32))
    (root / "notes.txt").write_text("not audio")
    (root / "._FEETHmn_x_y_z.wav").write_bytes(b"\0" * 100)  # AppleDouble companion
    monkeypatch.setattr(library.rows, "MAX_ANALYSE_S", 1.0)
    index = LibraryIndex(tmp_path / "lib.sqlite")
    report = index.add([root])
    assert report.scanned == 8
    reasons = {Path(p).name: r for p, r in report.skipped.items()}
    assert reasons["empty.wav"] == "empty file (0 bytes)"
    assert reasons["corrupt.wav"].startswith("unreadable")
    assert reasons["noise.mp3"].startswith("unreadable")
    assert reasons["silent.wav"].startswith("silent")
    ok = {Path(r["path"]).name: r for r in (index.get(str(root / n)) for n in
          ("eight_bit_hit.wav", "hires_hit.wav", "surround_hit.wav", "long_ambience.flac"))}
    assert all(r["status"] == "ok" for r in ok.values())
    assert "8-bit" in ok["eight_bit_hit.wav"]["notes"]
    assert ok["hires_hit.wav"]["sample_rate"] == 96000 and abs(ok["hires_hit.wav"]["transient_s"] - 0.3) < 0.0005
    assert ok["surround_hit.wav"]["channels"] == 6 and "6 channels" in ok["surround_hit.wav"]["notes"]
    assert "first 1 s" in ok["long_ambience.flac"]["notes"]
    assert abs(ok["long_ambience.flac"]["duration_s"] - 3.0) < 0.01
    listed = {Path(s["path"]).name: s["reason"] for s in index.skipped()}
    assert set(listed) == {"empty.wav", "corrupt.wav", "noise.mp3", "silent.wav"}
    assert index.stats()["skipped"] == 4
    index.close()


def test_bext_and_ixml_descriptions_are_read(tmp_path: Path) -> None:
    from bridge.bwf import write_bwf

    root = tmp_path / "bwf"
    root.mkdir()
    audio = burst()[None, :]
    write_bwf(root / "take_017.wav", audio, SR, 0, "Heavy wooden door slam in a hallway")
    # iXML with UCS fields, appended as a RIFF chunk to a plain WAV.
    plain = write(root / "take_018.wav", burst(seed=3))
    ixml = (b"<?xml version='1.0'?><BWFXML><USER><CATID>GLASBrk</CATID><FXNAME>Bottle smash</FXNAME>"
            b"<DESCRIPTION>Beer bottle smashed on concrete</DESCRIPTION></USER></BWFXML>")
    chunk = b"iXML" + struct.pack("<I", len(ixml)) + ixml + (b"\0" if len(ixml) % 2 else b"")
    data = bytearray(plain.read_bytes() + chunk)
    data[4:8] = struct.pack("<I", len(data) - 8)
    plain.write_bytes(bytes(data))
    index = LibraryIndex(tmp_path / "lib.sqlite")
    index.add([root])
    door = index.get(str(root / "take_017.wav"))
    assert door["description"] == "Heavy wooden door slam in a hallway" and door["category"] == "DOORS"
    glass = index.get(str(root / "take_018.wav"))
    assert (glass["category"], glass["subcategory"], glass["fx_name"]) == ("GLASS", "BREAK", "Bottle smash")
    assert [h.path for h in index.search("bottle concrete")] == [str(glass["path"])]
    index.close()


def test_search_ranks_files_matching_more_words_first(lib) -> None:
    index, root, files = lib
    index.add([root])
    hits = index.search("gravel footsteps")
    assert hits[0].path == str(files["gravel_walk"])
    assert hits[0].score == max(h.score for h in hits) and hits[0].score > hits[-1].score
    assert {h.path for h in hits[1:]} == {str(files["concrete_step"]), str(files["gravel_impact"])}
    impacts = index.search("gravel", kinds=["impact"])
    assert [h.path for h in impacts] == [str(files["gravel_impact"])]
    assert index.search("room tone")[0].path == str(files["room_tone"])
    assert index.search("xylophone") == []
    with pytest.raises(InputError):
        index.search("  !! ")
    with pytest.raises(InputError):
        index.search("gravel", kinds=["explosion"])


def test_remove_forgets_a_folder(lib) -> None:
    index, root, files = lib
    index.add([root])
    assert index.remove(root / "sub") == 1
    assert index.get(str(files["plank_drop"])) is None
    assert index.remove(root) == len(files) - 1
    assert index.list_roots() == [] and index.stats()["files"] == 0
    with pytest.raises(InputError, match="not in the library"):
        index.remove(root)
    with pytest.raises(InputError, match="does not exist"):
        index.add([root / "missing"])


def test_watcher_follows_new_renamed_and_deleted_files(lib) -> None:
    index, root, files = lib
    index.add([root])
    stop = library.start_watcher(index, [str(root)])

    def wait_for(check) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(0.05)
        return False

    try:
        new = write(root / "FEETHmn_Leaves walk_ABC_Lib.wav", burst(seed=21))
        assert wait_for(lambda: (index.get(str(new)) or {}).get("status") == "ok")
        assert index.get(str(new))["category"] == "FOOTSTEPS"
        renamed = root / "METLImpt_Leaves hit_ABC_Lib.wav"
        os.replace(new, renamed)
        assert wait_for(lambda: index.get(str(renamed)) is not None and index.get(str(new)) is None)
        assert index.get(str(renamed))["category"] == "METAL"
        os.remove(files["whoosh"])
        assert wait_for(lambda: index.get(str(files["whoosh"])) is None)
        shutil.rmtree(root / "sub")
        assert wait_for(lambda: index.get(str(files["plank_drop"])) is None)
    finally:
        stop()


# --------------------------------------------------------------------------- real sound effects

@pytest.mark.skipif(not SFX.is_dir(), reason="shared sound effects not present")
def test_index_and_search_the_real_sound_effects(tmp_path: Path) -> None:
    index = LibraryIndex(tmp_path / "lib.sqlite")
    report = index.add([SFX])
    names = sorted(p.name for p in SFX.iterdir() if p.suffix.lower() in library.AUDIO_EXTENSIONS)
    assert report.scanned == len(names) and not report.skipped
    stats = index.stats()
    assert stats["by_kind"]["footstep"] >= 10 and stats["by_kind"]["whoosh"] >= 1 and stats["by_kind"]["impact"] >= 10
    metal = index.search("metal footsteps", limit=5)
    assert all("metal_footstep" in Path(h.path).name for h in metal[:3])
    whoosh = index.get(str(SFX / "netfox_whoosh.wav"))
    assert whoosh["category"] == "SWOOSHES" and whoosh["channels"] == 2 and whoosh["duration_s"] > 0.3
    step = index.get(str(SFX / "minetest_default_hard_footstep.1.ogg"))
    assert step["format"] == "OGG" and 0.0 <= step["transient_s"] < step["duration_s"]
    assert index.add([SFX]).analysed == []
    index.close()


# --------------------------------------------------------------------------- CLI

def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    import bridge.cli

    monkeypatch.setattr(bridge.cli, "COMMANDS", ["library"])
    capsys.readouterr()
    rc = bridge.cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_library_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "sfx"
    files = make_ucs_library(root)
    db = str(tmp_path / "cli.sqlite")
    rc, out, _ = run_cli(monkeypatch, capsys, "library", "add", str(root), "--db", db, "--json")
    assert rc == 0 and json.loads(out)["added"] == len(files)
    rc, out, _ = run_cli(monkeypatch, capsys, "library", "add", str(root), "--db", db)
    assert rc == 0 and f"{len(files)} unchanged" in out
    rc, out, _ = run_cli(monkeypatch, capsys, "library", "search", "gravel footsteps", "--db", db, "--json")
    hits = json.loads(out)
    assert rc == 0 and hits[0]["path"] == str(files["gravel_walk"]) and hits[0]["category"] == "FOOTSTEPS"
    rc, out, _ = run_cli(monkeypatch, capsys, "library", "search", "pipe", "--kind", "impact", "--db", db)
    assert rc == 0 and "METAL/IMPACT" in out and "Pipe hit" in out
    rc, out, _ = run_cli(monkeypatch, capsys, "library", "list", "--db", db, "--json")
    assert rc == 0 and json.loads(out)["roots"][0]["files"] == len(files)
    rc, out, _ = run_cli(monkeypatch, capsys, "library", "stats", "--db", db, "--json")
    assert rc == 0 and json.loads(out)["by_kind"]["footstep"] == 2
    rc, out, _ = run_cli(monkeypatch, capsys, "library", "stats", "--db", db)
    assert rc == 0 and "footstep 2" in out
    rc, out, err = run_cli(monkeypatch, capsys, "library", "remove", str(tmp_path / "elsewhere"), "--db", db)
    assert rc == 2 and "not in the library" in err
    rc, out, _ = run_cli(monkeypatch, capsys, "library", "remove", str(root), "--db", db, "--json")
    assert rc == 0 and json.loads(out)["files"] == len(files)
    rc, out, err = run_cli(monkeypatch, capsys, "library", "add", str(tmp_path / "nope"), "--db", db)
    assert rc == 2 and "does not exist" in err


def test_cli_uses_the_data_folder_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "sfx"
    make_ucs_library(root)
    monkeypatch.setenv("FOLEY_BRIDGE_DATA", str(tmp_path / "data"))
    rc, _, _ = run_cli(monkeypatch, capsys, "library", "add", str(root))
    assert rc == 0 and (tmp_path / "data" / "library.sqlite").is_file()
    rc, out, _ = run_cli(monkeypatch, capsys, "library", "list")
    assert rc == 0 and str(os.path.realpath(root)) in out
    from models import kit

    assert f"{kit.KIT_DIR}  283 files (built-in kit" in out
    rc, out, _ = run_cli(monkeypatch, capsys, "library", "list", "--json")
    assert rc == 0 and json.loads(out)["built_in"][0]["files"] == 283


def test_registering_the_command_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = ("import argparse, sys; import bridge.commands.library as m; "
            "m.register(argparse.ArgumentParser().add_subparsers()); "
            "print('torch' in sys.modules, 'models.library' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_an_index_written_by_schema_1_still_opens(tmp_path: Path) -> None:
    """tests/data/library_v1.sqlite was written by the schema-1 index (one fit_<kind> column per kind) over
    a folder with a footstep, a metal hit, a swish and an empty file; it opens, keeps its folders, rows,
    skip reasons and full-text search, and gets its per-kind fits as rows."""
    import sqlite3

    db = tmp_path / "library.sqlite"
    shutil.copy(Path(__file__).parent / "data" / "library_v1.sqlite", db)
    with LibraryIndex(db) as index:
        assert [r["path"] for r in index.list_roots()] == ["/tmp/snd/v1/sfx"]
        stats = index.stats()
        assert stats["files"] == 3 and stats["skipped"] == 1
        assert stats["by_kind"]["footstep"] == 1 and stats["by_kind"]["impact"] >= 1
        assert stats["by_kind"]["whoosh"] == 1
        assert [Path(f.path).name for f in index.files(kind="footstep")] == ["FEETHmn_Gravel walk_ABC_Lib.wav"]
        pipe = index.search("pipe", kinds=["impact"])
        assert [Path(f.path).name for f in pipe] == ["METLImpt_Pipe hit_ABC_Lib.wav"]
        assert pipe[0].fits["impact"] == 1.0
        assert index.skipped() == [{"path": "/tmp/snd/v1/sfx/empty.wav", "reason": "empty file (0 bytes)"}]
    con = sqlite3.connect(str(db))
    try:
        assert con.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == str(library.SCHEMA_VERSION)
        columns = [r[1] for r in con.execute("PRAGMA table_info(files)")]
        assert not [c for c in columns if c.startswith("fit_")]
        assert con.execute("SELECT COUNT(*) FROM fits").fetchone()[0] >= 3
    finally:
        con.close()
    with LibraryIndex(db) as again:  # a second open is a no-op
        assert again.stats()["files"] == 3
