"""Style DNA: EDM production features, style scores, reference profiles and gap analysis.

>>> from workbench.style import build_profile, save_profile, gap_analysis     # doctest: +SKIP
>>> p = build_profile(lib, "trance", Crates(lib).tracks("trance"), source="crate:trance")  # doctest: +SKIP
>>> save_profile(lib, p); gap_analysis(lib, p, Path("wip.wav"))["outside"]   # doctest: +SKIP

Features (:data:`FEATURES`, units and ranges): sidechain pumping (depth, dB, regularity), acid
(filter sweep, resonance, glide, accent, composite), supersaw (stereo width, phase correlation,
detune), four-on-the-floor, off-beat hats, brightness, bass ratio, energy range and slope;
the trance score (:data:`TRANCE`). Command line: ``workbench profile build|show|compare|list``.
Importing does no work.
"""

from workbench._lazy import lazy_exports

_EXPORTS = {
    "FEATURES": "workbench.style.features",
    "FEATURE_NAMES": "workbench.style.features",
    "production_features": "workbench.style.features",
    "TRANCE": "workbench.style.scores",
    "STYLE_SCORES": "workbench.style.scores",
    "StyleScore": "workbench.style.scores",
    "track_features": "workbench.style.stored",
    "ProfileError": "workbench.style.profiles",
    "build_profile": "workbench.style.profiles",
    "reference_tracks": "workbench.style.profiles",
    "reference_or_first": "workbench.style.reference",
    "save_profile": "workbench.style.profiles",
    "save_or_reuse_profile": "workbench.style.profiles",
    "SavedProfile": "workbench.style.profiles",
    "load_profile": "workbench.style.profiles",
    "list_profiles": "workbench.style.profiles",
    "gap_analysis": "workbench.style.gap",
    "compare_features": "workbench.style.gap",
    "render_reference": "workbench.style.testbed",
    "profile_table": "workbench.style.tables",
    "gap_table": "workbench.style.tables",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
