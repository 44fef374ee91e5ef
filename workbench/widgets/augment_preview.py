"""Listen to and look at augmented views of a clip next to the original (notebook 03)."""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.errors import ParameterError


def describe(params: dict[str, Any]) -> str:
    """The drawn parameters of one view (:func:`workbench.augment.augment`) in words.

    For example ``pitch -1.34 st · gain -3.8 dB · noise 0.0080``; transforms not applied are left out.
    """
    parts = []
    for key, field, label, fmt in (("pitch_shift", "num_semitones", "pitch", "{:+.2f} st"),
                                   ("time_stretch", "rate", "stretch", "{:.3f}x"),
                                   ("gain", "gain_db", "gain", "{:+.1f} dB"),
                                   ("noise", "amplitude", "noise", "{:.4f}")):
        part = params.get(key) or {}
        if part.get("should_apply") and part.get(field) is not None:
            parts.append(f"{label} {fmt.format(part[field])}")
    return " · ".join(parts) or "no change drawn"


def preview_figure(y: np.ndarray, views: list[tuple[np.ndarray, dict[str, Any]]], *, sr: int) -> Any:
    """Mel spectrograms of the original clip and each view, titled with the drawn parameters."""
    from matplotlib.figure import Figure

    from workbench.widgets.trackview import mel_db

    if not views:
        raise ParameterError("views is empty; make some with workbench.augment.augmented_views")
    clips = [(np.asarray(y, dtype=np.float32), "original")] + [(v, describe(p)) for v, p in views]
    fig = Figure(figsize=(11, 1.9 * len(clips)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(clips), 1, sharex=True))
    hop = 512
    for ax, (clip, title) in zip(axes, clips, strict=True):
        m = mel_db(clip, sr=sr, hop=hop)
        ax.imshow(m.T, origin="lower", aspect="auto", cmap="magma",
                  extent=(0.0, len(clip) / sr, 0.0, float(m.shape[1])))
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_yticks([])
    axes[-1].set_xlabel("time (s)")
    return fig


def AugmentPreview(y: np.ndarray, views: list[tuple[np.ndarray, dict[str, Any]]], *, sr: int) -> Any:  # noqa: N802
    """A widget: the spectrogram figure, then a player and the parameters for the original and each view."""
    import io

    import ipywidgets as w

    from workbench.widgets.trackview import wav_bytes

    buf = io.BytesIO()
    preview_figure(y, views, sr=sr).savefig(buf, format="png", dpi=80)
    rows = [w.HBox([w.Label("original", layout=w.Layout(width="340px")),
                    w.Audio(value=wav_bytes(y, sr=sr), format="wav", autoplay=False)])]
    for i, (v, p) in enumerate(views, 1):
        rows.append(w.HBox([w.Label(f"view {i}: {describe(p)}", layout=w.Layout(width="340px")),
                            w.Audio(value=wav_bytes(v, sr=sr), format="wav", autoplay=False)]))
    box = w.VBox([w.Image(value=buf.getvalue(), format="png"), *rows])
    box.add_class("wb-augment-preview")
    return box
