"""The daemon against real sockets, a real engine and real videos (one daemon per module, plus
separate ones for kill -9 recovery and SIGTERM draining)."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import opentimelineio as otio
import pytest
import soundfile as sf
from pythonosc.osc_message import OscMessage
from pythonosc.tcp_client import SimpleTCPClient

from bridge.daemon import protocol
from bridge.daemon.client import Connection, DaemonError, ping
from bridge.daemon.journal import replay
from tests.daemon_utils import HOST, DaemonProcess, UdpClient, follow, leftovers, tiny_video, udp_exchange, wait_for


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    return {"tiny": tiny_video(root / "tiny.mp4"), "long": tiny_video(root / "long.mp4", seconds=30.0),
            "root": root}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, media):
    root = tmp_path_factory.mktemp("daemon")
    # Each test writes under its own tmp_path: allow pytest's base temp folder.
    d = DaemonProcess(root, args=("--allow", str(tmp_path_factory.getbasetemp()))).start()
    d.wait_ready()
    yield d
    assert d.stop() == 0, d.output()


def request(media, tmp: Path, name: str, video: str = "tiny", items: int = 1) -> dict:
    return {"items": [{"path": str(media[video])}] * items, "output_dir": str(tmp / name), "name": name}


def test_ping_udp_and_tcp(daemon):
    from bridge import __version__

    assert ping(HOST, daemon.port) == __version__
    reply = udp_exchange(daemon.port, protocol.encode(protocol.PING))
    assert reply == protocol.Message(protocol.PONG, (__version__,))
    client = SimpleTCPClient(HOST, daemon.port, mode="1.1")  # python-osc's own client, OSC 1.1 framing
    try:
        client.send_message(protocol.PING, [])
        packets = client.receive(5.0)
        assert OscMessage(packets[0]).address == protocol.PONG
    finally:
        client.close()


def test_submit_udp_streams_progress_and_writes_outputs(daemon, media, tmp_path):
    client = UdpClient(daemon.port)
    try:
        client.send(protocol.SUBMIT, json.dumps(request(media, tmp_path, "udp")))
        accepted = client.receive(5.0)
        assert accepted.address == protocol.ACCEPTED
        job = accepted.args[0]
        messages = follow(client.receive, job)
    finally:
        client.close()
    assert messages[-1].address == protocol.DONE, messages[-1]
    progress = [m for m in messages if m.address == protocol.PROGRESS]
    assert progress and all(0.0 <= m.args[2] <= 1.0 for m in progress)
    assert {"analyze", "write"} <= {m.args[1] for m in progress}
    result_path = Path(messages[-1].args[1])
    assert result_path == tmp_path / "udp" / "result.json"
    result = json.loads(result_path.read_text())
    timeline = otio.adapters.read_from_file(result["otio"])
    assert len(list(timeline.audio_tracks())) >= 1
    assert result["placements"]
    for placement in result["placements"]:
        audio, rate = sf.read(placement["path"])
        assert rate == 48000 and audio.shape[0] > 0
    assert not leftovers(tmp_path)


def test_submit_tcp_with_python_osc_client_and_request_file(daemon, media, tmp_path):
    req = tmp_path / "req.json"
    doc = request(media, tmp_path, "tcp")
    doc["output_dir"] = "out/tcp"  # relative: taken from the request file's folder
    req.write_text(json.dumps(doc))
    client = SimpleTCPClient(HOST, daemon.port, mode="1.1")
    pending: list[protocol.Message] = []

    def receive(timeout_s: float) -> protocol.Message | None:
        if not pending:
            pending.extend(protocol.decode(p)[0] for p in client.receive(timeout_s) if p)
        return pending.pop(0) if pending else None

    try:
        client.send_message(protocol.SUBMIT, str(req))
        accepted = receive(5.0)
        assert accepted.address == protocol.ACCEPTED, accepted
        messages = follow(receive, accepted.args[0])
    finally:
        client.close()
    assert messages[-1].address == protocol.DONE
    assert Path(messages[-1].args[1]) == tmp_path / "out" / "tcp" / "result.json"
    assert (tmp_path / "out" / "tcp" / "foley.otio").is_file()


def test_large_datagram_is_not_truncated(daemon, media, tmp_path):
    doc = request(media, tmp_path, "big")
    doc["items"] = [{"path": str(media["tiny"]), "source_in_s": 0.0, "source_out_s": 1.0}] * 150
    text = json.dumps(doc)
    assert len(text) > 8192
    client = UdpClient(daemon.port)
    try:
        client.send(protocol.SUBMIT, text)
        accepted = client.receive(5.0)
        assert accepted.address == protocol.ACCEPTED, accepted
        client.send(protocol.CANCEL, accepted.args[0])
        messages = follow(client.receive, accepted.args[0])
    finally:
        client.close()
    assert messages[-1].address in (protocol.FAILED, protocol.DONE)


def test_two_clients_at_once(daemon, media, tmp_path):
    results: dict[str, list[protocol.Message]] = {}

    def one(name: str) -> None:
        with Connection(HOST, daemon.port) as conn:
            job = conn.call(protocol.SUBMIT, json.dumps(request(media, tmp_path, name)),
                            replies=(protocol.ACCEPTED,)).args[0]
            results[name] = follow(conn.receive, job)

    threads = [threading.Thread(target=one, args=(f"c{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert set(results) == {"c0", "c1"}
    jobs = {msgs[-1].args[0] for msgs in results.values()}
    assert len(jobs) == 2
    for name, msgs in results.items():
        assert msgs[-1].address == protocol.DONE
        assert Path(msgs[-1].args[1]).parent == tmp_path / name
        assert json.loads(Path(msgs[-1].args[1]).read_text())["placements"]


def test_bad_packets_are_answered_and_the_daemon_keeps_serving(daemon, media, tmp_path):
    port = daemon.port
    cases = [
        (b"\x00\x01garbage", protocol.MALFORMED),
        (b"/foley/submit\x00\x00\x00,s\x00\x00abc", protocol.MALFORMED),  # string not terminated
        (protocol.encode("/foley/nope", 1), protocol.UNKNOWN_ADDRESS),
        (protocol.encode(protocol.SUBMIT, 42), protocol.BAD_ARGS),
        (protocol.encode(protocol.SUBMIT), protocol.BAD_ARGS),
        (protocol.encode(protocol.SUBMIT, "{not json"), "bad_input"),
        (protocol.encode(protocol.SUBMIT, '{"items": []}'), "bad_input"),
        (protocol.encode(protocol.SUBMIT, json.dumps({"items": [{"path": str(tmp_path / "missing.mp4")}],
                                                       "output_dir": str(tmp_path / "x")})), "bad_input"),
        (protocol.encode(protocol.SUBMIT, json.dumps({"items": [{"path": "/etc/hostname"}]})), "forbidden"),
        (protocol.encode(protocol.SUBMIT, json.dumps({"items": [{"path": str(media["tiny"])}],
                                                       "output_dir": "/etc/foley-out"})), "forbidden"),
        (protocol.encode(protocol.SUBMIT, json.dumps({"items": [{"path": "rel.mp4"}]})), "bad_input"),
        (protocol.encode(protocol.SUBMIT, str(tmp_path / "no-such-request.json")), "bad_input"),
        (protocol.encode(protocol.CANCEL, "no-such-job"), protocol.UNKNOWN_JOB),
        (protocol.encode(protocol.STATUS, "no-such-job"), protocol.UNKNOWN_JOB),
        (protocol.encode(protocol.STATUS, 3.5), protocol.BAD_ARGS),
    ]
    for data, code in cases:
        reply = udp_exchange(port, data)
        assert reply.address == protocol.ERROR, (data, reply)
        assert reply.args[0] == code, (data, reply)
        assert isinstance(reply.args[1], str) and reply.args[1]
    # TCP: a bad SLIP escape, then a good message on the same connection.
    with Connection(HOST, port) as conn:
        conn.sock.sendall(b"\xc0\xdb\x01\xc0" + protocol.slip_encode(protocol.encode(protocol.PING)))
        first, second = conn.receive(5.0), conn.receive(5.0)
    assert first.address == protocol.ERROR and first.args[0] == protocol.MALFORMED
    assert second.address == protocol.PONG
    assert "dropped packet" in daemon.output()
    # Still serving real work.
    with Connection(HOST, port) as conn:
        job = conn.call(protocol.SUBMIT, json.dumps(request(media, tmp_path, "after")),
                        replies=(protocol.ACCEPTED,)).args[0]
        assert follow(conn.receive, job)[-1].address == protocol.DONE


def test_status_and_models(daemon, media, tmp_path):
    with Connection(HOST, daemon.port) as conn:
        models = json.loads(conn.call(protocol.MODELS, replies=(protocol.MODELS,)).args[0])
        assert models["state"] == "ready" and models["device"] == "cpu"
        assert "synth" in models["backends"]
        job = conn.call(protocol.SUBMIT, json.dumps(request(media, tmp_path, "st")),
                        replies=(protocol.ACCEPTED,)).args[0]
        follow(conn.receive, job)
        one = json.loads(conn.call(protocol.STATUS, job, replies=(protocol.STATUS,)).args[0])
        overall = json.loads(conn.call(protocol.STATUS, replies=(protocol.STATUS,)).args[0])
    assert one["job"] == job and one["state"] == "done" and one["result_path"].endswith("result.json")
    assert overall["state"] == "ready" and job in [j["job"] for j in overall["jobs"]]


def test_cancel_running_job_removes_partial_output(daemon, media, tmp_path):
    with Connection(HOST, daemon.port) as conn:
        doc = request(media, tmp_path, "cancelled", video="long", items=10)
        job = conn.call(protocol.SUBMIT, json.dumps(doc), replies=(protocol.ACCEPTED,)).args[0]
        seen = []
        while True:  # wait until it is really running
            message = conn.receive(10.0)
            seen.append(message)
            if message.address == protocol.PROGRESS and message.args[1] == "analyze":
                break
        with Connection(HOST, daemon.port) as other:
            assert other.call(protocol.CANCEL, job, replies=(protocol.CANCELLING,)).args == (job,)
        asked = time.monotonic()
        end = follow(conn.receive, job)[-1]
        took = time.monotonic() - asked
        status = json.loads(conn.call(protocol.STATUS, job, replies=(protocol.STATUS,)).args[0])
    assert end.address == protocol.FAILED and end.args[1] == "cancelled", end
    print(f"cancel took {took:.3f} s")
    assert status["state"] == "failed" and status["code"] == "cancelled"
    assert not (tmp_path / "cancelled").exists()
    assert not leftovers(tmp_path)


def _long_job(port: int, media, tmp: Path, name: str) -> tuple[Connection, str]:
    conn = Connection(HOST, port)
    doc = request(media, tmp, name, video="long", items=20)
    job = conn.call(protocol.SUBMIT, json.dumps(doc), replies=(protocol.ACCEPTED,)).args[0]
    wait_for(lambda: (m := conn.receive(5.0)) is not None and m.address == protocol.PROGRESS
             and m.args[1] == "analyze", what="job running")
    return conn, job


def test_restart_after_kill_9_reports_interrupted_job(tmp_path, media):
    d = DaemonProcess(tmp_path / "d", args=("--allow", str(media["root"]), "--allow", str(tmp_path),
                                             "--no-warm")).start()
    try:
        conn, job = _long_job(d.port, media, tmp_path, "killed")
    finally:
        d.kill()
    # A temp folder as the engine leaves it when killed while writing.
    planted = tmp_path / ".killed.tmp-abc123"
    (planted / "clips").mkdir(parents=True)
    (planted / "clips" / "0001_impact.wav").write_bytes(b"RIFF")
    with pytest.raises(DaemonError, match="closed the connection|lost the connection"):
        while True:
            conn.receive(1.0)
    conn.close()
    assert not (tmp_path / "killed").exists()
    d2 = DaemonProcess(d.root, port=d.port, args=d.args).start()
    try:
        with Connection(HOST, d2.port) as c:
            status = json.loads(c.call(protocol.STATUS, job, replies=(protocol.STATUS,)).args[0])
            # and it still works
            new = c.call(protocol.SUBMIT, json.dumps(request(media, tmp_path, "after-restart")),
                         replies=(protocol.ACCEPTED,)).args[0]
            assert follow(c.receive, new)[-1].address == protocol.DONE
    finally:
        assert d2.stop() == 0
    assert status["state"] == "failed" and status["code"] == "interrupted", status
    assert not planted.exists() and not (tmp_path / "killed").exists()
    records = replay(d.root / "state" / f"journal-{d.port}.jsonl")
    assert records[job]["code"] == "interrupted" and records[new]["state"] == "done"


def test_sigterm_drains_and_exits_cleanly(tmp_path, media):
    d = DaemonProcess(tmp_path / "d", args=("--allow", str(media["root"]), "--allow", str(tmp_path), "--no-warm",
                                             "--drain-timeout", "0.5")).start()
    try:
        conn, job = _long_job(d.port, media, tmp_path, "drained")
    finally:
        code = d.stop()
    assert code == 0, d.output()
    end = follow(conn.receive, job)[-1]
    conn.close()
    assert end.address == protocol.FAILED and end.args[1] == protocol.SHUTTING_DOWN, end
    assert not (tmp_path / "drained").exists() and not leftovers(tmp_path)
    assert "foley daemon stopped" in d.output()
    assert ping(HOST, d.port, timeout_s=0.2) is None


def test_non_loopback_bind_needs_allow_remote(tmp_path):
    import subprocess
    import sys

    from tests.daemon_utils import REPO, daemon_env

    proc = subprocess.run([sys.executable, "-m", "bridge", "serve", "--bind", "0.0.0.0", "--port", "1"],
                          cwd=REPO, env=daemon_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "--allow-remote" in proc.stderr
