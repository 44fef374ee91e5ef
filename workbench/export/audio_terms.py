"""How an app must mix and scale the audio it feeds an audio-in model (stated in each input description,
the metadata and the card): shared by the window models (:mod:`~workbench.export.audio_in`) and the
whole-track model (:mod:`~workbench.export.track_in`)."""

from __future__ import annotations

#: The channel mix.
MONO_MIX = "mono: the mean of the channels"
#: The sample level.
LEVEL = "float32 at full scale +-1.0 (as AVAudioFile reads it), not normalised by the app"
