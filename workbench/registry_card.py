"""The model card (Markdown) written next to each registered version."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.registry_types import Version

_INTENDED = {
    "dj_section": ("Label sections of tracks in the owner's own library with DJ section names "
                   "(intro, build, drop, break, outro, verse, chorus), as suggestions to review in the labeling "
                   "screen or a DJ app."),
    "embedding": ("Embed 1-second windows (or sections) of the owner's tracks for similarity search "
                  "(\"more like this\", mix suggestions): compare embeddings by dot product."),
    "head": ("Map a pooled backbone embedding to the 256-d similarity space: the app computes the backbone, "
             "this model the fine-tuned projection."),
}


def card_number(value: float) -> str:
    """A measured value as the card prints it: 4 fixed decimals, as every table and sentence of the workbench
    writes a score (:func:`workbench.wording.score_text`); the runs' metrics.json keep every digit.

    A metric over tens of queries does not support 16 digits, and ``0.98`` beside ``0.9621`` reads as two
    precisions. A nonzero value that 4 decimals would write as 0 keeps three significant digits.

    Parameters
    ----------
    value : float

    Returns
    -------
    str
        ``0.6329``, ``0.9800``, ``1.0000``, ``1.23e-05``.
    """
    from workbench.wording import score_text

    if isinstance(value, int) and not isinstance(value, bool):  # a count stays whole
        return str(value)
    if value != 0 and abs(value) < 5e-5:
        return f"{value:.3g}"
    return score_text(value)


def _table(rows: list[tuple[str, Any]]) -> str:
    out = ["| | |", "|---|---|"]
    for k, v in rows:
        if isinstance(v, float):
            text = card_number(v)
        elif v is None:  # a value the run did not measure: "-", as the card's other tables write it, not JSON's null
            text = "-"
        else:
            text = v if isinstance(v, str) else json.dumps(v, default=str)
        out.append(f"| {k} | {text.replace('|', '/')} |")
    return "\n".join(out)


def _blend_lines(model_type: str, metrics: dict[str, Any], meta: dict[str, Any] | None = None) -> list[str]:
    """What an app must add to an embedding or head model whose run blends the head with its backbone in search,
    or, for an embedding model that carries the blend (``search_blend`` in its metadata), that it adds nothing.

    Parameters
    ----------
    model_type : str
        The version's model type.
    metrics : dict
        The run's metrics (``metrics.json``); ``blend.weight`` is the backbone's share of the cosine.
    meta : dict or None
        The package's metadata (``search_blend``: the blend the model computes).
    """
    carried = (meta or {}).get("search_blend")
    recorded = metrics.get("blend") if isinstance(metrics.get("blend"), dict) else {}
    whose = (carried if isinstance(carried, dict) else {}).get("backbone_stats") or recorded.get("backbone")
    stats = ("as workbench search z-scores the bare backbone: the library's windows when the run was trained"
             if whose == "search" else "with the training windows' statistics")
    if model_type == "embedding" and isinstance(carried, dict) and carried.get("weight"):
        w = float(carried["weight"])
        return [f"- search blend: carried inside the model. Its output `{carried.get('output', 'embedding_blend')}` "
                f"({carried.get('dim')} floats per window) is [sqrt({w:g}) x the unit z-scored backbone vector "
                f"({carried.get('backbone_dim')} floats), sqrt({1 - w:g}) x the head ({carried.get('head_dim')} "
                f"floats)]: its plain cosine is workbench search's window score, {w:g} x the cosine of the backbone "
                f"vectors (z-scored {stats}) + {1 - w:g} x the cosine of the head; "
                "the app adds nothing"]
    weight = (metrics.get("blend") or {}).get("weight") if isinstance(metrics.get("blend"), dict) else None
    if model_type not in ("embedding", "head") or not weight:
        return []
    return [f"- search blend: workbench ranks with {weight:g} x the cosine of the backbone vectors (z-scored "
            f"{stats}) + {1 - weight:g} x the cosine of this head's output; this model "
            "outputs the head alone, so an app that wants the same ranking blends the two itself"
            + (" (or uses this run's embedding model, whose output carries the blend)" if model_type == "head" else "")]


def model_card(doc: dict[str, Any]) -> str:
    """Markdown for one registry version document (the ``<type>_v<N>.json`` contents).

    Parameters
    ----------
    doc : dict
        The version document: ``model_type``, ``version``, ``name``, ``metadata``, ``metrics``,
        ``export`` (lint, parity, size), ``gates`` and ``forced``; missing keys are left out of the card.

    Returns
    -------
    str
        The card's Markdown.
    """
    from workbench.experiments_compare import headline_first
    from workbench.registry_types import flatten_metrics

    meta = doc.get("metadata", {})
    name = doc.get("name", f"{doc.get('model_type')}_v{doc.get('version')}")
    mtype = doc.get("model_type", "")
    export = doc.get("export") or {}
    lint = export.get("lint") or {}
    parity = export.get("parity") or {}
    backbone = meta.get("backbone") or {}
    metrics = flatten_metrics(doc.get("metrics") or meta.get("training_metrics") or {})
    lines = [
        f"# {name}",
        "",
        *_forced_lines(doc.get("forced") or []),
        str(meta.get("description", "")),
        "",
        _table([("model type", mtype), ("version", meta.get("version", "")), ("created", _created(doc.get("created_at"))),
                ("author", meta.get("author", "")), ("licence", meta.get("license", "")),
                ("workbench", meta.get("workbench_version", "")), ("training run", doc.get("run_id") or "-"),
                ("training job", doc.get("job_id") if doc.get("job_id") is not None else "-"),
                ("deployment target", meta.get("deployment_target", "")), ("I/O dtype", meta.get("io_dtype", "")),
                ("compute precision", meta.get("compute_precision") or "ML Program, fp16" + (
                    f"; float32: {meta['fp32_island']}" if meta.get("fp32_island") else "")), ("weight compression", meta.get("compression", "none")),
                ("size", f"{export.get('size_bytes', 0) / 1e6:.2f} MB" if export.get("size_bytes") else "-")]),
        "",
        "## Intended use",
        "",
        _INTENDED.get(mtype, ""),
        "",
        "Not intended for: music outside the styles it was trained on without checking its metrics there, "
        "or any decision about people. It was trained on one person's library; its labels reflect that "
        "person's conventions.",
        "",
        "## Training data",
        "",
        _table([("data fingerprint", meta.get("data_fingerprint") or "-"),
                ("backbone", backbone.get("name", "-") + (f": {backbone['said']}" if backbone.get("said") else "")),
                ("backbone settings", {k: v for k, v in backbone.items()
                                                                              if k != "name"} or "-"),
                ("weights source", meta.get("weights_source") or "-"),
                ("labels", ", ".join(meta.get("labels") or []) or "-")]),
        "",
        "## Metrics",
        "",
        _table([(k, metrics[k]) for k in headline_first(sorted(metrics))]) if metrics else
        "No training metrics were recorded.",
        "",
        "## Blocking gates",
        "",
        *_gate_lines(doc.get("gates")),
        "",
        "## Inputs and outputs",
        "",
    ]
    for key in ("inputs", "outputs"):
        for n, d in (meta.get(key) or {}).items():
            lines.append(f"- **{n}** ({key[:-1]}): {d}")
    track = meta.get("track_in") or {}
    if track:  # the whole-track section model (workbench.export.track_in)
        lines += [f"- input shape [1, n] (flexible: n from {meta['input_shape'][1]} samples, "
                  f"{track.get('min_s')} s to {track.get('max_s')} s), {meta.get('io_dtype', 'fp32')}",
                  f"- window times: {track.get('times_s')}",
                  f"- temperature {meta.get('temperature', 1.0)} applied to the logits; {track.get('smoothing')}"]
    elif meta.get("input_shape"):
        lines.append(f"- input shape {meta['input_shape']} (static), {meta.get('io_dtype', 'fp32')}")
    if meta.get("frontend"):
        lines.append(f"- frontend: {meta['frontend']}")
    if meta.get("input_range") and not meta.get("track_in"):  # the input shape above is the traced example
        lines = [ln.replace(" (static),", f" (traced example; flexible axis: [lowest, highest] {meta['input_range']}),")
                 for ln in lines]
    if meta.get("sample_rate"):
        lines.append(f"- audio: {meta['sample_rate']} Hz, windows of {meta.get('window_samples')} samples "
                     f"({meta.get('window_s')} s) every {meta.get('hop_s')} s, {meta.get('channels')}, "
                     f"{meta.get('level')}")
    for key, what in (("fp32_island", "float32 island"), ("audio_in", "audio input")):
        if meta.get(key):
            lines.append(f"- {what}: {meta[key]}")
    norm = meta.get("track_norm")
    if isinstance(norm, dict):  # a vector-in section model over window features z-scored within the track
        lines.append(f"- input normalisation the app does per track: {norm.get('how')}; raw columns "
                     f"{norm.get('raw_columns')} of {norm.get('dim')}")
    lines += _blend_lines(mtype, doc.get("metrics") or meta.get("training_metrics") or {}, meta)
    lines += [
        "",
        "## Checks made on the build machine (Linux)",
        "",
        f"- Neural Engine lint: {lint.get('errors', '?')} errors, {lint.get('warnings', '?')} warnings, "
        f"{lint.get('notes', '?')} notes."
        + (f" Neural-Engine eligible: {lint['ane_eligible_ops']}/{lint['compute_ops']} compute ops "
           f"({100 * lint['ane_eligible_share']:.0f}%, a static estimate; MLComputePlan on a Mac decides)."
           if lint.get("compute_ops") else ""),
    ]
    dynamic = [f for f in lint.get("findings", []) if "has a dynamic shape" in f.get("message", "")]
    if dynamic:  # a flexible-length (whole-track) model: one line, not one per op
        lines.append(f"  - error: {len(dynamic)} inputs/ops have a flexible shape (the track's length): Core ML runs "
                     "them on the GPU or CPU, not the Neural Engine")
    for f in lint.get("findings", []):
        if f.get("level") != "note" and f not in dynamic:
            lines.append(f"  - {f['level']}: `{f['op']}` {f['message']}")
    if parity:
        agree = parity.get("label_agreement")
        psnr = parity.get("psnr_db")
        psnr = f"{psnr:.1f}" if isinstance(psnr, (int, float)) else str(psnr)
        lines.append(f"- Parity with PyTorch (NumPy evaluator of the saved program, {parity.get('n_windows')} windows): "
                     f"PSNR {psnr} dB (target >= 60)"
                     + (f", same label on {100 * agree:.1f}% (target >= 99.5%)" if agree is not None else "")
                     + (f"; largest fp16 activation {parity.get('fp16_max_abs', 0):.4g} (limit 65504)."
                        if parity.get("fp16_worst_op", "?") else "; no fp16 activation (float32 throughout)."))
    else:
        lines.append("- Parity: not checked.")
    lines += [
        "- Not checked here: which ops Core ML actually places on the Neural Engine. On a Mac, open the model in "
        "Xcode (Performance tab) or use `MLComputePlan`.",
        "",
        "## Loading it in Swift",
        "",
        "Compile the package once (Xcode does it when you add it to a target), or at build time:",
        "",
        "```sh",
        f"xcrun coremlcompiler compile {name}.mlpackage build/",
        "```",
        "",
        "or at run time:",
        "",
        "```swift",
        "import CoreML",
        "",
        f"let compiled = try await MLModel.compileModel(at: URL(fileURLWithPath: \"{name}.mlpackage\"))",
        "let config = MLModelConfiguration()",
        "config.computeUnits = .all  // lets Core ML use the Neural Engine",
        "let model = try MLModel(contentsOf: compiled, configuration: config)",
        *_swift_predict(meta),
        "```",
        "",
    ]
    return "\n".join(lines)


def _gate_lines(gates: Any) -> list[str]:
    """The blocking gates checked at export (better than the baselines, not worse than the active version)."""
    if not gates:
        return ["Not checked (registered before gates were checked)."]
    out = ["| gate | metric | value | must be | reference | status |", "|---|---|---|---|---|---|"]
    for g in gates:
        value = g.get("value")
        target = g.get("target")
        out.append(f"| {g.get('name')} | {g.get('metric')} | {'-' if value is None else card_number(value)} | "
                   f"{g.get('op')} | {g.get('reference')} {'-' if target is None else card_number(target)} | "
                   f"{g.get('status')} |")
    return out


def _forced_lines(forced: list[dict[str, Any]]) -> list[str]:
    """A warning at the top of the card for each time the model was forced past failing gates."""
    out = []
    for f in forced:
        gates = "; ".join(f"{g.get('name')} ({g.get('metric')}: {g.get('status')})"
                          for g in f.get("failing_gates") or [])
        out += [f"> **Forced ({f.get('action', 'export')}, {_created(f.get('at'))})**: this model failed its blocking "
                f"gates and was let through with `--force`. Failing: {gates or '-'}.", ""]
    return out


def _swift_predict(meta: dict[str, Any]) -> list[str]:
    inputs = list(meta.get("inputs") or {})
    shape = meta.get("input_shape")
    if not inputs or not shape:
        return []
    dtype = ".float16" if meta.get("io_dtype") == "fp16" else ".float32"
    if meta.get("track_in"):
        return [f"let x = try MLMultiArray(shape: [1, NSNumber(value: samples.count)], dataType: {dtype})  "
                "// the whole track, mono",
                f"let input = try MLDictionaryFeatureProvider(dictionary: [\"{inputs[0]}\": x])",
                "let out = try await model.prediction(from: input)",
                'let probs = out.featureValue(for: "label_probs")?.multiArrayValue  // (n_windows, n_labels)',
                'let times = out.featureValue(for: "times_s")?.multiArrayValue  // window centres, seconds']
    lines = [f"let x = try MLMultiArray(shape: {list(shape)}, dataType: {dtype})  // fill with the input",
             f"let input = try MLDictionaryFeatureProvider(dictionary: [\"{inputs[0]}\": x])",
             "let out = try await model.prediction(from: input)"]
    if meta.get("labels"):
        lines.append('let label = out.featureValue(for: "label")?.stringValue')
    else:
        output = next(iter(meta.get("outputs") or {}), "embedding_256")  # embedding_blend: search's blend inside
        lines.append(f'let embedding = out.featureValue(for: "{output}")?.multiArrayValue  // compare by cosine')
    if meta.get("input_range"):  # a whole-track model: the track's length, not the traced example
        lines[0] = (f"let x = try MLMultiArray(shape: [1, NSNumber(value: samples.count)], dataType: {dtype})  "
                    f"// the whole track's samples (flexible length {meta['input_range']})")
    return lines


def _created(created_at: object) -> str:
    """``created_at`` as every shown time says it, ``"2026-12-07 05:05 (UTC)"`` (:func:`workbench.runs.started_text`
    with ``zone=True``: a text that is no time is kept, with no zone); ``""`` when not recorded."""
    from workbench.runs import started_text

    return started_text(created_at, zone=True) or ""


def card_text(version: Version) -> str:
    """A registered version's model card as shown to the user: rendered from its JSON now.

    A card file written before the cards rounded their figures (16 digits) is left as it is on
    disk; what is shown is today's card of the same document (three decimals). A version whose
    JSON cannot be read shows its card file.

    Parameters
    ----------
    version : Version
        A registered version (:meth:`workbench.registry.Registry.get`).

    Returns
    -------
    str
        The card's Markdown.
    """
    try:
        doc = json.loads(version.json_path.read_text())
    except (OSError, ValueError):
        return version.card_path.read_text()
    return model_card(doc) if isinstance(doc, dict) else version.card_path.read_text()
