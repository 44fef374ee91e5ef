"""``workbench suggest TRACK``: the section model's suggested sections for one track, as the labeler
shows them.

The model is the active registered ``dj_section`` version's training run (``workbench models``),
else the newest ``sections`` run with a model under the workspace's ``experiments/`` (never after
``workbench models deactivate dj_section``: a deactivated type has no model). With no
section model yet (and no ``--run``), the suggestions are the unsupervised novelty boundaries
(:func:`~workbench.train.sections.fallback_suggestions`), every one uncertain, and it says so.
A model's suggestion is uncertain under the model's threshold; the table and ``--json``
(``uncertain_below``, ``uncertain_rule``) say the rule (by default: confidence under 80 %, a
calibrated chance of more than 1 in 5 that it is wrong; where the model kept no calibration map, it
says the confidence is only temperature-scaled). A track shorter than 8 beats gets no suggestion, and
the text and ``--json`` (``no_suggestions_reason``) say why.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING, Any

from workbench.commands import add_json, open_library, print_json, workspace_of
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.embed.batch import Backbone
    from workbench.library import Library
    from workbench.runs import Run


class NoSectionModelError(WorkbenchError, LookupError):
    """No trained section model to make suggestions with."""


class SectionModelDeactivatedError(NoSectionModelError):
    """``workbench models deactivate dj_section`` left no section model active (its message says which and when)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``suggest``.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The CLI's ``add_subparsers()`` object.
    """
    p = sub.add_parser("suggest", help="the section model's suggested sections (intro, build, drop, ...) for a track")
    p.add_argument("track", help="a track id, content hash or path")
    p.add_argument("--run", default=None, help="a sections run id or folder (default: the active dj_section model's "
                                               "run, else the newest sections run)")
    add_json(p)
    p.set_defaults(func=_cmd_suggest)


def section_run(args: argparse.Namespace, library: Library) -> tuple[Run, str]:
    """The sections run to suggest with, and where it came from, in words.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line (``run``: a run id or folder, or None).
    library : Library
        Where the model registry looks for the active ``dj_section`` version.

    Returns
    -------
    run : Run
    said : str
        Which run it is and why it was chosen.

    Raises
    ------
    NoSectionModelError
        No run given, no active ``dj_section`` version and no ``sections`` run with a model.
    SectionModelDeactivatedError
        No run given and ``workbench models deactivate dj_section`` left no version active.
    """
    from workbench.runs import list_runs, load_run

    ws = workspace_of(args)
    if args.run is not None:
        return load_run(args.run, root=ws.experiments), f"run {args.run} (asked for)"
    from workbench.widgets.suggest import (
        active_section_run,
        deactivated_section,
        failed_gates_said,
        forced_said,
    )

    found = active_section_run(library, workspace=ws)  # the labeler's choice of model, in one place
    if found is not None:  # an active model exported with --force says so, as a run that is not active does
        return found[0], f"active model {found[2]}{forced_said(found[0])}"
    off = deactivated_section(library, workspace=ws)
    if off is not None:  # the user turned the model off: not the newest run (most often the same model) instead
        raise SectionModelDeactivatedError(f"no active section model ({off}): novelty boundaries, labels guessed; "
                                           "`--run ID` suggests with a sections run")
    runs = [r for r in list_runs(ws.experiments, kind="sections") if r.model_path is not None]
    if not runs:
        raise NoSectionModelError(
            f"no section model yet (no active dj_section model, no sections run under {ws.experiments}): label "
            "sections (notebook 02, or `workbench labels import FILE`), then `workbench train sections`")
    failed = failed_gates_said(runs[-1].metrics)
    said = f"; it fails its gates: {failed}; treat its suggestions with care" if failed else ""
    return runs[-1], f"newest sections run {runs[-1].run_id} (no active dj_section model{said})"


def _backbone(run: Run) -> Backbone:
    """The backbone the run was trained on (:func:`workbench.widgets.suggest.run_backbone`)."""
    from workbench.widgets.suggest import run_backbone

    return run_backbone(run)


#: What ``suggest`` says of its suggestions when no section model is trained yet.
FALLBACK_SAID = ("no section model yet: unsupervised novelty boundaries (labels guessed from position and "
                 "loudness, all uncertain); label sections and run `workbench train sections` for a model")


def _cmd_suggest(args: argparse.Namespace) -> int:
    from workbench.labels.uncertain import UNCERTAIN_BELOW, uncertain_rule, unlike_note
    from workbench.train.sections import fallback_suggestions, load_section_model, suggest_sections

    with open_library(args) as lib:
        track = lib.track(args.track)
        try:
            run, source = section_run(args, lib)
        except SectionModelDeactivatedError as off:
            run, source = None, str(off)
        except NoSectionModelError:
            run, source = None, FALLBACK_SAID
        below = None  # the model's threshold for "uncertain"; None: no model (every suggestion uncertain)
        mapped = True  # whether the model kept its calibration map (else its confidence is only temperature-scaled)
        if run is None:
            found = fallback_suggestions(lib, track)
        else:
            if run.kind != "sections" or run.model_path is None:
                raise NoSectionModelError(f"run {run.run_id} is not a sections run with a model.pt "
                                          f"(kind {run.kind!r})")
            trainer, features, transitions = load_section_model(run.model_path)
            found = suggest_sections(lib, track, model=trainer, backbone=_backbone(run), features=features,
                                     transitions=transitions)
            below = float(getattr(trainer, "uncertain_below_", UNCERTAIN_BELOW))
            mapped = getattr(trainer, "confidence_map_", None) is not None
        none_because = None if found else _none_because(lib, track)
    rule = uncertain_rule(below, mapped=mapped)
    rows = [suggestion_row(s) for s in found]
    unlike = found[0].unlike_labelled if found else None  # the track's distance to the training tracks, when unlike them
    served_by = found[0].served_by if found else None  # self_training_route: which of the model's heads served it
    run_id = None if run is None else run.run_id
    if args.json:
        print_json({"track_id": track.id, "track_name": track.name, "run_id": run_id, "model": source,
                    "uncertain_below": below, "uncertain_rule": rule, "unlike_labelled": unlike, "served_by": served_by, "suggestions": rows,
                    "no_suggestions_reason": none_because})
        return 0
    print(f"{track.name} (track {track.id}): " + (source if run is None else f"suggestions of {source}"
                                                   + ("" if run_id in source else f", run {run_id}")))
    if served_by is not None:
        print(f"served by the {served_by} model ({_ROUTE_SAID[served_by]})")
    if found and found[0].family is not None:
        print(f"decoded in the label family {found[0].family}")
    if not found:  # no span the labeler would warn about is offered: a very short track gets none
        print(none_because)
        return 0
    print(f"{'label':7}  {'beats':>9}  {'seconds':>13}  confidence")
    for r in rows:
        print(suggestion_line(r, guess=run is None))
    print(rule)
    if unlike is not None:
        print(unlike_note(unlike))
    print("accept or correct them in the labeler (notebook 02)")
    return 0


#: Why a routed model (config self_training_route) served a track the head it did.
_ROUTE_SAID = {"base (labels only)": "the track sounds like your labelled tracks",
               "self-trained": "the track is unlike your labelled tracks"}


def _none_because(lib: Library, track: Any) -> str:
    """Why a track got no suggestion, in words (a track under ``WARN_BEATS`` beats: its length)."""
    from workbench.labels import WARN_BEATS, too_short_note
    from workbench.labels.api import Labels

    try:
        n_beats = Labels(lib).grid(track).n_beats
    except WorkbenchError:
        n_beats = None
    return ((too_short_note(n_beats) if n_beats is not None else None)
            or f"no suggestions: none at least {WARN_BEATS} beats long (the shortest section the labeler stores "
               "without a warning)")


def suggestion_row(s: Any) -> dict[str, Any]:
    """One suggestion's ``--json`` fields, its seconds with 4 decimals as the beat grid's (the last one, the track's
    duration, had full precision: 197.63485260770975 under 192.9941).

    Parameters
    ----------
    s : Suggestion
        A suggestion (:class:`~workbench.labels.Suggestion`).
    """
    row = {k: v for k, v in dataclasses.asdict(s).items() if k not in
           ("track_id", "model_name", "model_version", "uncertain_below", "confidence_mapped", "unlike_labelled",
            "served_by")}
    return {**row, "start_s": round(float(row["start_s"]), 4), "end_s": round(float(row["end_s"]), 4)}


def suggestion_line(row: dict[str, Any], *, guess: bool = False) -> str:
    """One suggestion as ``workbench suggest`` prints it, "uncertain" after its confidence where the model is unsure
    (``--json`` and the labeler said so; the text did not).

    Parameters
    ----------
    row : dict
        A suggestion's fields (:class:`~workbench.labels.Suggestion` as a dict): label, beats, seconds, confidence,
        uncertain.
    guess : bool
        The suggestion is a novelty boundary with a guessed label (no section model): its confidence reads
        "guess", as the labeler's does, not "0%" (a confidence the guess was never given).
    """
    confidence = "guess" if guess else f"{row['confidence']:.0%}"
    return (f"{row['label']:7}  {row['start_beat']:>4}-{row['end_beat']:<4}  {row['start_s']:6.1f}-{row['end_s']:<6.1f}  "
            f"{confidence}" + ("  uncertain" if row.get("uncertain") else ""))
