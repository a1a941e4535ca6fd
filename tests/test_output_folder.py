"""The output folder rule: never delete what the job did not create."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bridge.errors import OutputError
from bridge.outdir import MARKER, check_output_dir, replace_dir, write_marker
from foley_cli import run
from videos import Mover, drop, scene


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("v") / "clip.mp4"
    scene(path, [Mover(drop(0.3, 0.1, 0.9), seed=1)], seconds=2.0)
    return path


def test_output_dot_in_the_videos_folder_is_refused_and_nothing_is_lost(tmp_path: Path, video: Path) -> None:
    work = tmp_path / "DIR"
    work.mkdir()
    clip = work / "clip.mp4"
    shutil.copy(video, clip)
    (work / "notes.txt").write_text("mine")
    out = run("run", "clip.mp4", "-o", ".", cwd=work)
    assert out.returncode == 2
    assert "did not write" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in work.iterdir()) == ["clip.mp4", "notes.txt"]
    assert clip.read_bytes() == video.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["DIR"]  # no temp folder left either


def test_a_previous_result_is_replaced_but_not_once_the_user_added_a_file(tmp_path: Path, video: Path) -> None:
    out_dir = tmp_path / "res"
    assert run("run", str(video), "-o", str(out_dir)).returncode == 0
    assert (out_dir / MARKER).is_file()
    assert run("run", str(video), "-o", str(out_dir), "--seed", "4").returncode == 0
    (out_dir / "my_edit.wav").write_bytes(b"RIFF")
    again = run("run", str(video), "-o", str(out_dir))
    assert again.returncode == 2 and "my_edit.wav" in again.stderr
    assert (out_dir / "my_edit.wav").read_bytes() == b"RIFF"


def test_an_empty_existing_folder_is_used(tmp_path: Path, video: Path) -> None:
    out_dir = tmp_path / "empty"
    out_dir.mkdir()
    assert run("run", str(video), "-o", str(out_dir)).returncode == 0
    assert (out_dir / "events.json").is_file()


def test_check_refuses_a_symlinked_folder_and_a_marker_that_does_not_cover_everything(tmp_path: Path) -> None:
    docs = tmp_path / "Documents"
    docs.mkdir()
    (docs / "letter.txt").write_text("x")
    link = tmp_path / "out"
    link.symlink_to(docs)
    with pytest.raises(OutputError):
        check_output_dir(link)
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / "events.json").write_text("{}")
    write_marker(ours)
    check_output_dir(ours)  # wholly ours: accepted
    (ours / "sub").mkdir()
    (ours / "sub" / "extra.txt").write_text("x")
    with pytest.raises(OutputError, match="sub"):
        check_output_dir(ours)


def test_replace_rechecks_at_the_moment_of_the_swap(tmp_path: Path) -> None:
    final = tmp_path / "res"
    final.mkdir()
    (final / "events.json").write_text("{}")
    write_marker(final)
    check_output_dir(final)
    (final / "added_later.txt").write_text("keep me")  # appears while the job runs
    tmp = tmp_path / ".res.tmp"
    tmp.mkdir()
    (tmp / "events.json").write_text("{}")
    with pytest.raises(OutputError, match="added_later.txt"):
        replace_dir(tmp, final)
    assert (final / "added_later.txt").read_text() == "keep me"


def test_an_empty_folder_the_user_made_inside_a_result_is_theirs(tmp_path: Path) -> None:
    ours = tmp_path / "res"
    (ours / "clips").mkdir(parents=True)
    (ours / "clips" / "0001_impact.wav").write_bytes(b"RIFF")
    write_marker(ours)
    check_output_dir(ours)
    (ours / "my_bounces").mkdir()
    with pytest.raises(OutputError, match="my_bounces"):
        check_output_dir(ours)


def test_export_refuses_the_source_video_reached_another_way(tmp_path: Path, video: Path) -> None:
    from bridge.export import check_export_path

    work = tmp_path / "a"
    (work / "b").mkdir(parents=True)
    src = work / "v.mp4"
    shutil.copy(video, src)
    (tmp_path / "link").symlink_to(work)
    for other in (work / "b" / ".." / "v.mp4", tmp_path / "link" / "v.mp4"):
        with pytest.raises(OutputError, match="source video"):
            check_export_path(str(src), other)
