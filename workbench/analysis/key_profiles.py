"""Published key profiles: one weight per scale degree, for the major and the minor mode.

Each entry is ``(major, minor)``, twelve weights from the tonic upwards in semitones
(I, bII, II, bIII, III, IV, #IV, V, bVI, VI, bVII, VII). Only the shape matters: keys are
scored by Pearson correlation, so a profile may be scaled or shifted freely.

Sources of the numbers (data from the papers, transcribed here):

- ``krumhansl``: Krumhansl & Kessler's probe-tone ratings. C. L. Krumhansl, *Cognitive
  Foundations of Musical Pitch*, Oxford University Press, 1990, table 2.1 (from Krumhansl &
  Kessler, Psychological Review 89(4), 1982).
- ``temperley``: D. Temperley, "What's key for key? The Krumhansl-Schmuckler key-finding
  algorithm reconsidered", Music Perception 17(1), 65-100, 1999 (the revised profiles).
- ``shaath``: I. Sha'ath, *Estimation of key in digital music recordings*, MSc thesis, Birkbeck,
  University of London, 2011 (KeyFinder): Krumhansl's profiles adjusted for popular and
  electronic music.
- ``edma``, ``bgate``, ``braw``: Á. Faraldo, E. Gómez, S. Jordà, P. Herrera, "Key estimation in
  electronic dance music", Proc. ECIR 2016, Padova, LNCS 9626, 335-347. ``edma`` is the median
  profile of an EDM corpus (the Beatport-derived training set), ``braw`` the same for the
  Beatport "GiantSteps" key data, ``bgate`` its sparse version with the weakest degrees gated
  to zero. The values are the ones the authors distribute with their essentia
  implementation (``KeyEDM``), normalised to a tonic weight of 1.
"""

from __future__ import annotations

#: ``name -> (major, minor)``, twelve weights each from the tonic upwards.
PROFILES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "krumhansl": (
        (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
        (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
    ),
    "temperley": (
        (5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0),
        (5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0),
    ),
    "shaath": (
        (6.6, 2.0, 3.5, 2.3, 4.6, 4.0, 2.5, 5.2, 2.4, 3.7, 2.3, 3.4),
        (6.5, 2.7, 3.5, 5.4, 2.6, 3.5, 2.5, 5.2, 4.0, 2.7, 4.3, 3.2),
    ),
    "edma": (
        (1.0, 0.2875, 0.5020, 0.4048, 0.6050, 0.5614, 0.3205, 0.7966, 0.3159, 0.4506, 0.4202, 0.3889),
        (1.0, 0.3096, 0.4415, 0.5827, 0.3262, 0.4948, 0.2889, 0.7804, 0.4328, 0.2903, 0.5331, 0.3217),
    ),
    "bgate": (
        (1.0, 0.0, 0.42, 0.0, 0.53, 0.37, 0.0, 0.77, 0.0, 0.38, 0.21, 0.30),
        (1.0, 0.0, 0.36, 0.39, 0.0, 0.38, 0.0, 0.74, 0.27, 0.0, 0.42, 0.23),
    ),
    "braw": (
        (1.0, 0.1573, 0.4200, 0.1570, 0.5296, 0.3669, 0.1632, 0.7711, 0.1676, 0.3827, 0.2113, 0.2965),
        (1.0, 0.2330, 0.3615, 0.3905, 0.2925, 0.3777, 0.1961, 0.7425, 0.2701, 0.2161, 0.4228, 0.2272),
    ),
}
