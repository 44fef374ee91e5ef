"""The composer: a track's random stream, grid, sections and harmony, and the note events on its layers.

:meth:`Composer.perform` plays every section: each part its role names (:mod:`workbench.demo.parts`:
patterns, and the builders of drums, bass, chords and melodies, inherited by :class:`Composer`)
adds its hits bar by bar through :meth:`Composer.hit`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from workbench.demo.arrange import STEPS_PER_BAR, Grid, Harmony, Section
from workbench.demo.parts import Part, Parts, parse  # noqa: F401  (re-exported: patterns and parts moved there)
from workbench.demo.render import Buffer, Layer


class Composer(Parts):
    """Holds a track's random stream, grid, sections and harmony, and collects layer events.

    Its part builders (``drums``, ``bass``, ``pad``, ...) come from :class:`~workbench.demo.parts.Parts`.
    """

    def __init__(self, rng: np.random.Generator, grid: Grid, sections: Sequence[Section], harmony: Harmony) -> None:
        self.rng = rng
        self.grid = grid
        self.sr = grid.sr
        self.sections = list(sections)
        self.harmony = harmony
        self.layers: dict[str, Layer] = {}

    # ------------------------------------------------------------------------------ plumbing

    def layer(self, name: str, make: Callable[[Any], Buffer], *, gain: float = 1.0, pan: float = 0.0,
              duck: float = 0.0, delay: float = 0.0, sweep: bool = False) -> Layer:
        """Register a layer (mix order is registration order); options as in :class:`Layer`.

        Parameters
        ----------
        name : str
            The layer's name, unique per track.
        make : callable
            ``make(key)`` builds the one-shot for an event key.
        gain : float
            Linear gain.
        pan : float in [-1, 1]
            -1 left, 1 right.
        duck : float in [0, 1]
            Sidechain depth under the kick.
        delay : float >= 0
            Send to the eighth-note ping-pong delay.
        sweep : bool
            Open a low-pass across build sections.

        Returns
        -------
        Layer
        """
        layer = Layer(name, make, gain=gain, pan=pan, duck=duck, delay=delay, sweep=sweep)
        self.layers[name] = layer
        return layer

    def hit(self, name: str, section: Section, b: int, step: float, key: Hashable, gain: float) -> None:
        """One event at ``step`` of bar ``b`` of ``section``; gains rise 0.7 -> 1 across builds.

        Parameters
        ----------
        name : str
            The layer.
        section : Section
        b : int >= 0
            Bar within the section.
        step : float
            Sixteenth within the bar (fractional allowed).
        key : hashable
            The event key the layer's ``make`` renders.
        gain : float
            Linear gain before the build ramp.
        """
        if section.label == "build":
            gain *= 0.7 + 0.3 * (b + step / STEPS_PER_BAR) / section.n_bars
        self.layers[name].events.append((self.grid.step_sample(section.start_bar + b, step), key, gain))

    def perform(self, roles: dict[str, dict[str, float]], parts: dict[str, Part]) -> list[Layer]:
        """Play every section: for each part its role gives a gain in that section's label.

        Parameters
        ----------
        roles : dict
            Per section label, ``{part name: gain}``.
        parts : dict
            Parts by name.

        Returns
        -------
        list of Layer
        """
        for section in self.sections:
            for part_name, gain in roles[section.label].items():
                for b in range(section.n_bars):
                    parts[part_name](self, section, b, gain)
        return list(self.layers.values())

    def tail(self, steps: int, seconds: float) -> int:
        """Samples of ``steps`` sixteenths plus a release tail of ``seconds``.

        Parameters
        ----------
        steps : int >= 0
            Sixteenth notes.
        seconds : float >= 0
            Release tail.

        Returns
        -------
        int
            Samples.
        """
        return self.grid.steps_n(steps) + int(round(seconds * self.sr))
