"""The ``foley`` command: bad input gives one clear line, exit code 2, and nothing half-written."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from foley_cli import run
from videos import Mover, drop, scene


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("v") / "clip.mp4"
    scene(path, [Mover(drop(0.3, 0.1, 0.9), seed=1)], seconds=2.0)
    return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name or p.name.endswith(".foley"))


def test_help_is_fast_and_lists_commands() -> None:
    out = run("--help")
    assert out.returncode == 0
    for command in ("run", "demo", "serve", "submit", "library", "install-scripts"):
        assert command in out.stdout


@pytest.mark.parametrize("make, needle", [
    (lambda d: d / "missing.mp4", "does not exist"),
    (lambda d: (d / "notes.txt").write_text("hello") and d / "notes.txt", "not a readable video"),
    (lambda d: (d / "empty.mp4").write_bytes(b"") or d / "empty.mp4", "empty"),
    (lambda d: d, "folder"),
])
def test_bad_video_inputs(tmp_path: Path, make, needle: str) -> None:
    target = make(tmp_path)
    out = run("run", str(target), "-o", str(tmp_path / "out"))
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("foley: error:")
    assert not (tmp_path / "out").exists()


def test_corrupt_video(tmp_path: Path, video: Path) -> None:
    data = bytearray(video.read_bytes())
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(bytes(data[:64]) + os.urandom(len(data) - 64))
    out = run("run", str(bad), "-o", str(tmp_path / "out"))
    assert out.returncode == 2 and "foley: error:" in out.stderr
    assert not (tmp_path / "out").exists()


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    wav = tmp_path / "tone.wav"
    sf.write(str(wav), np.zeros(4800, dtype=np.float32), 48000)
    out = run("run", str(wav))
    assert out.returncode == 2 and "no video stream" in out.stderr


def test_range_outside_clip(tmp_path: Path, video: Path) -> None:
    out = run("run", str(video), "--range", "5", "9", "-o", str(tmp_path / "out"))
    assert out.returncode == 2 and "range 5.000-9.000 s is outside" in out.stderr
    assert leftovers(tmp_path) == []


def test_unwritable_output(tmp_path: Path, video: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = run("run", str(video), "-o", str(blocker / "out"))
    assert out.returncode == 2 and "cannot be created" in out.stderr


def test_bad_option_values(video: Path) -> None:
    out = run("run", str(video), "--music-suppression", "1.5")
    assert out.returncode == 2 and "1.5" in out.stderr
    out = run("run", str(video), "--format", "otio,edl")
    assert out.returncode == 2 and "'edl'" in out.stderr
    out = run("run", str(video), "--backend", "neural")
    assert out.returncode == 2 and "'neural'" in out.stderr and "synth" in out.stderr


def test_run_json_and_rerun_replaces_atomically(tmp_path: Path, video: Path) -> None:
    out_dir = tmp_path / "res"
    first = run("run", str(video), "-o", str(out_dir), "--json")
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert Path(doc["otio"]).is_file() and doc["placements"]
    second = run("run", str(video), "-o", str(out_dir), "--json", "--seed", "5")
    assert second.returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]  # no temp or old folders left


def test_cuda_without_a_gpu_is_a_clear_error(video: Path, tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    out = run("run", str(video), "--device", "cuda", "-o", str(tmp_path / "out"))
    assert out.returncode == 2 and "no CUDA GPU" in out.stderr and "--device cpu" in out.stderr
    assert not (tmp_path / "out").exists()


def test_an_interrupt_wrapped_by_a_c_extension_is_still_an_interrupt(monkeypatch, capsys) -> None:
    """SIGTERM or Ctrl-C landing inside a C extension's import surfaces as e.g. ImportError caused by it."""
    import argparse

    from bridge import cli

    def wrapped(args: argparse.Namespace) -> int:
        try:
            raise KeyboardInterrupt("SIGTERM")
        except KeyboardInterrupt as exc:
            raise ImportError("initialization failed") from exc

    parser = argparse.ArgumentParser()
    parser.set_defaults(func=wrapped, verbose=0)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main([]) == 130
    assert capsys.readouterr().err.strip() == "foley: interrupted"
