"""Notes to a Standard MIDI File, rendered with the ``fluidsynth`` command and a GM soundfont.

The file runs at a fixed 120 BPM with 480 ticks per quarter, so one tick is 1/960 s and every
note lands within 0.5 ms of its :class:`~workbench.devset.compose.Note` time, whatever the
track's own (drifting, swung) tempo. Only the standard library writes it; FluidSynth runs as a
subprocess. Neither is needed outside the development set.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from workbench.devset.compose import Note, is_drum
from workbench.devset.styles import DevStyle

TICKS_PER_QUARTER = 480
TICKS_PER_S = 960  # at the file's fixed 120 BPM
#: Where Debian's fluid-soundfont-gm and similar packages put a General MIDI soundfont.
SOUNDFONTS: tuple[str, ...] = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
                               "/usr/share/soundfonts/FluidR3_GM.sf2", "/usr/share/soundfonts/default.sf2")
#: MIDI channel, volume (CC7) and pan (CC10) of each pitched role; drums use channel 10 (index 9).
CHANNELS: dict[str, tuple[int, int, int]] = {"bass": (0, 112, 64), "chords": (1, 78, 50), "lead": (2, 72, 80)}
DRUM_VOLUME = 120


def find_fluidsynth() -> tuple[str, str] | None:
    """``(fluidsynth executable, soundfont path)`` when both exist, else ``None``.

    ``WORKBENCH_SOUNDFONT`` names a soundfont elsewhere.
    """
    exe = shutil.which("fluidsynth")
    fonts = [os.environ.get("WORKBENCH_SOUNDFONT", ""), *SOUNDFONTS]
    font = next((f for f in fonts if f and Path(f).is_file()), None)
    return (exe, font) if exe and font else None


def _vlq(value: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def midi_bytes(notes: Sequence[Note], style: DevStyle, *, tuning_cents: float = 0.0) -> bytes:
    """A format-0 Standard MIDI File of ``notes``.

    Parameters
    ----------
    notes : sequence of Note
    style : DevStyle
        Its GM programs (bass, chords, lead) and drum kit.
    tuning_cents : float in [-200, 200]
        Pitch bend of every pitched channel (default bend range +-2 semitones), for detuned masters.
    """
    events: list[tuple[int, int, bytes]] = []  # (tick, order, message); order puts offs before ons
    bend = int(np.clip(round(8192 + tuning_cents / 200.0 * 8192), 0, 16383))
    setup = [bytes([0xFF, 0x51, 0x03]) + (500000).to_bytes(3, "big"),
             bytes([0xC9, style.kit]), bytes([0xB9, 7, DRUM_VOLUME])]
    programs = {"bass": style.bass_program, "chords": style.chord_program, "lead": style.lead_program}
    for role, (ch, volume, pan) in CHANNELS.items():
        setup += [bytes([0xC0 | ch, programs[role]]), bytes([0xB0 | ch, 7, volume]), bytes([0xB0 | ch, 10, pan]),
                  bytes([0xE0 | ch, bend & 0x7F, bend >> 7])]
    for msg in setup:
        events.append((0, 0, msg))
    for n in notes:
        ch = 9 if is_drum(n.role) else CHANNELS[n.role][0]
        on = int(round(n.time_s * TICKS_PER_S))
        off = max(on + 1, int(round((n.time_s + n.dur_s) * TICKS_PER_S)))
        events.append((on, 2, bytes([0x90 | ch, n.pitch, n.velocity])))
        events.append((off, 1, bytes([0x80 | ch, n.pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1]))
    track = bytearray()
    last = 0
    for tick, _, msg in events:
        track += _vlq(tick - last) + msg
        last = tick
    track += _vlq(TICKS_PER_S // 2) + bytes([0xFF, 0x2F, 0x00])
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_QUARTER)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def render_fluidsynth(notes: Sequence[Note], style: DevStyle, *, sr: int, n_samples: int, tuning_cents: float,
                      tools: tuple[str, str]) -> np.ndarray:
    """Render ``notes`` through FluidSynth; returns float32 ``(n_samples, 2)``, unnormalised.

    Chorus is off and reverb on (FluidSynth's defaults otherwise); the output is deterministic.

    Parameters
    ----------
    notes : sequence of Note
    style : DevStyle
        Picks the GM programs.
    sr : int > 0
        Sample rate in Hz.
    n_samples : int >= 0
        Output length; FluidSynth's output is cut or zero-padded to it.
    tuning_cents : float
        Detune of every pitched note, in cents.
    tools : tuple of str
        ``(executable, soundfont)`` from :func:`find_fluidsynth`.

    Returns
    -------
    np.ndarray [shape=(n_samples, 2), dtype=float32]
    """
    import soundfile as sf

    exe, font = tools
    with tempfile.TemporaryDirectory(prefix="devset-") as tmp:
        mid, wav = Path(tmp) / "t.mid", Path(tmp) / "t.wav"
        mid.write_bytes(midi_bytes(notes, style, tuning_cents=tuning_cents))
        cmd = [exe, "-n", "-i", "-q", "-C", "0", "-R", "1", "-g", "0.5", "-r", str(sr), "-O", "float", "-T", "wav",
               "-F", str(wav), font, str(mid)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0 or not wav.exists():
            raise RuntimeError(f"fluidsynth failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
        y, file_sr = sf.read(str(wav), dtype="float32", always_2d=True)
    if file_sr != sr:
        raise RuntimeError(f"fluidsynth wrote {file_sr} Hz; asked for {sr} Hz")
    out = np.zeros((n_samples, 2), dtype=np.float32)
    m = min(n_samples, y.shape[0])
    out[:m] = y[:m, :2]
    return out


def fluidsynth_version(exe: str) -> str:
    """FluidSynth's version line, e.g. ``"2.3.1"``.

    Parameters
    ----------
    exe : str
        The FluidSynth executable.

    Returns
    -------
    str
        The first word starting with a digit in ``--version``'s output, else ``"unknown"``.
    """
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30, check=False)
    for word in proc.stdout.split():
        if word[:1].isdigit():
            return word
    return "unknown"
