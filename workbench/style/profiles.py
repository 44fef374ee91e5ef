"""Reference profiles ("Style DNA"): what a set of reference tracks has in common, feature by feature.

A profile holds, per production feature, the mean, standard deviation, percentiles, a bootstrap
95 % confidence interval of the mean and the acceptable range (10th-90th percentile, at least
at least mean +- 2 standard deviations and mean +- the feature's tolerance); the style score's spread; and style clusters in
the embedding space (k-means, k chosen by silhouette unless given) with centroids and their
spread; and, where the reference tracks have section labels, the same feature statistics per
section label (``sections``: :func:`section_stats`). Profiles are versioned JSON files beside the model registry
(``models/profiles/<name>/v<N>.json``) naming the tracks and analysis settings they came from; a profile
built again the same as the latest version is not saved again (:func:`save_or_reuse_profile`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from workbench.errors import ParameterError, WorkbenchError
from workbench.library import Library, Track
from workbench.store import utc_now
from workbench.style.features import FEATURE_NAMES, FEATURES

#: Fewest reference tracks a profile is built from.
MIN_TRACKS = 5
#: Largest spread (std over mean) of the reference tempi, after octave folding.
MAX_TEMPO_SPREAD = 0.10
_TOL = {f.name: f.tolerance for f in FEATURES}
_BOUNDS = {f.name: (f.low, f.high) for f in FEATURES}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ProfileError(WorkbenchError, ValueError):
    """A profile cannot be built (too few or inconsistent tracks) or is not there."""


def _folded_bpm(bpms: np.ndarray) -> np.ndarray:
    """Tempi folded onto the octave of their median (87 and 174 count as one tempo)."""
    med = float(np.median(bpms))
    return bpms * 2.0 ** np.round(np.log2(med / bpms))


def feature_stats(values: np.ndarray, *, seed: int = 0, n_boot: int = 1000, tolerance: float = 0.0) -> dict[str, Any]:
    """Mean, std, percentiles, bootstrap CI of the mean and the acceptable range of one feature.

    Parameters
    ----------
    values : np.ndarray [shape=(n,)]
        The feature over the reference tracks (no missing values).
    seed : int
        Seed of the bootstrap.
    n_boot : int
        Bootstrap resamples.
    tolerance : float >= 0
        The range is at least mean +- tolerance.

    Returns
    -------
    dict
        ``n, mean, std, p10, p50, p90, ci95 [lo, hi], range [lo, hi]``: the range spans the
        10th-90th percentiles widened to mean +- 2 std and to mean +- ``tolerance``.
    """
    v = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    boots = rng.choice(v, size=(n_boot, v.size), replace=True).mean(axis=1)
    mean, std = float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0
    p10, p50, p90 = (float(x) for x in np.percentile(v, [10, 50, 90]))
    half = max(2 * std, tolerance)
    lo, hi = min(p10, mean - half), max(p90, mean + half)
    return {"n": int(v.size), "mean": mean, "std": std, "p10": p10, "p50": p50, "p90": p90,
            "ci95": [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))], "range": [lo, hi]}


def _clusters(vectors: np.ndarray, *, k: int | None, seed: int) -> dict[str, Any]:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    x = vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)
    n = x.shape[0]
    options = [k] if k else list(range(2, min(6, n // 3) + 1)) or [1]  # clusters of 3+ tracks
    best: tuple[float, Any] | None = None
    for kk in options:
        if kk < 1 or kk >= n:
            continue
        km = KMeans(n_clusters=kk, n_init=10, random_state=seed).fit(x)
        s = silhouette_score(x, km.labels_) if 1 < kk < n and len(set(km.labels_)) > 1 else 0.0
        if best is None or s > best[0]:
            best = (float(s), km)
    if best is None:
        km = KMeans(n_clusters=1, n_init=1, random_state=seed).fit(x)
        best = (0.0, km)
    sil, km = best
    out = []
    for c in range(km.n_clusters):
        members = x[km.labels_ == c]
        d = np.linalg.norm(members - km.cluster_centers_[c], axis=1)
        out.append({"centroid": km.cluster_centers_[c].round(6).tolist(), "n": int(members.shape[0]),
                    "mean_distance": float(d.mean()), "std_distance": float(d.std()),
                    "max_distance": float(d.max())})
    if not k and options == [1]:  # one cluster for want of tracks: no silhouette was compared
        return {"k": 1, "silhouette": None, "chosen": f"too few tracks ({n}; two clusters need 6 or more)",
                "clusters": out}
    return {"k": int(km.n_clusters), "silhouette": sil, "chosen": "given" if k else "silhouette", "clusters": out}


def reference_tracks(library: Library, name: str, *, kind: str | None = None) -> tuple[list[Track], str]:
    """The reference tracks a crate, else a sub-folder, called ``name`` holds, and where they came from.

    The one lookup behind ``workbench profile build --crate/--folder`` and notebook 07.

    Parameters
    ----------
    library : Library
    name : str
        A crate's name, or a sub-folder of a scanned folder (a track's ``folder``, or the folder's path).
    kind : {None, "crate", "folder"}
        Look only among crates (``--crate``) or only among folders (``--folder``); ``None``:
        a crate first, then a folder.

    Returns
    -------
    tracks : list of Track
        The crate's present tracks, else the folder's.
    source : str
        ``"crate:NAME"`` or ``"folder:NAME"`` (for :func:`build_profile`).

    Raises
    ------
    ParameterError
        ``kind`` is not one of those, or nothing of that kind has that name (the message lists
        the crates and folders there are).
    """
    from workbench.crates import Crates

    if kind not in (None, "crate", "folder"):
        raise ParameterError(f"kind must be None, 'crate' or 'folder'; got {kind!r}")
    crates = Crates(library)
    crate_names = [c.name for c in crates.list()]
    if kind != "folder" and name in crate_names:
        return crates.tracks(name), f"crate:{name}"
    tracks = library.tracks()
    in_folder = [t for t in tracks if t.folder == name] if kind != "crate" else []
    if kind != "crate" and not in_folder and Path(name).expanduser().is_dir():  # its path, as `analyze --folder`
        where = Path(name).expanduser().resolve()
        in_folder = [t for t in tracks if t.folder and Path(t.path).parent.resolve() == where]
        name = in_folder[0].folder if in_folder else name
    if in_folder:
        return in_folder, f"folder:{name}"
    folders = sorted({t.folder for t in tracks if t.folder})
    crate_list = f"crates: {', '.join(crate_names) or 'none'}"
    folder_list = f"folders: {', '.join(folders) or 'none'}"
    wanted = {None: ("a crate or a sub-folder of a scanned folder", f"{crate_list}; {folder_list}"),
              "crate": ("a crate", crate_list), "folder": ("a sub-folder of a scanned folder", folder_list)}[kind]
    raise ParameterError(f"the reference must name {wanted[0]} ({wanted[1]}); got {name!r}")


def build_profile(library: Library, name: str, tracks: list[Track], *, source: str, clusters: int | None = None,
                  min_tracks: int = MIN_TRACKS, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Build (not save) a profile from reference tracks.

    Parameters
    ----------
    library : Library
    name : str
        Letters, digits, ``_.-``; up to 64 characters.
    tracks : list of Track
        The reference tracks.
    source : str
        Where they came from (``"crate:NAME"``, ``"folder:PATH"``), recorded.
    clusters : int or None
        Number of style clusters; None: chosen by silhouette (2..6).
    min_tracks : int
        Fewest tracks with features.
    seed : int
        Seed of the bootstrap and k-means.
    progress : bool
        Show a progress bar while features are measured.

    Returns
    -------
    dict
        The profile (see the module docstring); ``version`` is set by :func:`save_profile`.

    Raises
    ------
    ProfileError
        Fewer than ``min_tracks`` tracks with features, or tracks too inconsistent to share a
        profile (tempi spread more than 10 % after octave folding).
    """
    from workbench.analysis import effective_settings
    from workbench.analysis.core import settings_key
    from workbench.style.scores import TRANCE
    from workbench.style.stored import library_features

    if not isinstance(name, str) or not _NAME.match(name):
        raise ParameterError(f"profile name must be 1-64 letters, digits or _.- (starting with a letter or digit); "
                             f"got {name!r}")
    feats, failed = library_features(library, tracks, progress=progress)
    if len(feats) < min_tracks:
        raise ProfileError(f"a profile needs at least {min_tracks} reference tracks with features; {source} gives "
                           f"{len(feats)} of {len(tracks)}" + (f" ({len(failed)} failed)" if failed else ""))
    used = [t for t in tracks if t.id in feats]
    stats: dict[str, Any] = {}
    warnings = []
    for fname in FEATURE_NAMES:
        vals = np.array([feats[t.id][fname] for t in used if feats[t.id].get(fname) is not None], dtype=np.float64)
        if fname == "bpm" and vals.size:
            vals = _folded_bpm(vals)
            spread = float(vals.std() / vals.mean())
            if spread > MAX_TEMPO_SPREAD:
                raise ProfileError(f"reference tracks are too inconsistent for one profile: their tempi spread "
                                   f"{spread:.0%} around {vals.mean():.0f} BPM (at most {MAX_TEMPO_SPREAD:.0%} allowed); split them")
        if vals.size >= min_tracks:
            stats[fname] = _bounded_stats(fname, vals, seed=seed)
        elif vals.size:
            warnings.append(f"{fname}: only {vals.size} tracks have it; left out")
    scores = np.array([TRANCE.score(feats[t.id])[0] for t in used])
    profile: dict[str, Any] = {
        "format": "workbench.style-profile/1", "name": name, "created_at": utc_now(), "source": source,
        "tracks": [{"id": t.id, "content_hash": t.content_hash, "path": library.workspace.relative(t.path)}
                   for t in used],
        "analysis_settings": {str(t.id): json.loads(settings_key(**effective_settings(library, t).kwargs()))
                              for t in used},
        "features": stats, "trance_score": feature_stats(scores, seed=seed), "warnings": warnings,
        "failed": [{"path": p, "reason": r} for p, r in failed]}
    profile["energy_classes"] = _class_shares(library, used)
    profile["sections"] = _section_profile(library, used, seed=seed, warnings=warnings, failed=profile["failed"])
    profile["clusters"] = _embedding_clusters(library, used, k=clusters, seed=seed)
    return profile


def _bounded_stats(name: str, vals: np.ndarray, *, seed: int) -> dict[str, Any]:
    """:func:`feature_stats` of one feature with its tolerance, the range never beyond what it can take."""
    st = feature_stats(vals, seed=seed, tolerance=_TOL[name])
    lo_b, hi_b = _BOUNDS[name]
    st["range"] = [float(np.clip(v, lo_b, hi_b)) for v in st["range"]]  # both ends: never an inverted range
    return st


def section_stats(per_track: dict[int, list[dict[str, Any]]], *, seed: int = 0,
                  min_sections: int | None = None) -> dict[str, Any]:
    """Per-label feature statistics over reference sections, for a profile's ``sections`` entry.

    Parameters
    ----------
    per_track : dict of int to list of dict
        :func:`track_section_features` of each reference track, by track id.
    seed : int
        Seed of the bootstrap.
    min_sections : int or None
        Default :data:`workbench.style.sections.MIN_SECTIONS`. Fewest measured sections of a label (and of a feature within it) for statistics.

    Returns
    -------
    dict
        ``{label: {"n_sections": int, "n_tracks": int, "features": {name: stats}}}`` where
        ``stats`` is as :func:`feature_stats` (with ``range``); labels
        with fewer than ``min_sections`` measured sections are left out.
    """
    from workbench.style.sections import MIN_SECTIONS

    min_sections = MIN_SECTIONS if min_sections is None else min_sections
    by_label: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for tid, rows in per_track.items():
        for r in rows:
            if r["features"] is not None:
                by_label.setdefault(r["label"], []).append((tid, r["features"]))
    out: dict[str, Any] = {}
    for label, rows in sorted(by_label.items()):
        if len(rows) < min_sections:
            continue
        stats = {}
        for name in FEATURE_NAMES:
            if name == "bpm":  # a section's tempo is its track's: the whole-track profile has it
                continue
            vals = np.array([f[name] for _, f in rows if f.get(name) is not None], dtype=np.float64)
            if vals.size >= min_sections:
                stats[name] = _bounded_stats(name, vals, seed=seed)
        out[label] = {"n_sections": len(rows), "n_tracks": len({t for t, _ in rows}), "features": stats}
    return out


def _section_profile(library: Library, used: list[Track], *, seed: int, warnings: list[str],
                     failed: list[dict[str, str]]) -> dict[str, Any]:
    """Per-label feature statistics over the reference tracks' labelled sections."""
    from workbench.errors import failure_reason
    from workbench.style.sections import MIN_SECTIONS, track_section_features

    per_track = {}
    for t in used:
        try:
            rows = track_section_features(library, t)
        except Exception as exc:  # one bad track never stops the profile
            failed.append({"path": t.path, "reason": f"sections: {failure_reason(exc)}"})
            continue
        if rows:
            per_track[t.id] = rows
    stats = section_stats(per_track, seed=seed)
    if per_track and not stats:
        warnings.append(f"{len(per_track)} reference tracks have section labels, but no label has {MIN_SECTIONS} "
                        "measured sections: no per-section profile")
    return stats


def _class_shares(library: Library, used: list[Track]) -> dict[str, float]:
    """Mean share of bars in each energy class over the reference tracks."""
    from workbench.analysis import track_analysis
    from workbench.style.features import ENERGY_CLASSES, energy_classes

    rows = []
    for t in used:
        a = track_analysis(library, t, compute=False)
        if a is not None:
            rows.append(energy_classes(np.asarray(a.energy_curve), hop_s=a.energy_hop_s, bpm=a.bpm)[1])
    return {c: float(np.mean([r[c] for r in rows])) if rows else 0.0 for c in ENERGY_CLASSES}


def _embedding_clusters(library: Library, used: list[Track], *, k: int | None, seed: int) -> dict[str, Any]:
    from workbench.embed.batch import default_backbone, track_vectors

    backbone, why = default_backbone()
    if len(used) < 3:  # embedding cannot help: the profile itself has too few tracks
        return {"k": 0, "note": f"{len(used)} reference track{'' if len(used) == 1 else 's'} in all, 3 needed: build "
                                "the profile from 3 or more reference tracks for style clusters", "backbone": why}
    tracks, vectors = track_vectors(library, backbone=backbone, with_std=False)
    ids = {t.id for t in used}
    rows = [i for i, t in enumerate(tracks) if t.id in ids]
    if len(rows) < 3:
        # the backbone's sentence (why not OpenL3, where its weights go) stays in "backbone": a note of one line
        return {"k": 0, "note": f"{len(rows)} of {len(used)} reference tracks have embeddings, 3 needed: run "
                                "`workbench embed` for style clusters", "backbone": why}
    out = _clusters(vectors[rows], k=k, seed=seed)
    out["backbone"] = why
    return out


def _folder(library: Library, name: str) -> Path:
    return library.workspace.models / "profiles" / name


def _versions(folder: Path) -> list[int]:
    """The version numbers saved in a profile's folder, ascending (none when it is not there)."""
    return sorted(int(p.stem[1:]) for p in folder.glob("v*.json") if p.stem[1:].isdigit()) if folder.is_dir() else []


#: Keys in which two builds of one profile from the same tracks, settings and seed differ: when it was
#: built, and the number :func:`save_profile` gives it.
_BUILD_KEYS = ("created_at", "version")


def _same_profile(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two profiles hold the same tracks, settings and figures (:data:`_BUILD_KEYS` aside), as saved."""
    def _text(p: dict[str, Any]) -> str:
        return json.dumps({k: v for k, v in p.items() if k not in _BUILD_KEYS}, sort_keys=True)
    return _text(a) == _text(b)


class SavedProfile(NamedTuple):
    """What :func:`save_or_reuse_profile` did."""

    path: Path
    """The profile's file, ``models/profiles/<name>/v<N>.json``."""
    reused: bool
    """True: the latest version held this profile already and no file was written."""
    said: str
    """``"saved models/profiles/<name>/v<N>.json"``, or which version it is already."""


def save_or_reuse_profile(library: Library, profile: dict[str, Any]) -> SavedProfile:
    """Save a profile as the next version, unless the latest version is the same profile.

    The same profile is one built again from the same tracks, analysis settings and seed: every
    key but ``created_at`` and ``version`` equal (so running notebook 07, or ``workbench profile
    build``, again does not pile up identical versions). A profile the same as an older version
    but not the latest is saved as a new version, so the latest stays the one built last.

    Parameters
    ----------
    library : Library
        Its workspace holds ``models/profiles/``.
    profile : dict
        From :func:`build_profile`.

    Returns
    -------
    SavedProfile
        The file, whether it was there already, and the sentence saying which.
    """
    from workbench.fileio import atomic_write_bytes

    folder = _folder(library, profile["name"])
    versions = _versions(folder)
    if versions:
        latest = folder / f"v{versions[-1]}.json"
        if _same_profile(profile, json.loads(latest.read_text())):
            return SavedProfile(latest, True, f"{profile['name']}@{versions[-1]} unchanged: the same tracks, settings "
                                              f"and figures as {library.workspace.relative(latest)}; no new version saved")
    folder.mkdir(parents=True, exist_ok=True)
    profile = {**profile, "version": max(versions, default=0) + 1}
    path = folder / f"v{profile['version']}.json"
    atomic_write_bytes(path, (json.dumps(profile, indent=1) + "\n").encode())
    return SavedProfile(path, False, f"saved {library.workspace.relative(path)}")


def save_profile(library: Library, profile: dict[str, Any]) -> Path:
    """Save a profile as the next version, or reuse the latest when it is the same; returns the file.

    :func:`save_or_reuse_profile`'s file (it also says whether the version was there already).

    Parameters
    ----------
    library : Library
    profile : dict
        From :func:`build_profile`.

    Returns
    -------
    Path
        ``models/profiles/<name>/v<N>.json``.
    """
    return save_or_reuse_profile(library, profile).path


def load_profile(library: Library, spec: str) -> dict[str, Any]:
    """A saved profile: ``"NAME"`` (latest version) or ``"NAME@N"``.

    Parameters
    ----------
    library : Library
    spec : str

    Returns
    -------
    dict

    Raises
    ------
    ProfileError
        No such profile or version (the message lists those there are).
    """
    name, _, version = spec.partition("@")
    folder = _folder(library, name)
    versions = _versions(folder)
    if not versions:
        have = ", ".join(p["name"] for p in list_profiles(library)) or "none yet"
        raise ProfileError(f"no profile {name!r}; profiles: {have} (`workbench profile build NAME --crate C`)")
    v = versions[-1] if not version else int(version) if version.isdigit() else -1
    if v not in versions:
        raise ProfileError(f"profile {name!r} has versions {versions}; got {version!r}")
    return json.loads((folder / f"v{v}.json").read_text())


def list_profiles(library: Library) -> list[dict[str, Any]]:
    """Every saved profile: name, versions, tracks of the latest.

    Parameters
    ----------
    library : Library

    Returns
    -------
    list of dict
    """
    root = library.workspace.models / "profiles"
    out = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        versions = _versions(folder)
        if versions:
            latest = json.loads((folder / f"v{versions[-1]}.json").read_text())
            out.append({"name": folder.name, "versions": versions, "n_tracks": len(latest["tracks"]),
                        "source": latest["source"], "created_at": latest["created_at"]})
    return out
