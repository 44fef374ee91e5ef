"""Metrics of workbench.evaluate: cross-checked against pytorch-metric-learning, sklearn and hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest

from workbench import evaluate as E
from workbench.errors import ParameterError


def clustered(n_classes: int = 5, n_per: int = 30, dim: int = 16, spread: float = 1.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), n_per)
    centers = rng.normal(size=(n_classes, dim)) * 3
    return centers[labels] * spread + rng.normal(size=(labels.size, dim)), labels


# ---------------------------------------------------------------- retrieval

def test_retrieval_matches_pytorch_metric_learning():
    torch = pytest.importorskip("torch")
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 6, 240)
    labels[:2] = [9, 10]  # two lone classes: excluded as queries by both
    emb = rng.normal(size=(240, 12)) + 0.4 * labels[:, None]
    x = torch.tensor(emb / np.linalg.norm(emb, axis=1, keepdims=True), dtype=torch.float32)
    y = torch.tensor(labels)
    calc = AccuracyCalculator(include=("precision_at_1", "r_precision", "mean_average_precision_at_r"),
                              k="max_bin_count")
    ref = calc.get_accuracy(x, y, x, y, ref_includes_query=True)
    ours = E.retrieval_metrics(emb, labels)
    assert ours["n_queries"] == 238
    assert ours["precision_at_1"] == pytest.approx(ref["precision_at_1"], abs=1e-6)
    assert ours["r_precision"] == pytest.approx(ref["r_precision"], abs=1e-6)
    # float32 averages summed in another order (ours per query block): equal to ~1e-6
    assert ours["map_at_r"] == pytest.approx(ref["mean_average_precision_at_r"], abs=1e-5)
    assert E.precision_at_k(emb, labels, 1) == pytest.approx(ref["precision_at_1"], abs=1e-6)
    assert E.r_precision(emb, labels) == pytest.approx(ref["r_precision"], abs=1e-5)
    assert E.map_at_r(emb, labels) == pytest.approx(ref["mean_average_precision_at_r"], abs=1e-5)


def test_precision_at_5_matches_brute_force():
    emb, labels = clustered(spread=0.3, seed=1)
    x = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    sims = x @ x.T
    scores = []
    for i in range(len(x)):
        order = [j for j in np.argsort(-sims[i], kind="stable") if j != i][:5]
        scores.append(np.mean(labels[order] == labels[i]))
    assert E.precision_at_k(emb, labels, 5) == pytest.approx(np.mean(scores))
    assert E.retrieval_metrics(emb, labels)["precision_at_5"] == pytest.approx(np.mean(scores))


def test_query_is_excluded_hand_worked():
    # a0 and a1 point the same way; b is closest to a0 -> a0's nearest other item is a1 (not itself)
    emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.6], [0.0, 1.0]])
    labels = np.array(["a", "a", "b", "b"])
    m = E.retrieval_metrics(emb, labels, per_class=True)
    # nearest others: a0->a1 (hit), a1->a0 (hit), b2->a1 (miss), b3->b2 (hit)
    assert m["precision_at_1"] == pytest.approx(0.75)
    assert m["r_precision"] == pytest.approx(0.75)
    assert m["per_class"]["b"]["precision_at_1"] == pytest.approx(0.5)
    assert m["per_class"]["a"]["n"] == 2


def test_retrieval_perfect_clusters_score_one():
    emb, labels = clustered(spread=10.0)
    m = E.retrieval_metrics(emb, labels)
    assert m["precision_at_1"] == m["precision_at_5"] == m["map_at_r"] == pytest.approx(1.0)


@pytest.mark.parametrize("emb, labels, match", [
    (np.zeros(4), np.zeros(4), "2-D"),
    (np.zeros((4, 2)), np.zeros((4, 1)), "1-D"),
    (np.zeros((4, 2)), np.zeros(3), "same length"),
    (np.zeros((1, 2)), np.zeros(1), "at least 2"),
    (np.full((3, 2), np.nan), np.zeros(3), "NaN"),
])
def test_retrieval_errors(emb, labels, match):
    with pytest.raises(ParameterError, match=match):
        E.retrieval_metrics(emb, labels)


def brute_force(emb, labels, groups):
    """MAP@R, P@1, P@5 in plain numpy: each query against the rows of other groups only."""
    x = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    sims = x @ x.T
    aps, p1, p5 = [], [], []
    for i in range(len(x)):
        refs = np.flatnonzero(groups != groups[i])
        r = int(np.sum(labels[refs] == labels[i]))
        if r == 0:
            continue
        hits = labels[refs[np.argsort(-sims[i, refs], kind="stable")]] == labels[i]
        precision = np.cumsum(hits[:r]) / np.arange(1, r + 1)
        aps.append(np.sum(precision * hits[:r]) / r)
        p1.append(hits[0])
        p5.append(hits[:5].mean())
    return {"map_at_r": np.mean(aps), "precision_at_1": np.mean(p1), "precision_at_5": np.mean(p5),
            "n_queries": len(aps)}


def tracks_of_windows(seed=0, n_tracks=30, n_classes=4, dim=12):
    """Windows of tracks (3..8 each): each track's windows sit together, classes overlap."""
    rng = np.random.default_rng(seed)
    per = rng.integers(3, 9, n_tracks)
    groups = np.repeat(np.arange(n_tracks) * 7 + 100, per)  # arbitrary track ids
    track_class = rng.integers(0, n_classes, n_tracks)
    labels = np.repeat(track_class, per)
    emb = (rng.normal(size=(n_classes, dim))[labels] + 1.5 * np.repeat(rng.normal(size=(n_tracks, dim)), per, axis=0)
           + 0.3 * rng.normal(size=(len(labels), dim)))
    return emb, labels, groups


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_track_windows_never_count_brute_force(seed):
    emb, labels, groups = tracks_of_windows(seed)
    ours = E.retrieval_metrics(emb, labels, groups=groups)
    ref = brute_force(emb, labels, groups)
    for key in ("map_at_r", "precision_at_1", "precision_at_5", "n_queries"):
        assert ours[key] == pytest.approx(ref[key], abs=1e-6), key
    assert E.map_at_r(emb, labels, groups=groups) == pytest.approx(ref["map_at_r"], abs=1e-6)
    assert E.precision_at_k(emb, labels, 5, groups=groups) == pytest.approx(ref["precision_at_5"], abs=1e-6)
    assert E.precision_at_k(emb, labels, 3, groups=groups) == pytest.approx(
        E.precision_at_k(emb, labels, 3, groups=groups.astype(str)))
    # counting the query's own track inflates every figure (that is what this protects against)
    leaky = E.retrieval_metrics(emb, labels)
    assert leaky["precision_at_1"] > ours["precision_at_1"] + 0.1 and leaky["map_at_r"] > ours["map_at_r"]


def test_groups_without_duplicates_equal_accuracy_calculator():
    torch = pytest.importorskip("torch")
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator

    emb, labels = clustered(spread=0.4, seed=4)
    x = torch.tensor(emb / np.linalg.norm(emb, axis=1, keepdims=True), dtype=torch.float32)
    ref = AccuracyCalculator(include=("precision_at_1", "mean_average_precision_at_r"), k="max_bin_count").get_accuracy(
        x, torch.tensor(labels), x, torch.tensor(labels), ref_includes_query=True)
    ours = E.retrieval_metrics(emb, labels, groups=np.arange(len(labels)) + 1000)  # each row its own track
    assert ours["precision_at_1"] == pytest.approx(ref["precision_at_1"], abs=1e-6)
    assert ours["map_at_r"] == pytest.approx(ref["mean_average_precision_at_r"], abs=1e-6)
    # one row per track: the track-level figures are the same thing
    assert ours["track_map_at_r"] == pytest.approx(ref["mean_average_precision_at_r"], abs=1e-6)


def test_queries_ask_only_from_their_rows_against_every_other_track():
    emb, labels, groups = tracks_of_windows(7)
    asking = np.isin(groups, np.unique(groups)[:8])  # 8 "held-out" tracks query the whole library
    ours = E.retrieval_metrics(emb, labels, groups=groups, queries=asking)
    full = brute_force(emb, labels, groups)  # per query; recompute the mean over the asking rows only
    x = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    aps = []
    for i in np.flatnonzero(asking):
        refs = np.flatnonzero(groups != groups[i])
        r = int(np.sum(labels[refs] == labels[i]))
        hits = labels[refs[np.argsort(-(x[refs] @ x[i]), kind="stable")]] == labels[i]
        aps.append(np.sum(np.cumsum(hits[:r]) / np.arange(1, r + 1) * hits[:r]) / r)
    assert ours["n_queries"] == asking.sum() and ours["map_at_r"] == pytest.approx(np.mean(aps), abs=1e-6)
    assert full["n_queries"] == len(labels) and ours["n_track_queries"] == 8
    with pytest.raises(ParameterError, match=r"queries needs groups"):
        E.retrieval_metrics(emb, labels, queries=asking)
    with pytest.raises(ParameterError, match=r"queries must be a boolean mask with one entry per row"):
        E.retrieval_metrics(emb, labels, groups=groups, queries=asking[:3])


def test_track_level_metrics_pool_each_track():
    emb, labels, groups = tracks_of_windows(5)
    ours = E.retrieval_metrics(emb, labels, groups=groups, per_class=True)
    ids = np.unique(groups)
    pooled = np.stack([(emb[groups == g] / np.linalg.norm(emb[groups == g], axis=1, keepdims=True)).mean(0)
                       for g in ids])
    track_labels = np.array([labels[groups == g][0] for g in ids])
    ref = brute_force(pooled, track_labels, np.arange(len(ids)))
    assert ours["track_map_at_r"] == pytest.approx(ref["map_at_r"], abs=1e-6)
    assert ours["track_precision_at_1"] == pytest.approx(ref["precision_at_1"], abs=1e-6)
    per = ours["per_class"]
    assert sum(v["n"] for v in per.values()) == ours["n_queries"]
    assert ours["precision_at_1"] == pytest.approx(sum(v["precision_at_1"] * v["n"] for v in per.values())
                                                   / ours["n_queries"])


def test_nothing_to_retrieve_is_nan_not_a_score():
    # every class on one track only: no query has a relevant item on another track
    emb, labels = clustered(n_classes=3, n_per=4, seed=2)
    m = E.retrieval_metrics(emb, labels, groups=labels)
    assert m["n_queries"] == 0 and np.isnan(m["map_at_r"]) and np.isnan(m["precision_at_1"])
    assert E.retrieval_metrics(np.eye(3), np.arange(3))["n_queries"] == 0
    with pytest.raises(ParameterError, match=r"groups must be a 1-D array with one entry \(track id\) per row \(12\)"):
        E.retrieval_metrics(emb, labels, groups=labels[:5])


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_precision_at_k_rejects_bad_k(k):
    with pytest.raises(ParameterError, match="k must be an integer"):
        E.precision_at_k(np.eye(4), np.array([0, 0, 1, 1]), k)


# ---------------------------------------------------------------- clustering

def test_clustering_separated_and_random():
    emb, labels = clustered(spread=3.0)
    good = E.clustering_metrics(emb, labels)
    assert good["silhouette"] > 0.5 and good["nmi"] > 0.95 and good["ami"] > 0.95
    rng = np.random.default_rng(0)
    bad = E.clustering_metrics(rng.normal(size=emb.shape), labels)
    assert bad["nmi"] < 0.2 and bad["silhouette"] < 0.1


def test_clustering_errors():
    with pytest.raises(ParameterError, match="between 2 and n-1"):
        E.clustering_metrics(np.eye(4), np.zeros(4))
    with pytest.raises(ParameterError, match="n_clusters must be"):
        E.clustering_metrics(np.eye(4), np.array([0, 0, 1, 1]), n_clusters=1)


# ---------------------------------------------------------------- classification

def test_classification_hand_worked():
    m = E.classification_metrics(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 2]),
                                 class_names=["intro", "drop", "outro", "chorus"])
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["confusion"] == [[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    assert m["classes"] == ["intro", "drop", "outro", "chorus"]
    assert m["per_class"]["drop"] == {"precision": pytest.approx(2 / 3), "recall": 1.0, "f1": pytest.approx(0.8),
                                      "support": 2}
    # macro F1 over classes present in the truth (chorus has no support): (2/3 + 0.8 + 1) / 3
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 1.0) / 3)


def test_classification_with_string_labels():
    m = E.classification_metrics(np.array(["a", "b", "b"]), np.array(["a", "b", "a"]))
    assert m["classes"] == ["a", "b"] and m["accuracy"] == pytest.approx(2 / 3)


def test_classification_errors():
    with pytest.raises(ParameterError, match="one length"):
        E.classification_metrics(np.zeros(3), np.zeros(2))
    with pytest.raises(ParameterError, match="empty"):
        E.classification_metrics(np.zeros(0), np.zeros(0))
    with pytest.raises(ParameterError, match=r"class indices must be in 0..1"):
        E.classification_metrics(np.array([0, 5]), np.array([0, 1]), class_names=["a", "b"])


# ---------------------------------------------------------------- segmentation

TRUTH = [{"start_s": 0.0, "end_s": 10.0, "label": "intro"}, {"start_s": 10.0, "end_s": 30.0, "label": "drop"},
         {"start_s": 30.0, "end_s": 40.0, "label": "outro"}]


def test_segmentation_identical_and_shifted():
    same = E.segment_scores(TRUTH, TRUTH)
    assert all(v == pytest.approx(1.0) for v in same.values())
    shifted = [{**s} for s in TRUTH]
    shifted[0]["end_s"] = shifted[1]["start_s"] = 11.0  # one boundary 1 s late
    s = E.segment_scores(TRUTH, shifted, duration_s=40.0)
    assert s["boundary_f_0.5s"] == pytest.approx(0.5)  # 1 of 2 inner boundaries within 0.5 s
    assert s["boundary_f_3s"] == pytest.approx(1.0)
    assert 0.9 < s["pairwise_f"] < 1.0


def test_segmentation_over_timeline():
    wrong = [{"start_s": 0.0, "end_s": 40.0, "label": "drop"}]
    tl = [{"track_id": 1, "duration_s": 40.0, "truth": TRUTH, "predicted": TRUTH},
          {"track_id": 2, "duration_s": 40.0, "truth": TRUTH, "predicted": wrong},
          {"track_id": 3, "truth": TRUTH, "predicted": []}]
    m = E.segmentation_metrics(tl)
    assert m["n_tracks"] == 2
    assert m["boundary_recall_3s"] == pytest.approx(0.5)


def test_segmentation_errors():
    with pytest.raises(ParameterError, match="reference has no sections"):
        E.segment_scores([], TRUTH)
    with pytest.raises(ParameterError, match="start_s < end_s"):
        E.segment_scores(TRUTH, [{"start_s": 5.0, "end_s": 5.0, "label": "x"}])
    with pytest.raises(ParameterError, match="numeric start_s"):
        E.segment_scores(TRUTH, [{"start": 0, "end_s": 5.0, "label": "x"}])
    with pytest.raises(ParameterError, match="no track with both"):
        E.segmentation_metrics([{"truth": TRUTH, "predicted": []}])


# ---------------------------------------------------------------- invariance

SR = 22050


def _spectrum_embed(y: np.ndarray) -> np.ndarray:
    """Band energies of the magnitude spectrum: gain-invariant under cosine, pitch-sensitive."""
    m = np.abs(np.fft.rfft(y, n=SR))[:4000]
    return m.reshape(100, 40).sum(axis=1)


def test_invariance_per_augmentation_and_strength():
    t = np.arange(SR) / SR
    clips = [(0.3 * np.sin(2 * np.pi * f * t) + 0.1 * np.sin(2 * np.pi * 2.5 * f * t)).astype(np.float32)
             for f in (220.0, 330.0)]
    out = E.invariance(_spectrum_embed, clips, sr=SR)
    assert set(out) == {"pitch", "stretch", "gain"}
    assert set(out["pitch"]) == {"-3", "-1", "1", "3"} and set(out["stretch"]) == {"0.9", "1.1"}
    assert out["gain"]["-6"] == pytest.approx(1.0, abs=1e-6)  # cosine ignores scale
    assert out["gain"]["3"] == pytest.approx(1.0, abs=1e-6)
    assert out["pitch"]["3"] < out["pitch"]["1"] < 1.0  # bigger shifts move the spectrum more
    assert out["stretch"]["0.9"] > out["pitch"]["3"]  # a stationary tone barely changes when stretched
    # deterministic
    assert E.invariance(_spectrum_embed, clips, sr=SR, augmentations={"pitch": [3]}) == {"pitch": {"3": out["pitch"]["3"]}}


def test_invariance_errors():
    clip = [np.zeros(SR, dtype=np.float32) + 0.1]
    with pytest.raises(ParameterError, match="augmentation must be one of"):
        E.invariance(_spectrum_embed, clip, sr=SR, augmentations={"reverb": [1]})
    with pytest.raises(ParameterError, match="sr must be a positive integer"):
        E.invariance(_spectrum_embed, clip, sr=0)
    with pytest.raises(ParameterError, match="clips is empty"):
        E.invariance(_spectrum_embed, [], sr=SR)
    with pytest.raises(ParameterError, match="stretch strength is a rate"):
        E.make_transform("stretch", 0)
    with pytest.raises(ParameterError, match="embed_fn must return"):
        E.invariance(lambda y: np.zeros((2, 2, 2)), clip, sr=SR, augmentations={"gain": [3]})


# ---------------------------------------------------------------- gates and runs

def test_quality_gates():
    gates = E.quality_gates({"model": {"precision_at_5": 0.8, "silhouette": 0.4}, "baseline": {"nmi": 0.9}},
                            "embeddings")
    assert [(g.name, g.passed) for g in gates] == [("precision_at_5", True), ("silhouette", False), ("nmi", None)]
    assert gates[0] == ("precision_at_5", 0.8, 0.70, True)  # plain tuples too
    flat = E.quality_gates({"accuracy": 0.81, "macro_f1": 0.75}, "sections")
    assert [g.passed for g in flat] == [True, False]  # strictly above the target


def test_quality_gates_unknown_kind():
    with pytest.raises(ParameterError, match="kind must be one of"):
        E.quality_gates({}, "tracks")


def test_evaluate_run_on_example_runs(tmp_path):
    from workbench.report.examples import write_example_run
    from workbench.runs import load_run

    emb_run = load_run(write_example_run("embeddings", root=tmp_path, seed=4))
    m = E.evaluate_run(emb_run)
    assert m["precision_at_5"] == pytest.approx(emb_run.metrics["model"]["precision_at_5"])
    assert set(m["per_class"]) == set(emb_run.data["classes"])  # names, not indices
    sec_run = load_run(write_example_run("sections", root=tmp_path, seed=4))
    s = E.evaluate_run(sec_run)
    assert s["accuracy"] == pytest.approx(sec_run.metrics["model"]["accuracy"])
    assert s["classes"][:3] == ["intro", "build", "drop"]
    assert s["segmentation"]["n_tracks"] == len(sec_run.timeline)


def test_a_sections_run_with_named_labels_lists_its_classes_in_song_order(tmp_path):
    """Session 22's QA on real music: the report's confusion matrix and per-class bars read break, build, drop, intro,
    outro (sorted names: a run stores its labels as strings), beside label counts in song order."""
    import numpy as np

    from workbench.runs import load_run, write_run

    y_true = np.array(["intro", "build", "drop", "drop", "break", "outro"])
    y_pred = np.array(["intro", "drop", "drop", "break", "break", "intro"])
    write_run("20261207-000000-sections-abcdef", info={"kind": "sections", "created_at": "2026-12-07T00:00:00"},
              config_={}, data={}, history=[], metrics={}, arrays={"y_true": y_true, "y_pred": y_pred}, root=tmp_path)
    s = E.evaluate_run(load_run(tmp_path / "20261207-000000-sections-abcdef"))
    assert s["classes"] == ["intro", "build", "drop", "break", "outro"], s["classes"]
    assert list(s["per_class"]) == s["classes"] and s["confusion"][0] == [1, 0, 0, 0, 0]  # intro's row first
