"""Listen to and look at augmented views of a clip next to the original (notebook 03)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as w
import numpy as np
import traitlets

from workbench.errors import ParameterError

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def describe(params: dict[str, Any]) -> str:
    """The drawn parameters of one view (:func:`workbench.augment.augment`) in words.

    For example ``pitch -1.34 st · gain -3.8 dB · noise 0.0080``; transforms not applied are left out.

    Parameters
    ----------
    params : dict
        The parameters of one view, ``{transform: {"should_apply": bool, <field>: value}}``
        for ``pitch_shift`` (semitones), ``time_stretch`` (rate), ``gain`` (dB), ``noise``
        (amplitude); missing transforms count as not applied.

    Returns
    -------
    str
        The applied transforms joined by " · ", or "no change drawn".
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


def preview_figure(y: np.ndarray, views: list[tuple[np.ndarray, dict[str, Any]]], *, sr: int) -> Figure:
    """Mel spectrograms of the original clip and each view, titled with the drawn parameters.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        The original clip, mono samples.
    views : list of (np.ndarray [shape=(m,)], dict)
        Augmented clips and their drawn parameters (see :func:`describe`).
    sr : int > 0
        Sample rate in Hz.

    Returns
    -------
    matplotlib.figure.Figure
        One row per clip (original first), time in seconds on the x axis, frequency in Hz (mel
        scale) on the y axis, and one colour bar of the power in dB for every row.

    Raises
    ------
    ParameterError
        If ``views`` is empty.
    """
    from matplotlib.figure import Figure

    from workbench.widgets.trackaudio import mel_band_position, mel_db

    if not views:
        raise ParameterError("views is empty; make some with workbench.augment.augmented_views")
    clips = [(np.asarray(y, dtype=np.float32), "original")] + [(v, describe(p)) for v, p in views]
    fig = Figure(figsize=(11, 1.9 * len(clips)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(clips), 1, sharex=True))
    hop = 512
    ticks_hz = [f for f in (100, 500, 1000, 2000, 5000, 10000) if f < sr / 2]
    mels = [mel_db(clip, sr=sr, hop=hop) for clip, _ in clips]
    top = max(float(m.max()) for m in mels)  # one colour scale: a view's gain shows as a colour change
    for ax, (clip, title), m in zip(axes, clips, mels, strict=True):
        image = ax.imshow(m.T, origin="lower", aspect="auto", cmap="magma", vmin=top - 80.0, vmax=top,
                          extent=(0.0, len(clip) / sr, 0.0, float(m.shape[1])))
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_yticks([mel_band_position(f, sr=sr, n_mels=m.shape[1]) for f in ticks_hz],
                      [f"{f:g}" if f < 1000 else f"{f / 1000:g}k" for f in ticks_hz], fontsize=8)
        ax.set_ylabel("Hz", fontsize=8)
    fig.colorbar(image, ax=list(axes), pad=0.01, aspect=30).set_label("power (dB, one scale for every row)", fontsize=8)
    axes[-1].set_xlabel("time (s)")
    return fig


class AugmentPreview(w.VBox):
    """A widget: the spectrogram figure, then a player and the parameters for the original and each view.

    The state is traitlets (:attr:`sr`, :attr:`titles`); it is read-only once built, and the
    view (built in ``_build``) has no logic of its own.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        The original clip, mono samples.
    views : list of (np.ndarray [shape=(m,)], dict)
        Augmented clips and the parameters drawn for each, as returned by
        :func:`workbench.augment.augmented_views`.
    sr : int > 0
        Sample rate of ``y`` and the views, in Hz.

    Raises
    ------
    ParameterError
        If ``views`` is empty.
    """

    #: Sample rate of the clips in Hz.
    sr = traitlets.Int(0)
    #: One line per clip: "original", then the drawn parameters of each view in words.
    titles = traitlets.List(traitlets.Unicode())

    def __init__(self, y: np.ndarray, views: list[tuple[np.ndarray, dict[str, Any]]], *, sr: int) -> None:
        super().__init__()
        self.sr = sr
        self.titles = ["original"] + [describe(p) for _, p in views]
        self._build(y, views)

    def _build(self, y: np.ndarray, views: list[tuple[np.ndarray, dict[str, Any]]]) -> None:
        import html
        import io

        from workbench.widgets.trackaudio import wav_bytes

        buf = io.BytesIO()
        preview_figure(y, views, sr=self.sr).savefig(buf, format="png", dpi=80)
        clips = [y] + [v for v, _ in views]
        names = ["original"] + [f"view {i}: {t}" for i, t in enumerate(self.titles[1:], 1)]
        # HTML wraps a long name (a Label cut "view 1: pitch ... gain -2.9 dB" before its noise at 340 px)
        rows = [w.HBox([w.HTML(html.escape(name), layout=w.Layout(width="340px")),
                        w.Audio(value=wav_bytes(clip, sr=self.sr), format="wav", autoplay=False)])
                for name, clip in zip(names, clips, strict=True)]
        self.children = [w.Image(value=buf.getvalue(), format="png"), *rows]
        self.add_class("wb-augment-preview")
