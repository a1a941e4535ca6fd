"""Library indexing and retrieval speed on a generated library of UCS-named WAV files.

    .venv/bin/python bench/library_index.py [--files 2000] [--workers N] [--events 200]

Prints indexing speed (files/s, first pass and the unchanged re-scan), search time per query
and the time LibraryBackend.render takes per event (selection alone, and selection + cut +
resample on a warm clip cache and on a cold one).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge import kinds  # noqa: E402
from bridge.event import Event  # noqa: E402
from models.library import LibraryIndex  # noqa: E402
from models.library_backend import LibraryBackend  # noqa: E402

CATIDS = ["FEETHmn", "FOLYFeet", "METLImpt", "WOODImpt", "GLASImpt", "DOORWood", "WHSHBy", "SWSHSwsh",
          "AMBRoom", "AMBUrbn"]
WORDS = ["gravel", "concrete", "wood", "metal", "glass", "heavy", "light", "fast", "slow", "boot", "sneaker",
         "pipe", "plank", "bottle", "slam", "pass", "room", "street", "snow", "leaves"]
KINDS = list(kinds.KINDS)


def make_library(root: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    sr = 44100  # resampled to 48 kHz when rendered, as most libraries need
    for i in range(n):
        cat = CATIDS[i % len(CATIDS)]
        words = " ".join(rng.choice(WORDS, size=2, replace=False))
        seconds = 2.0 if cat.startswith("AMB") else float(rng.uniform(0.3, 1.0))
        x = 0.003 * rng.standard_normal(int(seconds * sr))
        at = int(rng.uniform(0.0, 0.2) * sr)
        t = np.arange(len(x) - at) / sr
        x[at:] += rng.uniform(0.2, 0.9) * rng.uniform(-1, 1, len(t)) * np.exp(-t / rng.uniform(0.02, 0.2))
        sub = root / cat[:4]
        sub.mkdir(parents=True, exist_ok=True)
        sf.write(str(sub / f"{cat}_{words.title()} {i:04d}_BNCH_Gen.wav"), x.astype(np.float32), sr, subtype="PCM_16")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=None, help="analysis threads (default: min(4, cores))")
    ap.add_argument("--events", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "library"
        t0 = time.perf_counter()
        make_library(root, args.files)
        size_mb = sum(p.stat().st_size for p in root.rglob("*.wav")) / 1e6
        print(f"generated {args.files} WAV files ({size_mb:.0f} MB) in {time.perf_counter() - t0:.1f} s")

        index = LibraryIndex(Path(tmp) / "library.sqlite", workers=args.workers)
        report = index.add([root])
        print(f"index, first pass: {len(report.analysed)} files in {report.seconds:.2f} s = "
              f"{len(report.analysed) / report.seconds:.0f} files/s ({index.workers} threads)")
        again = index.add([root])
        print(f"index, unchanged re-scan: {again.scanned} files in {again.seconds:.3f} s = "
              f"{again.scanned / again.seconds:.0f} files/s")

        queries = ["gravel footsteps", "metal pipe impact", "glass", "fast whoosh", "room tone", "heavy wood door"]
        times = []
        for _ in range(5):
            for q in queries:
                t = time.perf_counter()
                index.search(q, limit=20)
                times.append((time.perf_counter() - t) * 1000)
        print(f"search: median {statistics.median(times):.2f} ms, max {max(times):.2f} ms per query")

        backend = LibraryBackend(library=[str(root)], index=index)
        backend.render(Event("impact", 0.0, 0.2, 0.9, id=10_000), 48000, 0)  # imports torch, loads lists
        rng = np.random.default_rng(1)
        events = [Event(KINDS[i % 3], 0.25 * i, 0.2, 0.9, intensity=float(rng.uniform()), id=i)
                  for i in range(args.events)]
        sel = []
        for e in events:
            t = time.perf_counter()
            backend.select(e, seed=0)
            sel.append((time.perf_counter() - t) * 1000)
        n_impact = len(backend.index.files(kind="impact", roots=backend.roots))
        print(f"selection per event ({n_impact} impact candidates): "
              f"median {statistics.median(sel):.3f} ms, max {max(sel):.3f} ms")
        cold = LibraryBackend(library=[str(root)], index=index)
        cold.render(Event("impact", 0.0, 0.2, 0.9, id=10_000), 48000, 0)
        ren_cold = []
        for e in events:
            t = time.perf_counter()
            cold.render(e, 48000, 0)
            ren_cold.append((time.perf_counter() - t) * 1000)
        ren_warm = []
        for e in events:
            t = time.perf_counter()
            cold.render(e, 48000, 0)
            ren_warm.append((time.perf_counter() - t) * 1000)
        print(f"render per event (select + read + resample + cut): cold median {statistics.median(ren_cold):.2f} ms, "
              f"warm (cached clip) median {statistics.median(ren_warm):.2f} ms")
        amb = Event("ambience", 0.0, 30.0, 0.9, intensity=0.5, id=99_999)
        cold.select(amb, seed=0)
        t = time.perf_counter()
        cold.render(amb, 48000, 0)
        print(f"render 30 s ambience: {(time.perf_counter() - t) * 1000:.1f} ms")
        index.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
