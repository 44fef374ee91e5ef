"""The main job on the embedded default (``make demo`` / ``workbench demo``).

synthesize the demo library → scan → analyse → embed (OpenL3 when its weights are found, else
the feature frontend, said plainly) → import the ground-truth sections as labels for most
tracks, leaving a few unlabelled → augmented views → fine-tune the embedding head → train the
section classifier → evaluate and write the HTML reports → export Core ML models → register
and activate them → suggest sections for the unlabelled tracks → summary with the headline
metrics next to their targets.

Every stage reuses what is already there (the synthesized files, stored analyses, the
embedding cache, stored labels, and runs and exported versions recorded in
``<demo folder>/PIPELINE.json`` under a key of their inputs), so a second run is fast and an
interrupted one resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import config
from workbench.demo.readiness import SECTIONS_CONFIG  # the demo's section settings, with its readiness rule
from workbench.errors import ContentChangedWarning, ParameterError, WorkbenchError, failure_reason
from workbench.fileio import atomic_write_bytes
from workbench.library import Library, Track
from workbench.pipeline_summary import DemoResult, Headline, _headlines, similar_block  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from workbench.embed.batch import Backbone
    from workbench.registry import Registry
    from workbench.runs import Run

MANIFEST_NAME = "MANIFEST.json"
STATE_NAME = "PIPELINE.json"

#: Training settings of the demo (small enough for a 2-core CPU, big enough to mean something).
#: The embedding head learns the demo's styles from the crates the demo makes (one per style), as a
#: user's own crates would be used.
EMBEDDINGS_CONFIG: dict[str, Any] = {"epochs": 40, "n_views": 1, "seed": 0, "classes_from": "crates"}


def run_demo(
    *,
    demo_folder: str | os.PathLike[str] | None = None,
    db_path: str | os.PathLike[str] | None = None,
    n_tracks: int = 30,
    seed: int = 0,
    duration_s: float | None = None,
    n_unlabeled: int = 3,
    train: bool = True,
    export: bool = True,
    embeddings_config: dict[str, Any] | None = None,
    sections_config: dict[str, Any] | None = None,
    experiments_root: str | os.PathLike[str] | None = None,
    models_root: str | os.PathLike[str] | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    backbone: str = "auto",
    cross_generator_tracks: int = 8,
) -> DemoResult:
    """Run the main job on the synthesized demo library (see the module docstring).

    Parameters
    ----------
    demo_folder, db_path : path-like or None
        Where the demo audio and the library go; default ``data/demo`` and ``data/workbench.db``.
    n_tracks : int >= 1
        Number of demo tracks (6 styles, in turn; 30 gives every section label the 10 examples
        training asks for once 3 tracks are left unlabelled).
    seed : int
        Seed of the synthesis: the same seed gives the same bytes.
    duration_s : float or None
        Length of every demo track (30..1200 s); ``None`` for each arrangement's natural length.
    n_unlabeled : int >= 0
        How many tracks (the last ones) keep no labels; the section model suggests theirs.
    train, export : bool
        Run the training stages (and the evaluation, export and suggestion stages after them),
        and the Core ML export.
    embeddings_config, sections_config : dict or None
        Overrides of :data:`EMBEDDINGS_CONFIG` and :data:`SECTIONS_CONFIG` (see
        :func:`workbench.train.embeddings_job.train_embeddings_job` and ``train_sections_job``).
    experiments_root, models_root : path-like or None
        Default ``experiments/`` and ``models/`` of the workbench home.
    progress : bool
        Progress bars (``tqdm.auto``).
    log : callable or None
        Called with one line as each stage starts (default: print when ``progress``).
    backbone : {"auto", "features", "openl3", "cnn"}
        What the demo embeds and trains on (:func:`workbench.train.backbones.backbone_by_name`;
        ``openl3`` without weights fails before anything runs, saying how to add them; ``cnn``: the
        trainable CNN, which the embeddings stage trains end-to-end, in place, before the sections stage).
    cross_generator_tracks : int in [0, 9]
        Tracks of the second, independent generator (:mod:`workbench.pipeline_cross`) rendered into
        ``<demo folder>/.cross-generator/`` before the section model is trained, which is then scored
        on them next to its baselines (the summary's and report's cross-generator line); 0 turns it off.
    """
    from workbench.analysis import analyze_library
    from workbench.demo import synthesize_library

    if isinstance(n_tracks, bool) or not isinstance(n_tracks, int) or n_tracks < 1:
        raise ParameterError(f"n_tracks must be an int >= 1; got {n_tracks!r}")
    if train and (isinstance(n_unlabeled, bool) or not isinstance(n_unlabeled, int)
                  or not 0 <= n_unlabeled < n_tracks):
        raise ParameterError(f"n_unlabeled must be an int in [0, n_tracks={n_tracks}); got {n_unlabeled!r}")
    if backbone != "auto":  # asked for by name: refuse a bad name or missing OpenL3 weights before any work
        from workbench.train.backbones import backbone_by_name

        backbone_by_name(backbone)
    if train:  # refused before any work
        from workbench.demo.readiness import check_demo_size
        from workbench.pipeline_cross import check_cross_generator_tracks

        check_cross_generator_tracks(cross_generator_tracks)
        check_demo_size(n_tracks, n_unlabeled=n_unlabeled, sections_config=sections_config)
    say = log if log is not None else (print if progress else (lambda line: None))
    folder = config.demo_dir(demo_folder)
    stage_seconds: dict[str, float] = {}
    n_stages = 4 + ((8 if export else 6) + bool(cross_generator_tracks) if train else 0)  # export: + similar after

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        """Time one stage of the demo (its seconds go to ``stage_seconds``) after announcing it.

        Parameters
        ----------
        name : str
            The stage as it is announced and timed.
        """
        say(f"[{len(stage_seconds) + 1}/{n_stages}] {name} ...")
        t0 = time.perf_counter()
        yield
        stage_seconds[name] = time.perf_counter() - t0

    manifest = folder / MANIFEST_NAME
    wanted = {"n_tracks": n_tracks, "seed": seed, "duration_s": duration_s, "synth": _synth_fingerprint()}
    synthesized = not _manifest_matches(manifest, wanted)
    with stage("synthesize"):
        if synthesized:
            records = synthesize_library(folder, n_tracks=n_tracks, seed=seed, duration_s=duration_s,
                                         progress=progress)
            entries = [{"audio": Path(r.audio_path).name, "truth": Path(r.truth_path).name, "style": r.style}
                       for r in records]
            atomic_write_bytes(manifest, json.dumps({**wanted, "tracks": entries}, indent=2).encode())
            (folder / STATE_NAME).unlink(missing_ok=True)  # a new library: nothing earlier applies
    state = _State(folder / STATE_NAME)

    with Library(db_path) as lib:
        with stage("scan"), warnings.catch_warnings():
            if synthesized:  # a re-made demo library is expected to have new contents
                warnings.simplefilter("ignore", ContentChangedWarning)
            scan = lib.scan(folder, progress=progress)
        demo_tracks = [t for t in lib.tracks() if Path(t.path).parent == folder]
        entries = json.loads(manifest.read_text())["tracks"]
        result = DemoResult(
            demo_folder=folder, db_path=lib.path, n_tracks=n_tracks, seed=seed, synthesized=synthesized, scan=scan,
            styles=dict(Counter(e["style"] for e in entries)),
            total_duration_s=sum(t.duration_s for t in demo_tracks), stage_seconds=stage_seconds)

        with stage("analyze"):
            analysis = analyze_library(lib, tracks=demo_tracks, progress=progress)
            result.analysis = str(analysis).replace("\n", "\n  ")
            result.accuracy = _accuracy_vs_truth(lib, demo_tracks)

        with stage("embed + similarity index"):
            backbone = _embed_and_search(lib, demo_tracks, result, progress=progress, backbone=backbone)

        if not train:
            return result
        labeled, unlabeled = demo_tracks[: len(demo_tracks) - n_unlabeled], demo_tracks[len(demo_tracks) - n_unlabeled:]
        result.unlabeled = [t.name for t in unlabeled]
        with stage("labels"):
            result.labels = _import_labels(lib, labeled, unlabeled)
            from workbench.demo.readiness import check_demo_labels

            check_demo_labels(lib, labeled, {**SECTIONS_CONFIG, **(sections_config or {})})

        _style_crates(lib, demo_tracks, entries)
        emb_cfg = {**EMBEDDINGS_CONFIG, **(embeddings_config or {})}
        sec_cfg = {**SECTIONS_CONFIG, **(sections_config or {})}
        with stage("augment"):
            _augment(lib, labeled, backbone, emb_cfg, progress=progress)
        with stage("train embeddings"):
            runs = {"embeddings": _train(state, "embeddings", lib, labeled, backbone, emb_cfg, experiments_root,
                                         result, progress=progress)}
        external = None
        if cross_generator_tracks:
            with stage("cross-generator set"):
                from workbench.pipeline_cross import demo_cross_generator

                external = demo_cross_generator(folder, backbone, result, n_tracks=cross_generator_tracks, seed=seed,
                                                progress=progress)
        with stage("train sections"):
            runs["sections"] = _train(state, "sections", lib, labeled, backbone, sec_cfg, experiments_root,
                                      result, progress=progress, external=external)
        result.runs = {k: r.path for k, r in runs.items()}

        with stage("evaluate + report"):
            from workbench.report import report

            for kind, run in runs.items():
                html = run.path / "report.html"
                result.reports[kind] = html if html.is_file() else report(run, library=lib)
            result.headlines = _headlines(runs, result)

        if export:
            with stage("export Core ML + register"):
                _export(state, lib, runs, models_root, result)
            with stage("similar with the active head"):
                _similar_after(lib, demo_tracks[0], backbone, result, progress=progress)

        with stage("suggest sections"):
            _suggest(lib, runs["sections"], unlabeled, backbone, result)
    return result


# --------------------------------------------------------------------------------- stages


def _embed_and_search(lib: Library, tracks: list[Track], result: DemoResult, *, progress: bool,
                      backbone: str = "auto") -> Backbone:
    from workbench.embed.batch import default_backbone, describe_backbone
    from workbench.embed.features import FeatureFrontend
    from workbench.search import LibrarySearch

    if backbone == "auto":
        backbone, said = default_backbone()
    else:
        from workbench.train.backbones import backbone_by_name

        backbone = backbone_by_name(backbone)
        said = f"{describe_backbone(backbone)} (asked for)"
    result.backbone = said if not isinstance(backbone, FeatureFrontend) or "asked for" in said else (
        f"{describe_backbone(backbone)}: no OpenL3 weights found in models/openl3/ or $WORKBENCH_OPENL3_WEIGHTS "
        "(README: 'Embeddings, and adding OpenL3 weights')")
    search = LibrarySearch(lib, model="backbone", backbone=backbone, progress=progress).update()
    result.example, result.example_ids = similar_block(search, tracks[0])
    return backbone


def _similar_after(lib: Library, track: Track, backbone: Backbone, result: DemoResult, *, progress: bool) -> None:
    """The same query once training has activated a head: what the head changes in ``similar``."""
    from workbench.search import LibrarySearch

    search = LibrarySearch(lib, backbone=backbone, progress=progress)  # the active head, else the backbone
    if search.model.head is not None:  # a head refused by its gates was never activated: nothing changed
        result.example_after, result.example_after_ids = similar_block(search.update(), track)


def _import_labels(lib: Library, labeled: list[Track], unlabeled: list[Track]) -> str:
    """Ground-truth sections become labels (source "import") for tracks that have none yet."""
    from workbench.labels import Labels, LabelWarning

    labels = Labels(lib)
    added = kept = 0
    for t in labeled:
        if labels.for_track(t):
            kept += 1
            continue
        truth = json.loads(Path(t.path).with_suffix(".json").read_text())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LabelWarning)  # sections shorter than 8 beats are expected
            labels.import_truth(t, truth["sections"])
        added += 1
    stats = labels.stats()
    counts = ", ".join(f"{k} {v}" for k, v in stats.counts.items() if v)
    ready = "ready for training" if stats.ready else "not ready: " + "; ".join(stats.missing)
    return (f"{added} tracks labelled now, {kept} already labelled, {len(unlabeled)} left unlabelled; "
            f"{counts}; {ready}")


def _style_crates(lib: Library, tracks: list[Track], entries: list[dict[str, Any]]) -> None:
    """One crate per demo style (from the manifest's truth), as a user organises their own music."""
    from workbench.crates import Crates

    style_of = {e["audio"]: e["style"] for e in entries}
    by_style: dict[str, list[Track]] = {}
    for t in tracks:
        if Path(t.path).name in style_of:
            by_style.setdefault(style_of[Path(t.path).name], []).append(t)
    crates = Crates(lib)
    for style, members in sorted(by_style.items()):
        crates.add(style, members)


def _augment(lib: Library, labeled: list[Track], backbone: Backbone, cfg: dict[str, Any], *, progress: bool) -> None:
    """Embed the augmented views the embedding job will use (cached; the job reuses them)."""
    n_views = int(cfg.get("n_views", 0))
    if n_views:
        from workbench.augment import embed_views
        from workbench.train.views import training_view_settings

        embed_views(lib, labeled, backbone=backbone, n_views=n_views, seed=int(cfg.get("seed", 0)),
                    settings=training_view_settings(), progress=progress)


def _train(state: _State, kind: str, lib: Library, labeled: list[Track], backbone: Backbone, cfg: dict[str, Any],
           experiments_root: str | os.PathLike[str] | None, result: DemoResult, *, progress: bool,
           external: dict[str, Any] | None = None) -> Run:
    """Train (or reuse the run trained on exactly these inputs, ``external`` sets included) and return the run."""
    from workbench.runs import load_run
    from workbench.train.embeddings_job import train_embeddings_job
    from workbench.train.sections.job import train_sections_job

    key = _key(kind, lib, labeled, backbone, cfg)
    if external:  # the sets scored are inputs of the run too
        key = hashlib.sha256(json.dumps([key, {k: sorted(t.content_hash for t in v.tracks) for k, v in external.items()}],
                                        sort_keys=True).encode()).hexdigest()[:20]
    recorded = state.get(kind)
    if recorded and recorded.get("key") == key:
        try:
            run = load_run(recorded["run_id"], root=experiments_root)
        except Exception:  # noqa: BLE001 - the run folder was removed: train again
            run = None
        if run is not None:
            result.reused.append(f"{kind} run {run.run_id}")
            return run
    if kind == "embeddings":
        _, path = train_embeddings_job(lib, config=cfg, backbone=backbone, tracks=labeled,
                                       experiments_root=experiments_root, progress=progress)
    else:
        _, path = train_sections_job(lib, config=cfg, backbone=backbone, experiments_root=experiments_root,
                                     progress=progress, external=external)
    run = load_run(path)
    state.set(kind, {"key": key, "run_id": run.run_id})
    return run


def _export(state: _State, lib: Library, runs: dict[str, Run], models_root: str | os.PathLike[str] | None, result: DemoResult) -> None:
    from workbench.evaluate.gates import GateFailedError
    from workbench.export import export_run
    from workbench.export.reexport import AlreadyExportedError
    from workbench.registry import Registry

    registry = Registry(lib, root=models_root)
    exported = state.get("exports") or {}
    for run in runs.values():
        if run.run_id in exported and all(_version_exists(registry, t, v) for t, v in exported[run.run_id]):
            result.reused.append(f"export of {run.run_id}")
            continue
        try:
            pairs = export_run(run, library=lib, registry=registry)
        except AlreadyExportedError as exc:  # registered before (the state file lost): not a duplicate
            exported[run.run_id] = [[v.model_type, v.version] for v in exc.versions]
            state.set("exports", exported)
            result.reused.append(f"export of {run.run_id}")
            continue
        except GateFailedError as exc:  # a model worse than its baseline is not exported (no --force here)
            result.refused.append(f"{run.kind} run {run.run_id} fails its gates: "
                                  + "; ".join(str(g) for g in exc.gates))
            continue
        exported[run.run_id] = [[v.model_type, v.version] for _, v in pairs]
        state.set("exports", exported)
        for res, v in pairs:
            parity = res.parity
            checks = (f"lint {len(res.lint.errors)} errors/{len(res.lint.warnings)} warnings"
                      + (f", PSNR {parity.psnr_db:.1f} dB" if parity is not None else ", parity not checked")
                      + (f", same label {parity.label_agreement:.1%}" if parity is not None
                         and parity.label_agreement is not None else "")
                      + ("; whole track in, flexible length: GPU/CPU" if res.metadata.get("track_in") else ""))
            result.exports.append(f"{v.model_type} v{v.version} {res.size_bytes / 1e6:.2f} MB ({checks})")
    for v in registry.list():
        if v.active:
            result.versions.append(f"{v.model_type} v{v.version} active: {v.path}")
    if not result.versions:
        result.versions.append(f"no active version in {registry.root}")


def _version_exists(registry: Registry, model_type: str, version: int) -> bool:
    try:
        return registry.get(model_type, version).path.exists()
    except Exception:  # noqa: BLE001 - deleted by the user: export again
        return False


def _suggest(lib: Library, run: Run, unlabeled: list[Track], backbone: Backbone, result: DemoResult) -> None:
    from workbench.train.sections import load_section_model, suggest_sections

    if run.model_path is None:
        return
    trainer, features, transitions = load_section_model(run.model_path)
    for t in unlabeled:
        try:
            found = suggest_sections(lib, t, model=trainer, backbone=backbone, features=features,
                                     transitions=transitions)
        except WorkbenchError as exc:  # one track without a grid or audio never stops the others
            result.suggestions[t.name] = [f"no suggestion: {failure_reason(exc)}"]
            continue
        result.suggestions[t.name] = [f"{s.label} {s.start_s:.0f}-{s.end_s:.0f}s ({s.confidence:.0%})"
                                      for s in found]


# --------------------------------------------------------------------------------- helpers


class _State:
    """``PIPELINE.json``: which run and which exported versions each stage produced, by input key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.data = json.loads(path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def get(self, name: str) -> Any:
        """The value stored under ``name``, or None.

        Parameters
        ----------
        name : str
            A stage name ("embeddings", "sections", "exports").
        """
        return self.data.get(name)

    def set(self, name: str, value: Any) -> None:
        """Store ``value`` under ``name`` and write the file at once.

        Parameters
        ----------
        name : str
            A stage name.
        value : Any
            A JSON value.
        """
        self.data[name] = value
        atomic_write_bytes(self.path, json.dumps(self.data, indent=2).encode())


def _key(kind: str, lib: Library, tracks: list[Track], backbone: Backbone, cfg: dict[str, Any]) -> str:
    """What a training run depends on: tracks, their labels, the backbone and the settings."""
    h = hashlib.sha256(json.dumps([kind, backbone.name, backbone.settings, cfg], sort_keys=True,
                                  default=str).encode())
    for t in tracks:
        h.update(t.content_hash.encode())
    if kind == "sections":
        rows = lib.conn.execute("SELECT track_id, label, start_beat, end_beat FROM labels ORDER BY track_id, "
                                "start_beat").fetchall()
        h.update(json.dumps([tuple(r) for r in rows]).encode())
    return h.hexdigest()[:20]


def _accuracy_vs_truth(lib: Library, tracks: list) -> dict[str, float]:
    """Share of demo tracks whose stored BPM (within 2 %) and Camelot key match the truth JSON."""
    from workbench.analysis import stored_analysis

    bpm_ok = key_ok = n = 0
    for t in tracks:
        truth_path = Path(t.path).with_suffix(".json")
        a = stored_analysis(lib, t)
        if a is None or not truth_path.is_file():
            continue
        truth = json.loads(truth_path.read_text())
        n += 1
        bpm_ok += a.bpm is not None and abs(a.bpm - truth["bpm"]) <= 0.02 * truth["bpm"]
        key_ok += a.camelot == truth["camelot"]
    return {"BPM within 2%": bpm_ok / n, "key exact": key_ok / n} if n else {}


def _synth_fingerprint() -> str:
    """A hash of the synthesizer's source: a changed synthesizer re-makes the demo library."""
    import workbench.demo as demo_pkg

    h = hashlib.sha256()
    for path in sorted(Path(demo_pkg.__file__).parent.glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _manifest_matches(manifest: Path, wanted: dict[str, object]) -> bool:
    """True when an earlier run finished synthesizing the same library and its files are there."""
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return False
    if any(data.get(k) != v for k, v in wanted.items()):
        return False
    folder = manifest.parent
    return all((folder / e["audio"]).is_file() and (folder / e["truth"]).is_file() for e in data.get("tracks", []))
