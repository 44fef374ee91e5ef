"""Fault tolerance of scan -> analyze -> embed on a folder of bad files mixed with good ones.

Run: ``.venv/bin/python benchmarks/bench_faults.py [--per-kind 3] [--seconds 6]``

Makes, in a temporary folder, ``--per-kind`` files of each kind below (bad ones, and good ones
that must survive: odd names, 6 channels), then runs each stage (``Library.scan``,
``analyze_library``, ``embed_library`` with the weight-free feature backbone) in its own
subprocess with a timeout, so a crash or a hang is counted instead of stopping the benchmark.

Table, one row per kind:

- ``N tried``: files of that kind;
- ``N clear errors``: files refused by some stage with a named reason (an AudioError's message
  or an OS cause; not a raw ``SomeError: ...`` text);
- ``N raw errors``: files refused with a caught but raw exception text (should be 0 too);
- ``N accepted``: files that went through every stage (expected for good kinds; for damage
  that leaves valid audio, e.g. a flipped PCM byte, it is right too);
- ``N crashes or hangs``: files of a stage whose subprocess died or ran past its timeout;
- ``N lost``: good files not in the library, analysed and embedded after the run.

Baseline: the workbench before issue 14 crashed the scan on a non-UTF-8 name (no scan
recorded), hung on a FIFO, and aborted analyze/embed on one 6-channel file or huge sample.
Target: 0 crashes or hangs, 0 lost.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

GOOD_KINDS = {"good wav", "good flac", "good ogg", "good mp3", "6-channel wav", "non-UTF-8 name", "symlink inside"}
_RAW = re.compile(r"^[A-Z]\w*(Error|Exception|Warning): ")


def _tone(seconds: float, sr: int, seed: int, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    beat = (np.sin(2 * np.pi * 2 * t) > 0.95).astype(np.float32)  # clicks at 120 BPM
    y = 0.3 * np.sin(2 * np.pi * (220 + 20 * seed) * t) + 0.5 * beat + 0.01 * rng.standard_normal(t.size)
    return np.repeat(y[:, None], channels, axis=1).astype(np.float32)


def _encoded(y: np.ndarray, sr: int, fmt: str, subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def make_folder(music: Path, *, per_kind: int, seconds: float, outside: Path) -> dict[str, list[str]]:
    """Write the files; return {kind: [path, ...]} (paths as os.fsdecode strings)."""
    rng = np.random.default_rng(0)
    kinds: dict[str, list[str]] = {}
    sr = 22050

    def add(kind: str, name: str | bytes, data: bytes | None = None) -> Path:
        raw = os.path.join(os.fsencode(music), os.fsencode(name))
        if data is not None:
            with open(raw, "wb") as fh:
                fh.write(data)
        kinds.setdefault(kind, []).append(os.fsdecode(raw))
        return Path(os.fsdecode(raw))

    for i in range(per_kind):
        s = 100 + 10 * i
        y = _tone(seconds, sr, s)
        add("good wav", f"good{i}.wav", _encoded(y, sr, "WAV", "PCM_16"))
        add("good flac", f"good{i}.flac", _encoded(_tone(seconds, sr, s + 1), sr, "FLAC"))
        add("good ogg", f"good{i}.ogg", _encoded(_tone(seconds, sr, s + 2), sr, "OGG", "VORBIS"))
        add("good mp3", f"good{i}.mp3", _encoded(_tone(seconds, sr, s + 3), sr, "MP3"))
        add("6-channel wav", f"surround{i}.wav", _encoded(_tone(seconds, sr, s + 4, channels=6), sr, "WAV", "PCM_16"))
        add("non-UTF-8 name", b"caf\xe9" + str(i).encode() + b"\xff.flac", _encoded(_tone(seconds, sr, s + 5), sr, "FLAC"))
        (music / ".hidden").mkdir(exist_ok=True)
        target = music / ".hidden" / f"target{i}.wav"
        target.write_bytes(_encoded(_tone(seconds, sr, s + 6), sr, "WAV", "PCM_16"))
        os.symlink(target, add("symlink inside", f"link{i}.wav"))
        for fmt, sub, suf in (("FLAC", None, "flac"), ("OGG", "VORBIS", "ogg"), ("MP3", None, "mp3"),
                              ("WAV", "PCM_16", "wav"), ("OGG", "OPUS", "opus")):
            rate = 48000 if suf == "opus" else sr
            data = _encoded(_tone(seconds, rate, s + 7), rate, fmt, sub)
            add(f"truncated {suf}", f"cut{i}.{suf}", data[: int(len(data) * (0.4 + 0.15 * i))])
        data = bytearray(_encoded(_tone(seconds, sr, s + 8), sr, "FLAC"))
        for j in rng.integers(40, len(data), 8):
            data[j] ^= 0xFF
        add("flipped bytes flac", f"flip{i}.flac", bytes(data))
        add("random bytes", f"noise{i}.mp3", rng.bytes(4096))
        add("text named .wav", f"notes{i}.wav", b"just some notes\n" * 50)
        add("empty file", f"empty{i}.ogg", b"")
        huge = _tone(seconds, sr, s + 9)
        huge[100 + i, 0] = 3e18
        add("huge float sample", f"huge{i}.wav", _encoded(huge, sr, "WAV", "FLOAT"))
        nan = _tone(seconds, sr, s + 10)
        nan[200 + i, 0] = np.nan
        add("NaN float sample", f"nan{i}.wav", _encoded(nan, sr, "WAV", "FLOAT"))
        silent = np.zeros((int(seconds * sr) + i, 1), np.float32)  # lengths differ: not duplicates
        add("silent wav", f"silent{i}.wav", _encoded(silent, sr, "WAV", "PCM_16"))
        add("too short (1 s)", f"short{i}.wav", _encoded(_tone(1.0, sr, s + 11), sr, "WAV", "PCM_16"))
        os.mkfifo(add("FIFO", f"pipe{i}.wav"))
        os.symlink("/dev/zero", add("symlink to /dev/zero", f"zero{i}.flac"))
        far = outside / f"far{i}.wav"
        far.write_bytes(_encoded(_tone(seconds, sr, s + 12), sr, "WAV", "PCM_16"))
        os.symlink(far, add("symlink outside", f"far{i}.wav"))
        os.symlink(music / f"nowhere{i}.wav", add("broken symlink", f"broken{i}.wav"))
    return kinds


# -- the worker: one stage, in its own process ---------------------------------------------------
def worker(stage: str, db: str, folder: str) -> None:
    from workbench.library import Library

    with Library(db) as lib:
        if stage == "scan":
            s = lib.scan(folder, progress=False)
            failed = [(f.path, f.reason) for f in s.failed]
            out = {"failed": failed}
        elif stage == "analyze":
            from workbench.analysis import analyze_library

            out = {"failed": analyze_library(lib, progress=False).failed}
        else:
            from workbench.embed.batch import embed_library
            from workbench.embed.features import FeatureFrontend

            out = {"failed": embed_library(lib, backbone=FeatureFrontend(), progress=False).failed}
        out["tracks"] = [t.path for t in lib.tracks()]
    sys.stdout.write(json.dumps(out, ensure_ascii=True) + "\n")  # surrogates escape as \\udcXX, round-trip


def run_stage(stage: str, db: Path, folder: Path, timeout_s: float) -> tuple[dict | None, str]:
    cmd = [sys.executable, __file__, "--worker", stage, str(db), str(folder)]
    env = {**os.environ, "NUMBA_CPU_NAME": os.environ.get("NUMBA_CPU_NAME", "generic")}
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env,
                           errors="surrogateescape")
    except subprocess.TimeoutExpired:
        return None, f"hang: still running after {timeout_s:.0f} s"
    if p.returncode != 0:
        return None, f"crash (exit {p.returncode}): {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ''}"
    return json.loads(p.stdout.strip().splitlines()[-1]), ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-kind", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=6.0, help="length of each generated file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root, outside = Path(tmp) / "ws", Path(tmp) / "outside"
        music = root / "music"
        music.mkdir(parents=True)
        outside.mkdir()
        kinds = make_folder(music, per_kind=args.per_kind, seconds=args.seconds, outside=outside)
        n_files = sum(len(v) for v in kinds.values())
        db = root / "data" / "workbench.db"
        failures: dict[str, str] = {}
        crashed: dict[str, str] = {}
        tracks: set[str] = set()
        seconds: dict[str, float] = {}
        for stage in ("scan", "analyze", "embed"):
            t0 = time.perf_counter()
            out, why = run_stage(stage, db, music, timeout_s=60 + 5 * n_files)
            seconds[stage] = time.perf_counter() - t0
            if out is None:
                crashed[stage] = why
                continue
            for path, reason in out["failed"]:
                failures.setdefault(path, f"{stage}: {reason}")
            tracks = set(out["tracks"])

        rows = []
        for kind, paths in kinds.items():
            clear = sum(1 for p in paths if p in failures and not _RAW.match(failures[p].split(": ", 1)[1]))
            raw = sum(1 for p in paths if p in failures and _RAW.match(failures[p].split(": ", 1)[1]))
            accepted = sum(1 for p in paths if p not in failures and p in tracks)
            crashes = len(paths) if crashed else 0
            lost = sum(1 for p in paths if p in failures or p not in tracks) if kind in GOOD_KINDS else 0
            example = next((failures[p] for p in paths if p in failures), "")
            rows.append((kind, len(paths), clear, raw, accepted, crashes, lost, example))

        print(f"bench_faults: {n_files} files ({args.per_kind} per kind, {args.seconds:g} s each); "
              f"stage seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))
        for stage, why in crashed.items():
            print(f"  STAGE {stage}: {why}")
        head = ("kind", "N tried", "N clear errors", "N raw errors", "N accepted", "N crashes or hangs", "N lost")
        print("| " + " | ".join(head) + " | first reason |")
        print("|" + "---|" * (len(head) + 1))
        for r in rows:
            reason = r[7].encode("utf-8", "backslashreplace").decode()[:90]
            print("| " + " | ".join(str(v) for v in r[:7]) + f" | {reason} |")
        total = [sum(r[i] for r in rows) for i in range(1, 7)]
        print("| **total** | " + " | ".join(str(v) for v in total) + " | |")
        ok = total[4] == 0 and total[5] == 0 and total[2] == 0
        print("target (0 crashes or hangs, 0 raw errors, 0 lost):", "met" if ok else "NOT met")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main()
