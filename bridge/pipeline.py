"""The engine: one job from request to a complete output folder.

Models (detectors, sound backends) are loaded once per Engine and reused across jobs; the CLI,
the Python API and the daemon all call the same Engine.
"""
from __future__ import annotations

import functools
import json
import logging
import shutil
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from bridge import analysis_worker
from bridge.errors import BackendError, Cancelled, InputError
from bridge.event import KIND_TRACKS, Event
from bridge.kinds import tracks_json
from bridge.options import Options
from bridge.outdir import check_output_dir, make_temp_dir, replace_dir, write_error
from bridge.request import Item, Request

if TYPE_CHECKING:
    from models.sound import Sound

log = logging.getLogger("foley.pipeline")

SAMPLE_RATE = 48000
#: Silence between items longer than this splits the mix and stems into parts (see write_mix).
MIX_GAP_S = 60.0
#: Mix parts up to this long finish a stem (limit, write, measure) on a second thread while the next is summed:
#: one more stem in memory (23 MB a minute of stereo float32), so longer parts keep one at a time.
STEM_OVERLAP_S = 300.0
#: Mix parts up to this long finish all their stems on the two writing threads at once, beside the mix.
STEMS_AT_ONCE_S = 60.0
#: Longest timeline span a job may cover (first item start to last item end).
MAX_TIMELINE_S = 48 * 3600.0
Progress = Callable[[str, float], None]

#: Share of the progress bar each stage takes.
STAGES = {"probe": (0.0, 0.02), "analyze": (0.02, 0.70), "sound": (0.70, 0.85), "write": (0.85, 1.0)}


@dataclass
class ItemInfo:
    item: Item
    info: Any  # models.video.VideoInfo
    start_s: float
    end_s: float
    record_in_s: float
    #: The detector's shots within the span, (start, end) media seconds.
    shots: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class FoleyResult:
    """What a job produced. ``result`` is the content of ``result.json``."""

    output_dir: Path
    events: list[Event]
    timeline: Any
    result: dict[str, Any]
    sources: list[dict[str, Any]] = field(default_factory=list)


def resolve_device(device: str) -> str:
    """``auto``: CUDA when torch sees a GPU, else the CPU. Where no NVIDIA driver is installed at all,
    ``auto`` is the CPU without importing torch (about 2 s of CPU that a one-shot run would pay)."""
    if device not in ("auto", "cpu", "cuda"):
        raise InputError(f"device {device!r} is not one of: auto, cpu, cuda")
    if device == "cpu" or (device == "auto" and not nvidia_driver_present()):
        return "cpu"
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise BackendError("device 'cuda' was asked for but torch sees no CUDA GPU; use --device cpu or auto")
    return device


def nvidia_driver_present() -> bool:
    """Whether this machine shows any sign of an NVIDIA driver (CUDA cannot work without one)."""
    import ctypes.util
    import os
    import sys

    if sys.platform == "darwin":
        return False
    if sys.platform.startswith("linux"):
        return any(os.path.exists(p) for p in ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0"))
    return ctypes.util.find_library("nvcuda") is not None or ctypes.util.find_library("cuda") is not None


class Engine:
    """Holds the loaded models. Backends load in a background thread so the first decode overlaps them."""

    def __init__(self, device: str = "auto", backends: Sequence[str] = ("auto",),
                 cold_start: bool = False) -> None:
        """``cold_start=True`` (one-shot CLI runs): the first video is analysed in a forked process
        while the sound models load, instead of both sharing this process."""
        self.requested_device = device
        self.cold_start = cold_start
        self._detectors: dict[str, Any] = {}
        self._recognizer: Any = None
        self._backends: dict[tuple, Any] = {}
        self._lock = threading.Lock()  # backends
        self._detector_lock = threading.Lock()
        self._loading_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="foley-load")
        self._backend_names = tuple(backends)
        self._device_future: Future | None = None
        self._preload: dict[str, Future] = {}
        if not cold_start:
            self.start_loading()

    def start_loading(self) -> None:
        """Start loading the device and sound backends in the background (idempotent)."""
        with self._loading_lock:
            if self._device_future is not None:
                return
            self._device_future = self._pool.submit(resolve_device, self.requested_device)
            # Backends with job settings (the library's folders and query) load with their first job;
            # the others load now, while the first video decodes.
            from models.backends import preload_names

            self._preload = {name: self._pool.submit(self._preload_backend, name)
                             for name in preload_names(self._backend_names, one_shot=self.cold_start)}
            self._pool.submit(lambda: self.recognizer().load())  # picture model, while the video decodes
            self._pool.submit(_import_output_modules)

    @property
    def loading_started(self) -> bool:
        return self._device_future is not None

    @property
    def device(self) -> str:
        self.start_loading()
        assert self._device_future is not None
        return self._device_future.result()

    def models_info(self) -> dict[str, Any]:
        return {"device": self.device,
                "detectors": sorted(self._detectors),
                "recognizer": self._recognizer.name if self._recognizer is not None else None,
                "backends": sorted({key[0] for key in self._backends})}

    def recognizer(self) -> Any:
        """The picture recognizer (models.recognize), created once; its weights load on first use."""
        with self._detector_lock:
            if self._recognizer is None:
                from models.recognize import Recognizer

                self._recognizer = Recognizer()
            return self._recognizer

    def detector(self, precision: str) -> Any:
        with self._detector_lock:
            if precision not in self._detectors:
                from models.detect import EventDetector

                self._detectors[precision] = EventDetector(precision=precision)
            return self._detectors[precision]

    def _load_backend(self, name: str, settings: tuple[tuple[str, Any], ...]) -> Any:
        """The backend ``name`` with its own ``settings`` (loaded once per engine), on the engine's device."""
        from models.backends import backend_class, spec

        key = (name, settings)
        with self._lock:
            if key not in self._backends:
                cls = backend_class(name)
                device = self.device if spec(name).torch else "cpu"
                self._backends[key] = cls(device=device, **{k: (list(v) if isinstance(v, tuple) else v)
                                                            for k, v in settings})
                log.info("loaded sound backend %s on %s", name, device)
            return self._backends[key]

    def _preload_backend(self, name: str) -> Any:
        """Load a backend before any job, with every import it will need (the synthesizer's torch): a
        preloaded source is one the engine expects to use. A fallback loaded on demand imports what it
        needs when it first needs it."""
        backend = self._load_backend(name, ())
        if hasattr(backend, "prepare"):
            backend.prepare()
        return backend

    def sources(self, options: Options) -> list[Any]:
        """The sound sources a job asks in order: its own choice, then the fallbacks (library, kit,
        synthesizer; ``auto`` starts at the library only when one is configured). A fallback not loaded
        yet comes as a :class:`bridge.sounding.Deferred` that loads when an event first needs it."""
        from bridge.sounding import Deferred
        from models.backends import chain, settings_of
        from models.library_backend import library_configured

        self.start_loading()
        configured = options.backend == "auto" and library_configured(options.library)
        out: list[Any] = []
        for name in chain(options.backend, configured):
            settings = settings_of(name, options)
            pending = self._preload.get(name)
            if out and (name, settings) not in self._backends and (pending is None or not pending.done()):
                out.append(Deferred(name, functools.partial(self._source, name, settings)))
            else:
                out.append(self._source(name, settings))
        return out

    def _source(self, name: str, settings: tuple[tuple[str, Any], ...]) -> Any:
        pending = self._preload.get(name)
        if pending is not None:
            pending.result()
        return self._load_backend(name, settings)

    def run(self, request: Request, progress: Progress | None = None,
            cancel: threading.Event | None = None) -> FoleyResult:
        return _Job(self, request, progress, cancel).run()


_blas = threading.Lock()
_blas_jobs = 0
_blas_limits: Any = None


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """While any job runs, numpy's BLAS (OpenBLAS) uses one thread. A job already keeps the cores busy
    with its own threads (decoding, flow, pictures, sounds), and OpenBLAS's extra threads spin while they
    wait: they took half the CPU time of the recognizer's matrix products and gave back no wall time
    (``bench/speed.py``). The setting is the process's; the one before the first job is restored when
    the last running job ends."""
    global _blas_jobs, _blas_limits
    from threadpoolctl import threadpool_limits

    with _blas:
        if _blas_jobs == 0:
            _blas_limits = threadpool_limits(limits=1, user_api="blas")
        _blas_jobs += 1
    try:
        yield
    finally:
        with _blas:
            _blas_jobs -= 1
            if _blas_jobs == 0:
                _blas_limits.restore_original_limits()
                _blas_limits = None


def default_output_dir(request: Request) -> Path:
    first = Path(request.items[0].path)
    return first.with_name(first.stem + ".foley")


class _Job:
    def __init__(self, engine: Engine, request: Request, progress: Progress | None,
                 cancel: threading.Event | None) -> None:
        self.engine = engine
        self.request = request
        self.options = request.options
        self._progress = progress
        self.cancel = cancel or threading.Event()
        #: Per span (by id): the recognizer's look at a few frames, taken while the detector works.
        self.looks: dict[int, Future] = {}
        #: Per span (by id): colour frames kept by the detector's decoding pass (models.stills.FrameStore).
        self.stores: dict[int, Any] = {}
        self._look_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="foley-look")

    def report(self, stage: str, fraction: float) -> None:
        if self._progress is not None:
            lo, hi = STAGES[stage]
            self._progress(stage, lo + (hi - lo) * min(max(fraction, 0.0), 1.0))

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("job cancelled")

    # -- stages -------------------------------------------------------------------------------
    def probe(self) -> list[ItemInfo]:
        from models.video import probe

        spans = []
        for i, item in enumerate(self.request.items):
            info = probe(item.path)
            start = item.source_in_s if item.source_in_s is not None else 0.0
            end = item.source_out_s if item.source_out_s is not None else info.duration_s
            tol = 1.0 / info.fps
            if not (0 <= start < info.duration_s and start < end <= info.duration_s + tol):  # NaN fails too
                raise InputError(
                    f"range {start:.3f}-{end:.3f} s is outside {Path(item.path).name!r}, which runs "
                    f"0-{info.duration_s:.3f} s; give START < END within the clip")
            end = min(end, info.duration_s)
            record = item.record_in_s if item.record_in_s is not None else start
            spans.append(ItemInfo(item=item, info=info, start_s=start, end_s=end, record_in_s=record))
            self.report("probe", (i + 1) / len(self.request.items))
        return spans

    def analyze(self, spans: list[ItemInfo]) -> list[tuple[ItemInfo, Event, float]]:
        from models.understand import frame_store
        from models.video import keeping

        detector = self.engine.detector(self.options.precision)
        found = []
        total = sum(s.end_s - s.start_s for s in spans)
        done = 0.0
        for span in spans:
            length = span.end_s - span.start_s

            def on_progress(f: float, done: float = done, length: float = length) -> None:
                self.report("analyze", (done + f * length) / total)

            # One decoding pass: the detector's also keeps the colour frames the understand stage reads.
            store = self.stores[id(span)] = frame_store(span.info, span.start_s, span.end_s, length / total)

            def start_look(span: ItemInfo = span) -> None:
                self.engine.start_loading()
                self.looks[id(span)] = self._look_pool.submit(self._look, span)

            try:
                if self.engine.cold_start and not self.engine.loading_started and analysis_worker.available():
                    # Fork before any model loads, then load the models here while the worker analyses.
                    detection = analysis_worker.detect_in_worker(detector, span.info, span.start_s, span.end_s,
                                                                 on_progress, self.cancel,
                                                                 after_fork=start_look, keep=store)
                else:
                    start_look()
                    with keeping(store):
                        detection = detector.detect(span.info, span.start_s, span.end_s, progress=on_progress,
                                                    cancel=self.cancel)
            finally:
                store.close()
            span.shots = list(detection.shots)
            for ev in detection.events:
                if ev.kind in self.options.kinds:
                    found.append((span, ev, span.record_in_s + (ev.time_s - span.start_s)))
            done += length
        found.sort(key=lambda t: (t[2], t[1].kind))
        for n, (_, ev, _) in enumerate(found, start=1):
            ev.id = n
        return found

    def understand(self, spans: list[ItemInfo], found: list[tuple[ItemInfo, Event, float]]) -> None:
        """What each event sounds like: UCS category, label, material, scene (models.understand)."""
        from models.prompt import parse
        from models.understand import understand

        if not found:
            return
        prompt = parse(self.options.prompt) if self.options.prompt is not None else None
        recognizer = self.engine.recognizer()
        for span in spans:
            events = [ev for s, ev, _ in found if s is span]
            pending = self.looks.get(id(span))
            seen = pending.result() if pending is not None and events else None
            understand(recognizer, span.info, events, span.shots, prompt, seen=seen,
                       store=self.stores.pop(id(span), None))
        self._look_pool.shutdown(wait=False)
        self.stores.clear()

    def _look(self, span: ItemInfo) -> Any:
        """A few frames of the span, classified while the detector works (models.understand.look): taken
        from the span's store as the decoding pass reaches them."""
        from models.understand import look

        if self.cancel.is_set():
            return None
        return look(self.engine.recognizer(), span.info, span.start_s, span.end_s, self.stores.get(id(span)))

    def run(self) -> FoleyResult:
        try:
            with one_blas_thread():
                return self._run()
        finally:  # also on a cancel, an error or no events: no look goes on after its job
            self._look_pool.shutdown(wait=False, cancel_futures=True)
            self.stores.clear()

    def _run(self) -> FoleyResult:
        self.check_cancel()
        self.request.check_paths()
        spans = self.probe()
        check_span(spans)
        out_dir = Path(self.request.output_dir) if self.request.output_dir else default_output_dir(self.request)
        out_dir = out_dir.absolute()
        check_output_dir(out_dir)
        found = self.analyze(spans)
        self.check_cancel()
        self.understand(spans, found)
        self.check_cancel()
        try:
            tmp = make_temp_dir(out_dir)
        except OSError as exc:
            raise write_error(out_dir, exc) from None
        try:
            result = self.make_outputs(tmp, out_dir, spans, found)
            self.check_cancel()
            self.request.check_paths()
            replace_dir(tmp, out_dir)
        except OSError as exc:  # a full disk, a folder gone read-only: one clear line, nothing left
            shutil.rmtree(tmp, ignore_errors=True)
            raise write_error(out_dir, exc) from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.report("write", 1.0)
        return result

    def render_clips(self, tmp: Path, found: list[tuple[ItemInfo, Event, float]]) -> list[Rendered]:
        """Make each event's sound and write its clip at once, so no clip audio stays in memory."""
        from bridge import mixing
        from bridge.bwf import ucs_ixml, write_bwf
        from bridge.sounding import SoundChain

        chain = SoundChain(self.engine.sources(self.options), self.options.seed, room=self.options.room)
        tl_start = self.request.timeline_start_s
        (tmp / "clips").mkdir()
        done = 0
        count_lock = threading.Lock()

        def make(item: tuple[ItemInfo, Event, float], chosen: Sound) -> Rendered | None:
            nonlocal done
            span, ev, rec_t = item
            self.check_cancel()
            sound = chain.shape(ev, chosen, SAMPLE_RATE)
            clip = mixing.render_clip(sound, ev.x, self.options.spatial)
            snap = sound.snap_offset_s
            clip_start = rec_t - snap
            floor = max(span.record_in_s, tl_start)
            if clip_start < floor:  # the event is too close to the start: trim the clip's head
                cut = round((floor - clip_start) * SAMPLE_RATE)
                clip = clip[:, cut:]
                snap = max(0.0, snap - cut / SAMPLE_RATE)
                clip_start = floor
            with count_lock:
                done += 1
                self.report("sound", done / max(1, len(found)))
            if clip.shape[1] == 0:
                return None
            ev.snap_offset_s = snap
            ev.clip = f"clips/{ev.id:04d}_{ev.kind}.wav"
            sync = min(round(snap * SAMPLE_RATE), clip.shape[1])  # the transient: a cue point and iXML
            write_bwf(tmp / ev.clip, clip, SAMPLE_RATE, time_reference=round(clip_start * SAMPLE_RATE),
                      description=f"foley-bridge {ev.kind} #{ev.id}: {sound.description}", cue_sample=sync,
                      ixml=ucs_ixml(ev.ucs or _kind_ucs(ev.kind), ev.label or ev.kind, sound.description, sync))
            return Rendered(span=span, event=ev, clip=ev.clip, record_time_s=rec_t, clip_start_s=clip_start,
                            samples=clip.shape[1], backend=sound.backend, source=sound.source,
                            fallback=sound.fallback, loudness_lufs=sound.loudness_lufs,
                            description=sound.description, gain_db=mixing.gain_db_of(sound),
                            pan=mixing.pan_of(ev.x) if self.options.spatial else 0.0)

        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="foley-sound") as pool:
            if chain.thread_safe:  # sources without per-job state: whole events on two threads
                return [r for r in pool.map(lambda item: make(item, chain.choose(item[1], SAMPLE_RATE)), found)
                        if r is not None]
            # Recordings avoid repeats in time order: sounds are chosen here one event after another, and
            # set to level, placed in their room and written on two threads (at most SHAPING_AHEAD waiting).
            futures: list[Future] = []
            for n, item in enumerate(found):
                self.check_cancel()
                if n >= SHAPING_AHEAD:
                    futures[n - SHAPING_AHEAD].result()
                futures.append(pool.submit(make, item, chain.choose(item[1], SAMPLE_RATE)))
            return [r for f in futures if (r := f.result()) is not None]

    def make_outputs(self, tmp: Path, out_dir: Path, spans: list[ItemInfo],
                     found: list[tuple[ItemInfo, Event, float]]) -> FoleyResult:
        from bridge.timeline import Placement, assign_tracks, build_timeline, placements_from_timeline, write_exports

        rendered = self.render_clips(tmp, found)
        placements = []
        for r in rendered:
            meta = r.event.to_json()
            meta.pop("speed_profile", None)
            meta.update({"record_time_s": r.record_time_s, "source_video": r.span.info.path,
                         "backend": r.backend, "sound_source": r.source, "fallback": r.fallback,
                         "description": r.description,
                         "gain_db": r.gain_db, "pan": r.pan})
            placements.append(Placement(
                event_id=r.event.id, kind=r.event.kind, track="", path=str(out_dir / r.clip),
                record_in_s=r.clip_start_s, duration_s=r.samples / SAMPLE_RATE,
                snap_offset_s=r.event.snap_offset_s, gain_db=r.gain_db, pan=r.pan, metadata=meta))
        assign_tracks(placements, KIND_TRACKS, [self.request.fps or spans[0].info.fps])
        for p, r in zip(placements, rendered):
            r.event.track = p.track
            p.metadata.update({"track": p.track, "clip": r.event.clip})

        picture_rate = self.request.fps or spans[0].info.fps
        name = self.request.name or Path(self.request.items[0].path).stem
        timeline = build_timeline(f"{name} foley", placements, list(KIND_TRACKS.values()),
                                  self.request.timeline_start_s, SAMPLE_RATE, picture_rate)
        self.check_cancel()
        loudness = self.write_mix(tmp, spans, rendered)
        exports = write_exports(timeline, tmp, self.options.formats, picture_rate)
        sources = [dict(s.info.to_json(), range_s=[s.start_s, s.end_s], record_in_s=s.record_in_s)
                   for s in spans]
        events_doc = {"version": 1, "source": spans[0].info.to_json(), "sources": sources,
                      "options": self.options.to_dict(), "events": [_event_json(r) for r in rendered]}
        # The timeline refers to the final folder; the placements are read back from it.
        result: dict[str, Any] = {"otio": str(out_dir / "foley.otio"), "events": str(out_dir / "events.json"),
                  "output_dir": str(out_dir), "mix": str(out_dir / "mix.wav"),
                  "exports": [str(out_dir / e) for e in exports],
                  "tracks": tracks_json(),
                  "placements": placements_from_timeline(timeline)}
        _add_sound_sources(result, rendered)
        result["loudness"] = loudness
        if len(loudness["mix"]) > 1:
            result["mixes"] = [str(out_dir / m["file"]) for m in loudness["mix"]]
        (tmp / "events.json").write_text(json.dumps(events_doc, indent=2), encoding="utf-8")
        (tmp / "result.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        return FoleyResult(output_dir=out_dir, events=[r.event for r in rendered], timeline=timeline,
                           result=result, sources=sources)

    def write_mix(self, tmp: Path, spans: list[ItemInfo], rendered: list[Rendered]) -> dict[str, Any]:
        """One stem per track, then the mix with the original audio ducked; returns their loudness.

        Items far apart on the timeline (more than MIX_GAP_S of nothing between them) get a mix part
        each (``mix.wav``, ``mix_2.wav``, ...; ``stems/TRACK.wav``, ``stems/TRACK_2.wav``, ...), each
        with its own BWF time reference, so memory and disk follow the content, not the span.
        Clips are read back in blocks: memory holds one part's mix and one stem; in parts up to
        STEM_OVERLAP_S long, two stems (one is limited, written and measured on a second thread while the
        next is summed); in parts up to STEMS_AT_ONCE_S long, all of them (finished two at a time beside
        the mix)."""
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="foley-write") as pool:
            return self._write_mix(tmp, spans, rendered, pool)

    def _write_mix(self, tmp: Path, spans: list[ItemInfo], rendered: list[Rendered],
                   pool: ThreadPoolExecutor) -> dict[str, Any]:
        import soundfile as sf

        from bridge import mixing
        from bridge.bwf import write_bwf
        from models import levels
        from models.audio import decode_audio

        def finish(stem: np.ndarray, name: str, track: str, start_ref: int) -> dict[str, Any]:
            """Limit, write and measure a stem (the true peak and loudness release the interpreter lock)."""
            peak = mixing.limited_true_peak(stem, levels.CLIP_TRUE_PEAK_DBTP)
            write_bwf(tmp / name, stem, SAMPLE_RATE, time_reference=start_ref,
                      description=f"foley-bridge stem {track}")
            return _loudness(name, stem, peak)

        (tmp / "stems").mkdir()
        item_ranges = [(s.record_in_s, s.record_in_s + s.end_s - s.start_s) for s in spans]
        parts = mixing.islands(item_ranges, MIX_GAP_S)
        tracks = sorted({r.event.track for r in rendered if r.event.track})
        report: dict[str, Any] = {"mix": [], "stems": {}}
        for k, (lo, hi) in enumerate(parts):
            suffix = "" if k == 0 else f"_{k + 1}"
            total = max(1, round((hi - lo) * SAMPLE_RATE))
            start_ref = round(lo * SAMPLE_RATE)
            inside = [r for r in rendered if lo <= r.clip_start_s < hi + 1e-9]
            mix = np.zeros((2, total), dtype=np.float32)
            # Stems finishing (limited, written, measured) while the next is summed: all of them in a short
            # part, one in a longer one, none in a very long one (memory).
            length = hi - lo
            in_flight = len(tracks) if length <= STEMS_AT_ONCE_S else 1 if length <= STEM_OVERLAP_S else 0
            pending: list[tuple[str, Future]] = []

            def collect(done: tuple[str, Future]) -> None:
                report["stems"].setdefault(done[0], []).append(done[1].result())

            for i, track in enumerate(tracks):
                self.check_cancel()
                while len(pending) > in_flight:
                    collect(pending.pop(0))
                stem = np.zeros((2, total), dtype=np.float32)
                for r in inside:
                    if r.event.track == track:  # read back in blocks: a bed can be as long as the part
                        at = round((r.clip_start_s - lo) * SAMPLE_RATE)
                        with sf.SoundFile(str(tmp / r.clip)) as clip:
                            for block in clip.blocks(blocksize=MIX_READ_FRAMES, dtype="float32", always_2d=True):
                                mixing.mix_into(stem, block.T, at)
                                at += len(block)
                mix += stem
                pending.append((track, pool.submit(finish, stem, f"stems/{track}{suffix}.wav", track, start_ref)))
                del stem
                self.report("write", 0.8 * (k + (i + 1) / max(1, len(tracks))) / len(parts))
            has_audio = False
            for span, (a, b) in zip(spans, item_ranges):
                if a >= hi or b <= lo or not span.info.has_audio or self.options.music_suppression >= 1.0:
                    continue
                original = decode_audio(span.info.path, span.start_s, span.end_s, SAMPLE_RATE)
                if original is not None:
                    has_audio = True
                    mixing.mix_into(mix, mixing.duck(original, self.options.music_suppression),
                                    round((a - lo) * SAMPLE_RATE))
            peak = mixing.limited_true_peak(mix, levels.CLIP_TRUE_PEAK_DBTP)
            name = f"mix{suffix}.wav"
            written = pool.submit(write_bwf, tmp / name, mix, SAMPLE_RATE, time_reference=start_ref,
                                  description="foley-bridge mix" + (" with the original audio" if has_audio else ""))
            report["mix"].append(_loudness(name, mix, peak))  # measured while it is written
            written.result()
            for done in pending:
                collect(done)
            del mix
        self.report("write", 0.9)
        return report


#: Events whose chosen sound waits to be shaped and written (bounds the audio held in memory).
SHAPING_AHEAD = 8

#: Frames of a clip read back at a time into its stem.
MIX_READ_FRAMES = 1 << 18

#: What the sound and write stages import (OpenTimelineIO and its adapters, soundfile: about 0.5 s of CPU):
#: the loading thread imports them after the models, so a cold run pays that while the video decodes
#: instead of after it.
OUTPUT_MODULES = ("bridge.sounding", "bridge.mixing", "bridge.bwf", "bridge.timeline", "models.levels",
                  "models.space", "models.dsp", "models.audio", "soundfile")


def _import_output_modules() -> None:
    import importlib

    for name in OUTPUT_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as exc:  # the stage that needs it reports it
            log.debug("could not import %s ahead: %s", name, exc)


def check_span(spans: list[ItemInfo]) -> None:
    """Refuse a request whose items spread over more than MAX_TIMELINE_S of timeline (before any work)."""
    lo = min(s.record_in_s for s in spans)
    hi = max(s.record_in_s + s.end_s - s.start_s for s in spans)
    if hi - lo > MAX_TIMELINE_S:
        raise InputError(f"the items span {(hi - lo) / 3600:.1f} h of timeline; at most {MAX_TIMELINE_S / 3600:.0f} h "
                         "is supported: send items that far apart as separate jobs")


def _loudness(name: str, audio: np.ndarray, true_peak_db: float) -> dict[str, Any]:
    """A written stem's or mix's integrated loudness (LUFS, BS.1770) and its true peak (dBTP, 4x, as
    measured when it was limited)."""
    from models import levels

    return {"file": name, "lufs": round(levels.loudness_lufs(audio, SAMPLE_RATE), 2),
            "true_peak_dbtp": round(true_peak_db, 2)}


@dataclass
class Rendered:
    """An event whose clip is written: where it sits and what made it (no audio kept)."""

    span: ItemInfo
    event: Event
    clip: str  # the written clip's path relative to the job folder (also in event.clip)
    record_time_s: float
    clip_start_s: float
    samples: int
    backend: str
    source: str | None
    description: str
    gain_db: float
    pan: float
    fallback: str | None = None
    loudness_lufs: float | None = None


def _add_sound_sources(result: dict[str, Any], rendered: list[Rendered]) -> None:
    """Each placement's sound source and fallback reason; the credit lines of the kit recordings used."""
    from models.kit import credit_lines

    by_id = {r.event.id: r for r in rendered}
    for p in result["placements"]:
        r = by_id.get(p.get("id"))
        if r is not None:
            p.update(backend=r.backend, sound_source=r.source, fallback=r.fallback)
    kit_files = [r.source for r in rendered if r.backend == "kit" and r.source]
    credits = credit_lines(kit_files)
    if credits:
        result["credits"] = credits


def _kind_ucs(kind_name: str) -> dict[str, str] | None:
    """The generic UCS fields of an event kind, for a clip whose event has none of its own."""
    from bridge.kinds import kind
    from models import ucs

    try:
        return ucs.ref(kind(kind_name).cat_id)
    except (KeyError, InputError):
        return None


def _event_json(r: Rendered) -> dict[str, Any]:
    d = r.event.to_json()
    d.pop("speed_profile", None)
    d["backend"] = r.backend
    d["sound_source"] = r.source
    d["fallback"] = r.fallback
    d["loudness_lufs"] = r.loudness_lufs
    return d
