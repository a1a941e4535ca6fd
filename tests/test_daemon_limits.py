"""The daemon as an attacker or a careless client would use it: links swapped under a queued job,
library folders outside the allowed ones, wrongly typed requests, broken OSC, IPv6, idle connections."""
from __future__ import annotations

import json
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bridge.daemon import protocol
from bridge.daemon.client import Connection
from tests.daemon_utils import (
    HOST,
    REPO,
    DaemonProcess,
    UdpClient,
    daemon_env,
    follow,
    tiny_video,
    udp_exchange,
    wait_for,
)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits-media")
    return {"tiny": tiny_video(root / "tiny.mp4"), "long": tiny_video(root / "long.mp4", seconds=40.0)}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits-daemon")
    d = DaemonProcess(root, args=("--allow", str(tmp_path_factory.getbasetemp()), "--idle-timeout", "2",
                                  "--max-connections", "8")).start()
    d.wait_ready()
    yield d
    assert d.stop() == 0, d.output()


@pytest.fixture
def outside():
    """A folder outside every folder the daemon may use (not under $HOME nor pytest's temp folder)."""
    path = Path(tempfile.mkdtemp(prefix="foley-outside-", dir="/tmp"))
    if str(path).startswith(str(Path.home()) + "/"):
        pytest.skip("no folder outside $HOME to test with")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def submit(conn: Connection, doc: dict) -> str:
    reply = conn.call(protocol.SUBMIT, json.dumps(doc), replies=(protocol.ACCEPTED, protocol.ERROR))
    assert reply.address == protocol.ACCEPTED, reply
    return reply.args[0]


def test_a_link_swapped_while_the_job_waits_cannot_take_it_outside(daemon, media, tmp_path, outside):
    real, moved = tmp_path / "real", tmp_path / "real2"
    real.mkdir()
    moved.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    with Connection(HOST, daemon.port) as conn:
        blocker = submit(conn, {"items": [{"path": str(media["long"])}], "output_dir": str(tmp_path / "blk")})
        via_link = submit(conn, {"items": [{"path": str(media["tiny"])}], "output_dir": str(link / "out")})
        swapped = submit(conn, {"items": [{"path": str(media["tiny"])}], "output_dir": str(moved / "out")})
        # While both wait behind the blocker: the link now points outside, and the resolved folder of the
        # second job is itself replaced by a link to outside.
        link.unlink()
        link.symlink_to(outside)
        moved.rename(tmp_path / "real2.was")
        moved.symlink_to(outside)
        assert follow(conn.receive, blocker, 120)[-1].address == protocol.DONE
        first = follow(conn.receive, via_link, 60)[-1]
        second = follow(conn.receive, swapped, 60)[-1]
    assert list(outside.iterdir()) == []
    assert first.address == protocol.DONE and Path(first.args[1]) == real / "out" / "result.json"
    assert second.address == protocol.FAILED and second.args[1] == "forbidden", second
    assert "link" in second.args[2]


def _wav(path: Path, seconds: float = 0.3) -> None:
    t = np.arange(int(48000 * seconds)) / 48000
    sf.write(path, (0.5 * np.exp(-t * 30) * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 48000)


def test_library_folders_must_be_allowed_and_do_not_change_the_index(daemon, media, tmp_path, outside):
    for folder in (outside, tmp_path / "sfx"):
        folder.mkdir(exist_ok=True)
        _wav(folder / "METLImpt_metal hit.wav")
    base = {"items": [{"path": str(media["tiny"])}], "options": {"backend": "library"}}
    reply = udp_exchange(daemon.port, protocol.encode(protocol.SUBMIT, json.dumps(
        dict(base, options={"backend": "library", "library": [str(outside)]}, output_dir=str(tmp_path / "a")))))
    assert reply.address == protocol.ERROR and reply.args[0] == "forbidden" and str(outside) in reply.args[1]
    db = daemon.root / "data" / "library.sqlite"

    def roots() -> list[str]:
        if not db.exists():
            return []
        from models.library import LibraryIndex

        with LibraryIndex(db) as index:
            return [r["path"] for r in index.list_roots()]

    with Connection(HOST, daemon.port) as conn:
        job = submit(conn, dict(base, options={"backend": "library", "library": [str(tmp_path / "sfx")]},
                                output_dir=str(tmp_path / "b")))
        assert follow(conn.receive, job, 120)[-1].address == protocol.DONE
        assert roots() == []  # used for the job, not added to the user's index
        job = submit(conn, dict(base, options={"backend": "library", "library": [str(tmp_path / "sfx")],
                                               "add_to_library": True}, output_dir=str(tmp_path / "c")))
        assert follow(conn.receive, job, 120)[-1].address == protocol.DONE
    assert roots() == [str((tmp_path / "sfx").resolve())]  # asked for: added
    # Once in the user's index, a folder outside the allowed ones may be named (it is the user's own).
    assert udp_exchange(daemon.port, protocol.encode(protocol.SUBMIT, json.dumps(
        dict(base, options={"backend": "library", "library": [str(tmp_path / "sfx")]},
             output_dir=str(tmp_path / "d"))))).address == protocol.ACCEPTED


def test_wrongly_typed_requests_are_bad_input_naming_the_value(daemon, media, tmp_path):
    item = {"items": [{"path": str(media["tiny"])}], "output_dir": str(tmp_path / "x")}
    cases = [
        (dict(item, options=[1]), "[1]"),
        (dict(item, options={"formats": 5}), "5"),
        (dict(item, options={"library": 5}), "5"),
        (dict(item, options={"backend": [1]}), "[1]"),
        (dict(item, options={"backend": "nope"}), "nope"),
        (dict(item, options={"query": {"a": 1}}), "{'a': 1}"),
        (dict(item, options={"kinds": []}), "no kind"),
        (dict(item, options={"kinds": ","}), "','"),
        (dict(item, options={"seed": 10 ** 400}), "seed"),
        (dict(item, options={"music_suppression": 10 ** 400}), "music suppression"),
        (dict(item, items=[{"path": str(media["tiny"]), "source_in_s": 10 ** 400}]), "source_in_s"),
    ]
    for doc, named in cases:
        reply = udp_exchange(daemon.port, protocol.encode(protocol.SUBMIT, json.dumps(doc)))
        assert reply.address == protocol.ERROR and reply.args[0] == "bad_input", (doc, reply)
        assert named in reply.args[1], (named, reply.args[1])
    deep = '{"items": ' + "[" * 20000 + "]" * 20000 + "}"
    reply = udp_exchange(daemon.port, protocol.encode(protocol.SUBMIT, deep))
    assert reply.address == protocol.ERROR and reply.args[0] == "bad_input", reply
    assert "internal" not in daemon.output()


def test_truncated_bundles_and_unknown_type_tags_are_answered(daemon):
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscBundleBuilder(IMMEDIATELY)
    builder.add_content(OscMessageBuilder(address=protocol.PING).build())
    bundle = builder.build().dgram
    assert udp_exchange(daemon.port, bundle).address == protocol.PONG
    for data in (bundle[:20], bundle[:-4], b"/foley/ping\x00,Q\x00\x00", b"/foley/status\x00\x00\x00,sX\x00ab\x00\x00"):
        reply = udp_exchange(daemon.port, data)
        assert reply.address == protocol.ERROR and reply.args[0] == protocol.MALFORMED, (data, reply)


def test_bind_ipv6_loopback_serves(tmp_path):
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    d = DaemonProcess(tmp_path, args=("--bind", "::1", "--no-warm"))
    d.root.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "bridge", "serve", "--port", str(d.port), "--bind", "::1",
                             "--no-warm", "--no-library-watch"], cwd=REPO, env=daemon_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        from bridge.daemon.client import ping

        wait_for(lambda: ping("::1", d.port, timeout_s=0.2), 60, "an answer over IPv6")
        with socket.create_connection(("::1", d.port), timeout=5) as sock:
            sock.sendall(protocol.slip_encode(protocol.encode(protocol.PING)))
            assert protocol.PONG.encode() in sock.recv(1024)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out


def test_bind_to_an_address_not_of_this_machine_says_so(tmp_path):
    out = subprocess.run([sys.executable, "-m", "bridge", "serve", "--port", "0", "--bind", "192.0.2.1",
                          "--allow-remote", "--no-warm"], cwd=REPO, env=daemon_env(tmp_path), timeout=60,
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "another daemon" not in out.stderr and "--bind" in out.stderr, out.stderr


def _closed(sock: socket.socket) -> bool:
    """Reads until the daemon closes the connection (True), or 10 s pass (False)."""
    sock.settimeout(10)
    try:
        while sock.recv(4096):
            pass
    except socket.timeout:
        return False
    return True


def test_connections_are_capped_and_idle_ones_closed(daemon, media, tmp_path):
    time.sleep(1.0)  # connections of earlier tests are released
    idle = [socket.create_connection((HOST, daemon.port), timeout=5) for _ in range(8)]
    try:
        extra = socket.create_connection((HOST, daemon.port), timeout=5)
        frames = extra.recv(4096)
        assert b"busy" in frames
        assert extra.recv(4096) == b""  # closed by the daemon
        extra.close()
        # Idle connections are closed after --idle-timeout (2 s); then new clients are served again.
        started = time.monotonic()
        assert all(_closed(sock) for sock in idle)
        assert time.monotonic() - started < 9
    finally:
        for sock in idle:
            sock.close()
    # A connection that waits for its own job is not idle, even when the job outlasts the timeout.
    with Connection(HOST, daemon.port, timeout_s=10) as conn:
        job = submit(conn, {"items": [{"path": str(media["long"])}], "output_dir": str(tmp_path / "long")})
        assert follow(conn.receive, job, 120)[-1].address == protocol.DONE


def test_idle_connections_cannot_exhaust_a_small_descriptor_limit(tmp_path, media):
    """256 open files (the macOS default) and 300 idle clients: a job still opens its video."""
    d = DaemonProcess(tmp_path / "d", args=("--allow", str(tmp_path), "--allow", str(media["tiny"].parent),
                                            "--no-warm", "--no-library-watch"))
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, limit[1]))  # inherited by the daemon
    try:
        d.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, limit)
    d.wait_ready()
    socks = []
    client = UdpClient(d.port)
    try:
        for _ in range(300):
            try:
                socks.append(socket.create_connection((HOST, d.port), timeout=2))
            except OSError:
                continue
        time.sleep(1.0)
        client.send(protocol.SUBMIT, json.dumps({"items": [{"path": str(media["tiny"])}],
                                                 "output_dir": str(tmp_path / "o")}))
        accepted = client.receive(10.0)
        assert accepted is not None and accepted.address == protocol.ACCEPTED, accepted
        end = follow(client.receive, accepted.args[0], 120)[-1]
        assert end.address == protocol.DONE, end
    finally:
        client.sock.close()
        for sock in socks:
            sock.close()
    assert d.stop() == 0, d.output()
