"""What the comparison of runs reads from each run: metrics and their directions, parameters, the data diff.

- :func:`scalar_metrics` and :func:`run_params`: a run's numeric metrics and its parameters, dotted;
  :func:`count_metrics`: which metrics are counts (shown as integers);
  :func:`config_params`: its config, with keys other kinds name differently read as one name.
- :data:`METRIC_DIRECTIONS` and :func:`metric_direction`: whether higher or lower is better for a
  metric; a metric not in the table (counts, supports, seconds) has no direction and no "best".
- :func:`config_defaults` and :func:`differing_params`: the config a run gets for a key it does not set (a key
  newer than the run), so that such a key at an "off" default is no difference (any other default may be the change).
- :class:`DataDiff` and :func:`data_diff`: tracks and labels added or removed between two runs,
  always read from the earlier run to the later one.

Split out of :mod:`workbench.experiments`, which re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.runs import flatten

if TYPE_CHECKING:
    from workbench.runs import Run

#: Whether a higher or a lower value is better, by a metric's last name (or a group it sits in).
#: Anything not here (counts, supports, seconds, temperatures, window numbers) gets no "best" mark.
METRIC_DIRECTIONS: dict[str, str] = {
    **dict.fromkeys(("accuracy", "balanced_accuracy", "macro_f1", "micro_f1", "weighted_f1", "f1", "precision",
                     "recall", "map_at_r", "track_map_at_r", "mean_average_precision_at_r", "precision_at_1",
                     "precision_at_3", "precision_at_5", "precision_at_10", "r_precision", "silhouette", "nmi", "ami",
                     "ari", "pairwise_f", "pairwise_precision", "pairwise_recall", "label_accuracy",
                     "smoothed_accuracy", "boundary_f_3s", "boundary_f_0.5s", "boundary_precision_3s",
                     "boundary_precision_0.5s", "boundary_recall_3s", "boundary_recall_0.5s", "val_accuracy",
                     "val_map_at_r", "val_macro_f1", "best_val_macro_f1", "best_val_accuracy", "invariance", "cosine"),
                    "higher"),
    **dict.fromkeys(("loss", "train_loss", "val_loss", "best_val_loss", "error", "error_rate", "ece", "ece_before",
                     "ece_after", "intro_outro_confusion", "intro_as_outro", "outro_as_intro"), "lower"),
}
_SKIP_METRIC_KEYS = ("per_class", "confusion", "classes")


def metric_direction(name: str) -> str | None:
    """``"higher"``, ``"lower"`` or None (no known direction: never marked best) for a dotted metric name.

    The longest dotted tail in :data:`METRIC_DIRECTIONS` decides (``segments.raw.boundary_f_0.5s`` ->
    ``boundary_f_0.5s``), else the nearest group that is in it (``invariance.pitch+1st.model`` ->
    ``invariance``).

    Parameters
    ----------
    name : str
        A metric name as :func:`scalar_metrics` gives it (``model.accuracy``).
    """
    parts = str(name).split(".")
    for k in range(len(parts)):
        tail = ".".join(parts[k:])
        if tail in METRIC_DIRECTIONS:
            return METRIC_DIRECTIONS[tail]
    for part in reversed(parts[:-1]):
        if part in METRIC_DIRECTIONS:
            return METRIC_DIRECTIONS[part]
    return None


def headline_first(names: Iterable[str]) -> list[str]:
    """Dotted metric names with the model's own (``model.*``, ``model_smoothed.*``) first, the rest in their order.

    A sections run records some 300 metrics; by name alone the model's accuracy came after every
    baseline's and calibration row (the model card, ``runs compare``, notebook 05).

    Parameters
    ----------
    names : iterable of str
        As :func:`scalar_metrics` gives them (``model.accuracy``).

    Returns
    -------
    list of str
    """
    names = [str(n) for n in names]
    own = [n for n in names if n.split(".")[0] in ("model", "model_smoothed")]
    return own + [n for n in names if n not in set(own)]


def backbone_name(run: Run) -> str | None:
    """The run's backbone name (``run.json``, else ``data.json``), or None.

    Parameters
    ----------
    run : Run
    """
    bb = run.info.get("backbone") or run.data.get("backbone")
    if isinstance(bb, Mapping):
        return bb.get("name")
    return bb


def scalar_metrics(run: Run) -> dict[str, float]:
    """Every numeric metric, dotted (``model.accuracy``, ``invariance.pitch+1st.model``); lists and per-class left out.

    Parameters
    ----------
    run : Run
    """
    flat = flatten({k: v for k, v in run.metrics.items() if k not in _SKIP_METRIC_KEYS})
    return {k: float(v) for k, v in flat.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
            and not any(part in _SKIP_METRIC_KEYS for part in k.split("."))}


def count_metrics(runs: Iterable[Run]) -> set[str]:
    """The dotted metrics that are counts (tracks, windows, epochs, supports): every run that records one stores a
    whole number (a JSON integer), never a fraction. Tables show them, and their differences, as integers
    (``+3``, not ``+3.0000``; :func:`workbench.report.html.number`).

    Parameters
    ----------
    runs : iterable of Run

    Returns
    -------
    set of str
        Names as :func:`scalar_metrics` gives them.
    """
    whole: set[str] = set()
    fractional: set[str] = set()
    for run in runs:
        flat = flatten({k: v for k, v in run.metrics.items() if k not in _SKIP_METRIC_KEYS})
        for k, v in flat.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                (whole if isinstance(v, int) else fractional).add(k)
    return whole - fractional


#: Config keys that older or other-kind runs stored under another name, read as the one name
#: (embeddings runs store ``--epochs`` as ``max_epochs``, sections runs as ``epochs``).
CONFIG_ALIASES: dict[str, str] = {"max_epochs": "epochs"}


def config_params(config: Mapping[str, Any]) -> dict[str, Any]:
    """A run's ``config.json`` flattened to dotted keys, with :data:`CONFIG_ALIASES` read as one name.

    Parameters
    ----------
    config : Mapping
        ``run.config`` as stored (any run, any age: the key it has is read).

    Returns
    -------
    dict
        Dotted key -> value; ``max_epochs`` is ``epochs`` (when both are there, both stay).
    """
    flat = flatten(dict(config))
    for old, new in CONFIG_ALIASES.items():
        if old in flat and new not in flat:
            flat = {(new if k == old else k): v for k, v in flat.items()}
    return flat


def run_params(run: Run) -> dict[str, Any]:
    """The run's parameters: kind, backbone, seed, code version, data facts and ``config.*``, dotted.

    Parameters
    ----------
    run : Run
    """
    p: dict[str, Any] = {"kind": run.kind, "backbone": backbone_name(run), "seed": run.info.get("seed"),
                         "code_version": run.info.get("code_version"),
                         "data.fingerprint": str(run.data["fingerprint"])[:12] if run.data.get("fingerprint") else None,
                         "data.tracks": len(run.data["tracks"]) if run.data.get("tracks") is not None else None}
    for k, v in (run.data.get("label_counts") or {}).items():
        p[f"data.labels.{k}"] = v
    p.update({f"config.{k}": v for k, v in config_params(run.config).items()})
    if p.get("config.backbone") == "features":  # embeddings runs before session 12: the frontend's CLI name
        p["config.backbone"] = "features-v1"
    return p


def config_defaults(kind: str) -> dict[str, Any]:
    """The config a training job of ``kind`` uses for a key it is not given, dotted as :func:`config_params` gives a
    run's config (JSON values: a tuple reads as the list a run stores).

    Parameters
    ----------
    kind : str
        A run kind; ``"embeddings"`` and ``"sections"`` have defaults, any other kind none.

    Returns
    -------
    dict
        Dotted key -> default value; ``{}`` for a kind without defaults.
    """
    import json
    from dataclasses import asdict

    if kind == "embeddings":
        from workbench.train.embeddings_job import EMBEDDING_DATA_DEFAULTS
        from workbench.train.triplet_config import TripletConfig

        found: dict[str, Any] = {**EMBEDDING_DATA_DEFAULTS, **asdict(TripletConfig())}
    elif kind == "sections":
        from workbench.train.sections.training import CONFIG_DEFAULTS

        found = dict(CONFIG_DEFAULTS)
    else:
        return {}
    return config_params(json.loads(json.dumps(found, default=str)))


#: A config key that does nothing while another key is off: absent from a run (newer than it), it reads as its
#: default where that other key reads off in the run (``pretrain_loss`` without a first stage changes nothing).
ACTS_ONLY_WITH: dict[str, str] = {"pretrain_loss": "pretrain_epochs", "backbone_lr": "finetune_backbone",
                                  "finetune_blocks": "finetune_backbone", "finetune_frames": "finetune_backbone"}


#: A config key whose every value was a choice before it existed: a run that predates it trained as this value says
#: (``checkpoint_on``: every sections run before session 22 kept the lowest validation loss).
BEFORE_THE_KEY: dict[str, Any] = {"checkpoint_on": "loss"}


def _off(value: Any) -> bool:
    """Whether a config value turns its feature off (0, false, none, empty): what a run made before the key did."""
    if value is None or isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value == 0
    if isinstance(value, str):
        return value.lower() in ("", "off", "none")
    return isinstance(value, (list, tuple, dict)) and not value


def _absent_as(key: str, own: Mapping[str, Any], defaults: Mapping[str, Any], prefix: str) -> Any:
    """What a run that does not set config ``key`` ran with, as far as is known: its default where that default is
    off (a feature the run predates: it did not have it either) or the key acts only with one that reads off;
    else None (unknown: a default such as ``early_stopping="auto"`` may be what changed, so "-" shows)."""
    if key in BEFORE_THE_KEY and key in defaults:
        return BEFORE_THE_KEY[key]
    default = defaults.get(key)
    if _off(default):
        return default
    gate = ACTS_ONLY_WITH.get(key)
    if gate is not None:
        value = own[prefix + gate] if prefix + gate in own else _absent_as(gate, own, defaults, prefix)
        if gate in defaults and _off(value):
            return default
    return None


def differing_params(runs: Iterable[Run], params: Mapping[str, Mapping[str, Any]], *,
                     prefix: str = "config.") -> list[str]:
    """The parameter names whose values differ between ``runs``, a config key a run does not set (one newer than
    the run) read as its kind's default (:func:`config_defaults`) only where that is what the run did: a default that
    turns a feature off (``pretrain_epochs`` 0 against a run from before it existed is no difference), or a key that
    acts only with one that reads off (:data:`ACTS_ONLY_WITH`). Any other default may be the change itself (a run
    from before ``early_stopping="auto"`` or ``blend="auto"`` did not train that way): it reads as unknown and shows.

    Parameters
    ----------
    runs : iterable of Run
    params : mapping of str to mapping
        ``{run_id: {name: value}}``, each run's parameters as recorded (a name absent where the run does not set it).
    prefix : str
        What a config key's name starts with in ``params`` (``"config."`` as :func:`run_params` names them,
        ``""`` for :func:`config_params`'s names).

    Returns
    -------
    list of str
        The names that differ, in the order they first appear.
    """
    runs = list(runs)
    defaults = {kind: config_defaults(kind) for kind in {r.kind for r in runs}}
    out = []
    for name in dict.fromkeys(k for r in runs for k in params[r.run_id]):
        key = name[len(prefix):] if name.startswith(prefix) else None
        seen = set()
        for r in runs:  # absent and unknown: None, as the tables write both ("-")
            own = params[r.run_id]
            seen.add(repr(own[name] if name in own else
                          _absent_as(key, own, defaults[r.kind], prefix) if key is not None else None))
        if len(seen) > 1:
            out.append(name)
    return out


def chronological(runs: list[Run]) -> list[Run]:
    """The runs oldest first (``run.json`` ``created_at``, then run id; the order given breaks ties).

    Parameters
    ----------
    runs : list of Run
    """
    return sorted(runs, key=lambda r: (str(r.info.get("created_at") or ""), r.run_id))

@dataclass(frozen=True)
class DataDiff:
    """What changed in the data from run ``base`` to run ``other``.

    ``labels_added``/``labels_removed`` are None when either run did not record ``data.json["labels"]``.
    ``label_counts`` maps each class to (count in base, count in other).
    """

    base: str
    other: str
    fingerprint_changed: bool | None
    tracks_added: list[str]
    tracks_removed: list[str]
    labels_added: list[dict[str, Any]] | None
    labels_removed: list[dict[str, Any]] | None
    label_counts: dict[str, tuple[int, int]] = field(default_factory=dict)

    def summary(self) -> str:
        """One line per change, for the CLI and notebooks."""
        lines = [f"data from {self.base} to {self.other} (the later run):"]
        fp = {None: "not recorded", True: "changed", False: "same"}[self.fingerprint_changed]
        lines.append(f"  fingerprint: {fp}")
        lines.append(f"  tracks: +{len(self.tracks_added)} -{len(self.tracks_removed)}"
                     + (f" (added {', '.join(self.tracks_added[:5])}{' ...' if len(self.tracks_added) > 5 else ''})"
                        if self.tracks_added else ""))
        changed = {k: v for k, v in self.label_counts.items() if v[0] != v[1]}
        if self.labels_added is not None:
            lines.append(f"  labels: +{len(self.labels_added)} -{len(self.labels_removed or [])}")
        elif self.fingerprint_changed is False:  # the fingerprint hashes the tracks and their labels
            lines.append("  labels: the same (the fingerprint covers them)")
        elif self.fingerprint_changed and self.label_counts:  # a run keeps its counts per class, not its labels
            lines.append("  labels: which were added or removed is not recorded; the counts per class "
                         + ("changed (below)" if changed else "are the same"))
        else:
            lines.append("  labels added/removed: not recorded")
        if changed:
            lines.append("  label counts: " + ", ".join(f"{k} {a}->{b}" for k, (a, b) in changed.items()))
        return "\n".join(lines)

    def to_html(self) -> str:
        from workbench.report.html import esc

        return "<pre>" + esc(self.summary()) + "</pre>"


def _label_key(label: Mapping[str, Any]) -> tuple:
    return (str(label.get("track_hash")), str(label.get("label")), round(float(label.get("start_s", 0)), 2),
            round(float(label.get("end_s", 0)), 2))


def data_diff(base: Run, other: Run) -> DataDiff:
    """Tracks and labels added or removed between two runs' ``data.json``, read from the earlier run to the later.

    Parameters
    ----------
    base, other : Run
        The two runs in any order: the diff always goes from the one created first (``created_at``,
        then run id) to the other, so "added" means present in the later run only.

    Returns
    -------
    DataDiff
        Tracks by content hash (shown by name); labels by (track hash, label, start and end in
        seconds rounded to 10 ms).
    """
    def tracks(run: Run) -> dict[str, str]:
        """Content hash (or id) -> name (or id) of the run's tracks.

        Parameters
        ----------
        run : Run
        """
        return {str(t.get("content_hash") or t.get("id")): str(t.get("name") or t.get("id"))
                for t in run.data.get("tracks") or []}

    base, other = chronological([base, other])
    ta, tb = tracks(base), tracks(other)
    la, lb = base.data.get("labels"), other.data.get("labels")
    if la is not None and lb is not None:
        ka = {_label_key(x): x for x in la}
        kb = {_label_key(x): x for x in lb}
        added: list | None = [kb[k] for k in kb if k not in ka]
        removed: list | None = [ka[k] for k in ka if k not in kb]
    else:
        added = removed = None
    ca, cb = base.data.get("label_counts") or {}, other.data.get("label_counts") or {}
    counts = {k: (int(ca.get(k, 0)), int(cb.get(k, 0))) for k in dict.fromkeys([*ca, *cb])}
    fa, fb = base.data.get("fingerprint"), other.data.get("fingerprint")
    return DataDiff(base=base.run_id, other=other.run_id,
                    fingerprint_changed=None if fa is None or fb is None else fa != fb,
                    tracks_added=[tb[h] for h in tb if h not in ta], tracks_removed=[ta[h] for h in ta if h not in tb],
                    labels_added=added, labels_removed=removed, label_counts=counts)
