"""One-shot instrument buffers and a few effects, in numpy and ``scipy.signal`` only.

Every function returns a ``float32`` array: mono ``(n,)`` or stereo ``(n, 2)``. A buffer starts at
its onset (sample 0 is where the note or hit begins), so placing it at a beat's sample puts the
audible attack on that beat. Randomness comes only from the ``rng`` a caller passes in.
"""

from __future__ import annotations

# The instruments live in three sibling modules (issue 15: no module over 500 lines); every
# name, public and private, is re-exported here so ``from workbench.demo.instruments import X``
# and ``ins.X`` keep working.
from workbench.demo.drums import _METAL_HZ, bell, clap, crash, hat, kick, riser, snare
from workbench.demo.dsp import (
    F64,
    Buffer,
    _butter,
    _fade,
    _n,
    _peak,
    _time,
    envelope,
    filt,
    midi_hz,
    saw,
    sweep,
)
from workbench.demo.synths import VOWELS, additive, epiano, lead, saw_stack, synth_bass, vocal

__all__ = [
    "F64", "VOWELS", "Buffer", "_METAL_HZ", "_butter", "_fade", "_n", "_peak", "_time", "additive", "bell",
    "clap", "crash", "envelope", "epiano", "filt", "hat", "kick", "lead", "midi_hz", "riser", "saw",
    "saw_stack", "snare", "sweep", "synth_bass", "vocal",
]
