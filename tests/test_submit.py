"""``foley submit`` end to end: it starts a daemon by itself, keeps the progress and result files of
the fixed host contract, cancels through a cancel file, and fails with one clear line."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.daemon import protocol
from bridge.daemon.client import Connection, ping
from tests.daemon_utils import HOST, REPO, daemon_env, free_port, tiny_video, wait_for

PROGRESS_KEYS = {"job", "state", "stage", "fraction", "message"}
PLACEMENT_KEYS = {"id", "kind", "track", "path", "record_in_s", "duration_s", "snap_offset_s", "gain_db", "pan"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("submit")
    port = free_port()
    videos = {"tiny": tiny_video(root / "tiny.mp4"), "long": tiny_video(root / "long.mp4", seconds=30.0)}
    yield {"root": root, "port": port, "env": daemon_env(root), **videos}
    if ping(HOST, port) is not None:  # stop the daemon `foley submit` started
        with Connection(HOST, port) as conn:
            pid = json.loads(conn.call(protocol.STATUS, replies=(protocol.STATUS,)).args[0])["pid"]
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: ping(HOST, port, timeout_s=0.2) is None, what="daemon stopped")


def submit(env, request: dict, name: str, *extra: str, wait: bool = True):
    req = env["root"] / f"{name}.req.json"
    req.write_text(json.dumps(request))
    cmd = [sys.executable, "-m", "bridge", "submit", str(req), "--port", str(env["port"]),
           "--result", str(env["root"] / f"{name}.result.json"),
           "--progress", str(env["root"] / f"{name}.progress.json"), "--allow", str(env["root"]), *extra]
    if not wait:
        return subprocess.Popen(cmd, cwd=REPO, env=env["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    return subprocess.run(cmd, cwd=REPO, env=env["env"], capture_output=True, text=True, timeout=180)


def files(env, name: str) -> tuple[dict, dict]:
    root = env["root"]
    return (json.loads((root / f"{name}.result.json").read_text()),
            json.loads((root / f"{name}.progress.json").read_text()))


def test_submit_starts_the_daemon_and_writes_the_contract_files(env):
    assert ping(HOST, env["port"]) is None
    proc = submit(env, {"items": [{"path": "tiny.mp4"}], "output_dir": "out/first"}, "first")
    assert proc.returncode == 0, proc.stderr
    result, progress = files(env, "first")
    assert result["ok"] is True and set(result) >= {"job", "otio", "events", "output_dir", "placements"}
    assert result["output_dir"] == str(env["root"] / "out" / "first")
    assert Path(result["otio"]).is_file() and Path(result["events"]).is_file()
    assert result["placements"]
    for placement in result["placements"]:
        assert set(placement) >= PLACEMENT_KEYS
        assert Path(placement["path"]).is_absolute() and Path(placement["path"]).is_file()
    assert set(progress) == PROGRESS_KEYS
    assert progress["state"] == "done" and progress["fraction"] == 1.0 and progress["job"] == result["job"]
    assert ping(HOST, env["port"]) is not None  # the daemon stays up for the next job
    log = env["root"] / "state" / f"daemon-{env['port']}.log"
    assert "listening on" in log.read_text()


def test_second_submit_reuses_the_running_daemon(env):
    with Connection(HOST, env["port"]) as conn:
        pid = json.loads(conn.call(protocol.STATUS, replies=(protocol.STATUS,)).args[0])["pid"]
    proc = submit(env, {"items": [{"path": str(env["tiny"])}], "output_dir": str(env["root"] / "out" / "second")},
                  "second", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True
    with Connection(HOST, env["port"]) as conn:
        status = json.loads(conn.call(protocol.STATUS, replies=(protocol.STATUS,)).args[0])
    assert status["pid"] == pid
    assert files(env, "second")[0]["job"] in [j["job"] for j in status["jobs"]]


def test_failure_is_one_clear_line_and_a_result_file(env):
    proc = submit(env, {"items": [{"path": "nowhere.mp4"}]}, "missing")
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "nowhere.mp4" in lines[0] and "does not exist" in lines[0]
    result, progress = files(env, "missing")
    assert result == {"ok": False, "code": "bad_input", "message": result["message"]}
    assert progress["state"] == "failed"
    proc = submit(env, {"items": [{"path": "/etc/hostname"}]}, "forbidden")
    assert proc.returncode != 0 and "--allow" in proc.stderr
    assert files(env, "forbidden")[0]["code"] == "forbidden"
    (env["root"] / "fake.mp4").write_text("not a video")  # accepted, then fails in the engine
    proc = submit(env, {"items": [{"path": "fake.mp4"}]}, "notvideo")
    assert proc.returncode != 0 and "not a readable video" in proc.stderr
    result, progress = files(env, "notvideo")
    assert result["code"] == "bad_input" and progress["state"] == "failed" and progress["job"]


def test_cancel_file_cancels_the_job(env):
    cancel = env["root"] / "cancel.flag"
    out = env["root"] / "out" / "cancelled"
    proc = submit(env, {"items": [{"path": str(env["long"])}] * 10, "output_dir": str(out)}, "cancel",
                  "--cancel-file", str(cancel), wait=False)
    progress_path = env["root"] / "cancel.progress.json"
    wait_for(lambda: progress_path.exists() and json.loads(progress_path.read_text())["state"] == "running",
             what="job running")
    cancel.write_text("")
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    result, progress = files(env, "cancel")
    assert result["ok"] is False and result["code"] == "cancelled"
    assert progress["state"] == "failed" and progress["job"]
    assert not out.exists() and not cancel.exists()


def test_timeout_cancels_and_fails(env):
    out = env["root"] / "out" / "slow"
    proc = submit(env, {"items": [{"path": str(env["long"])}] * 10, "output_dir": str(out)}, "timeout",
                  "--timeout", "0.5")
    assert proc.returncode != 0
    assert files(env, "timeout")[0]["code"] == "timeout"
    wait_for(lambda: not out.exists(), timeout_s=10, what="no output")


def test_no_start_without_daemon_fails_clearly(env, tmp_path):
    port = free_port()
    req = tmp_path / "r.json"
    req.write_text(json.dumps({"items": [{"path": str(env["tiny"])}]}))
    proc = subprocess.run([sys.executable, "-m", "bridge", "submit", str(req), "--port", str(port), "--no-start",
                           "--result", str(tmp_path / "res.json")], cwd=REPO, env=env["env"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3 and "foley serve" in proc.stderr
    assert json.loads((tmp_path / "res.json").read_text())["code"] == "unreachable"
