"""The search gate (issue 17): a head whose similar-track search is worse than the backbone's, by folder on the run's
held-out tracks, is not activated; too few held-out queries say so and do not block."""

from __future__ import annotations

import pytest
from conftest import three_folder_music

from workbench.evaluate.gates import GateFailedError, blocking_gates, failing, search_gate
from workbench.evaluate.invariance import GATE_TRANSFORMS
from workbench.library import Library
from workbench.train.embeddings_search import MIN_SEARCH_QUERIES

torch = pytest.importorskip("torch")

HELD = {"track_hashes": ["a", "b", "c", "d", "e", "f"]}


def _metrics(search: dict | None) -> dict:
    """A head's metrics that pass every gate but the search gate, which ``search`` decides."""
    m = {"model": {"map_at_r": 0.8}, "baselines": {"backbone": {"map_at_r": 0.5}}, "held_out": HELD,
         "invariance": {t: {"backbone": 0.9, "model": 0.9} for t in GATE_TRANSFORMS}}
    if search is not None:
        m["search"] = search
    return m


def _measured(model: float, backbone: float) -> dict:
    return {"status": "measured", "k": 3, "groups_by": "folder", "n_queries": 6, "backbone": backbone, "model": model}


def _paired(model: list[int], backbone: list[int]) -> dict:
    """A measured record with each query's matches in its folder among the 3 (as the job writes since session 15)."""
    n = len(model)
    return {**_measured(round(sum(model) / (3 * n), 3), round(sum(backbone) / (3 * n), 3)), "n_queries": n,
            "per_query": {"track_ids": list(range(1, n + 1)), "model": model, "backbone": backbone}}


#: The backbone's matches of 6 held-out queries (14 of 18: 0.778), and heads against it.
BACKBONE = [3, 2, 3, 2, 2, 2]
CLEARLY_WORSE = [0, 1, 0, 0, 1, 0]  # 0.111: worse on all six queries
ONE_MATCH_LESS = [3, 2, 2, 2, 2, 2]  # 0.722: one match of 18 (the real-files block of session 14)


def test_the_search_gate_blocks_a_head_worse_beyond_noise_not_one_match_less():
    worse = search_gate(_metrics(_paired(CLEARLY_WORSE, BACKBONE)))
    assert (worse.value, worse.target) == (0.111, 0.778) and worse.status == "fail" and worse.blocking
    assert "better on 0, worse on 6, equal on 0: one-sided sign test p = 0.0156" in worse.metric
    assert "blocks only when the head is worse and p < 0.05" in str(worse)
    one = search_gate(_metrics(_paired(ONE_MATCH_LESS, BACKBONE)))
    assert (one.value, one.target) == (0.722, 0.778) and one.status == "pass" and not one.blocking
    assert "worse on 1, equal on 5: one-sided sign test p = 0.5" in one.metric  # one worse query of one: a coin toss
    # at 6 queries: worse on 5 and better on none blocks (p = 1/32); better on one of them too does not (p = 7/64)
    assert search_gate(_metrics(_paired([2, 1, 2, 1, 1, 2], BACKBONE))).status == "fail"
    five_one = search_gate(_metrics(_paired([2, 1, 2, 1, 1, 3], [3, 2, 3, 2, 2, 2])))
    assert five_one.status == "pass" and "p = 0.109" in five_one.metric
    assert search_gate(_metrics(_paired(BACKBONE, CLEARLY_WORSE))).status == "pass"  # better
    # a record written before the per-query matches reads as it was written for: head >= backbone
    old = search_gate(_metrics(_measured(0.722, 0.778)))
    assert old.status == "fail" and "per-query matches not recorded: head >= backbone" in old.metric
    assert search_gate(_metrics({**_paired(ONE_MATCH_LESS, BACKBONE), "per_query": {"model": [1], "backbone": []}})
                       ).status == "fail"  # matches that do not pair: the plain comparison


def test_the_sign_test_with_ties_no_queries_or_matches_that_are_not_counts():
    from workbench.evaluate.gates import search_sign_test

    ties = _paired(BACKBONE, BACKBONE)  # equal on every query: no evidence either way
    assert search_sign_test(ties) == {"better": 0, "worse": 0, "equal": 6, "p": 1.0}
    assert search_gate(_metrics(ties)).status == "pass" and "equal on 6: one-sided sign test p = 1" in search_gate(
        _metrics(ties)).metric
    for per_query in ({"model": [], "backbone": []},  # no queries paired
                      {"model": [True, 2, 3, 2, 2, 2], "backbone": BACKBONE},  # a bool is no count
                      {"model": [float("nan"), 2, 3, 2, 2, 2], "backbone": BACKBONE},
                      {"model": "322222", "backbone": BACKBONE}, [[1, 3]], None):
        record = {**_measured(0.722, 0.778), "per_query": per_query}
        assert search_sign_test(record) is None, per_query
        gate = search_gate(_metrics(record))  # read as a record without them: head >= backbone
        assert gate.status == "fail" and "per-query matches not recorded" in gate.metric
    # worse on the mean (0.667 vs 0.778) but better on 4 queries of 6: not refused (p = 57/64)
    mixed = search_gate(_metrics(_paired([3, 3, 3, 3, 0, 0], [2, 2, 2, 2, 3, 3])))
    assert mixed.value < mixed.target and mixed.status == "pass" and "p = 0.891" in mixed.metric


def test_search_gate_passes_fails_or_says_it_was_not_measured():
    assert search_gate(_metrics(_measured(0.8, 0.7))).status == "pass"
    assert search_gate(_metrics(_measured(0.7, 0.7))).status == "pass"  # equal is not worse
    worse = search_gate(_metrics(_measured(0.722, 0.778)))
    assert worse.status == "fail" and worse.blocking and worse.target == 0.778 and worse.value == 0.722
    assert "precision@3 by folder (6 held-out queries)" in str(worse)
    few = search_gate(_metrics({"status": "not measured", "reason": "3 held-out queries in folders of two or more "
                                                                     "tracks, fewer than 6", "n_queries": 3, "k": 3}))
    assert few.status == "not measured" and not few.blocking and "fewer than 6" in few.metric
    assert not failing(blocking_gates(_metrics({"status": "not measured", "reason": "x"}), "head"))
    missing = search_gate(_metrics(None))  # a run trained before the gate: not recorded, which blocks
    assert missing.status == "not recorded" and missing.blocking
    assert [g.name for g in failing(blocking_gates(_metrics(_measured(0.5, 0.6)), "head"))] == [
        "search not worse than backbone"]
    sections = {"model": {"accuracy": 0.9, "macro_f1": 0.8}, "baselines": {"majority": {"accuracy": 0.4, "macro_f1": 0.1}}}
    assert not any(g.name.startswith("search") for g in blocking_gates(sections, "dj_section"))  # embeddings only


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    pytest.importorskip("coremltools")
    from workbench.export.coreml import export_classifier
    from workbench.models.heads import SectionClassifier

    torch.manual_seed(0)
    return export_classifier(SectionClassifier(16, hidden_dim=32).eval(), tmp_path_factory.mktemp("pkg") / "m.mlpackage",
                             metadata={"metrics": {}})


def test_a_head_whose_search_gets_worse_is_not_activated(tmp_path, package):
    from workbench.registry import Registry

    with Library(tmp_path / "data" / "workbench.db") as lib:
        reg = Registry(lib, root=tmp_path / "models")
        worse = _metrics(_measured(0.722, 0.778))  # the real files' figure: 0.778 -> 0.722 on 6 held-out tracks
        with pytest.raises(GateFailedError, match=r"(?s)search worse than backbone: precision@3 by folder \(6 "
                                                  r"held-out queries\), per-query matches not recorded: head >= backbone "
                                                  r"0.7220 < backbone 0.7780 -> fail.*--force"):
            reg.register("head", package.path, metadata=package.metadata, metrics=worse, export=package.as_dict())
        assert reg.active("head") is None
        v = reg.register("head", package.path, metadata=package.metadata, metrics=worse, export=package.as_dict(),
                         activate=False, force=True)
        with pytest.raises(GateFailedError, match="search worse than backbone"):
            reg.activate("head", v.version)
        assert reg.active("head") is None
        assert reg.activate("head", v.version, force=True).active  # forced: recorded
        assert reg.get("head", v.version).forced[-1]["failing_gates"][0]["name"] == "search not worse than backbone"
        good = reg.register("head", package.path, metadata=package.metadata, metrics=_metrics(_measured(0.8, 0.778)),
                            export=package.as_dict())
        assert reg.active("head").version == good.version
        with pytest.raises(GateFailedError, match=r"search worse than backbone: .*0.1110 worse beyond "
                                                  r"noise than backbone 0.7780 -> fail \(.*worse on 6"):
            reg.register("head", package.path, metadata=package.metadata,
                         metrics=_metrics(_paired(CLEARLY_WORSE, BACKBONE)), export=package.as_dict())
        noisy = reg.register("head", package.path, metadata=package.metadata,
                             metrics=_metrics(_paired(ONE_MATCH_LESS, BACKBONE)), export=package.as_dict())
        assert reg.active("head").version == noisy.version  # one match of 18 is not a worse head




@pytest.mark.slow
def test_the_job_measures_search_and_a_head_worse_in_search_fails_the_gate(tmp_path, monkeypatch):
    """Three folders of six clips: two held out per folder, six queries. The run's head is saved reading only two of
    the backbone's dimensions (the head search would use is then worse than the backbone): the job's search record
    says so and the registry refuses it."""
    import workbench.models.heads as heads
    from workbench.registry import Registry
    from workbench.runs import load_run
    from workbench.train.jobs import train_embeddings_job

    music = three_folder_music(tmp_path)
    save = heads.save_checkpoint

    def two_dimensions(model, path):
        blind = heads.EmbeddingHead(model.in_dim, hidden_dim=model.hidden_dim, out_dim=model.out_dim)
        blind.load_state_dict(model.state_dict())
        with torch.no_grad():
            keep = torch.zeros(model.in_dim)
            keep[torch.randperm(model.in_dim, generator=torch.Generator().manual_seed(0))[:2]] = 1
            blind.fc1.weight.mul_(keep)
        save(blind, path)

    config = {"epochs": 2, "n_views": 1, "window_s": 4.0, "invariance_clips": 2, "classes_from": "folder",
              "test_size": 0.34, "val_size": 0.34, "m": 2, "batch_size": 4, "blend": None}
    with Library(tmp_path / "lib.db") as lib:
        lib.scan(music, progress=False)
        good = load_run(train_embeddings_job(lib, config=config, progress=False, experiments_root=tmp_path / "e1")[1])
        monkeypatch.setattr(heads, "save_checkpoint", two_dimensions)
        bad = load_run(train_embeddings_job(lib, config=config, progress=False, experiments_root=tmp_path / "e2")[1])
        for run in (good, bad):
            s = run.metrics["search"]
            assert s["status"] == "measured" and s["n_queries"] == MIN_SEARCH_QUERIES == 6 and s["groups_by"] == "folder"
            per = s["per_query"]  # each query's matches, paired: the gate's sign test
            assert len(per["track_ids"]) == len(per["model"]) == len(per["backbone"]) == 6
            assert sum(per["model"]) / 18 == pytest.approx(s["model"]) and sum(per["backbone"]) / 18 == pytest.approx(s["backbone"])
            assert s["models"]["backbone"] == "backbone (features-v1)" and s["weights"].startswith("default")
        assert good.metrics["search"]["model"] >= good.metrics["search"]["backbone"]
        assert search_gate(good.metrics).status == "pass"
        assert bad.metrics["search"]["model"] < bad.metrics["search"]["backbone"]
        assert bad.metrics["search"]["backbone"] == good.metrics["search"]["backbone"]  # the same index and queries
        assert search_gate(bad.metrics).status == "fail"
        with pytest.raises(GateFailedError, match="search worse than backbone") as refused:
            Registry(lib, root=tmp_path / "models").check_gates("head", bad.metrics, what="activating head_v1")
        assert "search not worse than backbone" in [g.name for g in refused.value.gates]
        # the measurement's own index (named by a temporary model file) is not left behind
        assert [p.name for p in (tmp_path / "similarity").iterdir()] == ["features-v1"]


def test_search_record_compares_the_head_with_the_baseline_backbone_it_is_given(tmp_path, monkeypatch):
    """A fine-tuned run's search gate compared its head with the tuned network (the head's own backbone); the
    baseline given (the frozen backbone) is the one searched without the head, and the head's own otherwise."""
    import workbench.search as search_mod
    import workbench.similarity.compare as compare
    from workbench.embed.features import FeatureFrontend
    from workbench.models.heads import EmbeddingHead, save_checkpoint
    from workbench.train.embeddings_search import search_record

    built = []

    class Spy(search_mod.LibrarySearch):
        def __init__(self, library, **kwargs):
            super().__init__(library, **kwargs)
            built.append((kwargs.get("model"), self.backbone))

    monkeypatch.setattr(search_mod, "LibrarySearch", Spy)
    monkeypatch.setattr(compare, "precision_at_k", lambda search, queries, groups, **kw: {
        "n_queries": len(queries), "precision_at_k": 0.5, "chance": 0.3, "best_possible": 1.0})
    head = EmbeddingHead(FeatureFrontend().dim, hidden_dim=8, out_dim=4)
    with Library(tmp_path / "lib.db") as lib:
        lib.scan(three_folder_music(tmp_path), progress=False)
        held = [t.content_hash for t in lib.tracks()][::3]  # two of each folder's six
        frozen = FeatureFrontend()
        for baseline in (None, frozen):
            built.clear()
            record = search_record(lib, lambda p: save_checkpoint(head, p), backbone_info={"name": "features-v1"},
                                   window_s=4.0, held_out_hashes=held, class_source="folder", baseline=baseline)
            assert record["status"] == "measured" and record["trained"] == "head", record
            (_, own), (model, compared) = built
            assert model == "backbone" and compared is (own if baseline is None else frozen)


@pytest.mark.slow
def test_a_cnn_run_is_searched_as_the_backbone_against_the_feature_frontend_it_replaces(tmp_path):
    """A ``--backbone cnn`` run saves the CNN itself (no head): its search gate ranks the library with the CNN as
    the backbone and compares it with the bare feature frontend (it was "not measured": model.pt is no head)."""
    from workbench.runs import load_run
    from workbench.train.jobs import train_embeddings_job

    config = {"epochs": 1, "n_views": 1, "invariance_clips": 2, "classes_from": "folder", "test_size": 0.34,
              "val_size": 0.34, "m": 2, "batch_size": 4, "backbone": "cnn"}
    with Library(tmp_path / "lib.db") as lib:
        lib.scan(three_folder_music(tmp_path), progress=False)
        run = load_run(train_embeddings_job(lib, config=config, progress=False, experiments_root=tmp_path / "e")[1])
        s = run.metrics["search"]
        assert s["status"] == "measured", s
        assert s["n_queries"] == MIN_SEARCH_QUERIES and s["groups_by"] == "folder"
        cnn_name = run.info["backbone"]["name"]
        assert cnn_name.startswith("cnn-v1-")
        assert s["models"] == {"backbone": "backbone (features-v1)", "model": f"backbone ({cnn_name})"}
        assert s["baseline"].startswith("features-v1: the bare feature frontend, the backbone the CNN replaces")
        assert s["trained"] == "cnn"
        gate = search_gate(run.metrics)
        assert "per query the cnn is better on" in gate.metric
        assert gate.status in ("pass", "fail") and gate.reference == "backbone features-v1"
        assert gate.value == s["model"] and gate.target == s["backbone"]
        # the measurement's CNN index is not left behind; the feature frontend's is the library's own
        assert [p.name for p in (tmp_path / "similarity").iterdir()] == ["features-v1"]


def test_the_search_gate_names_the_model_kind_it_gates():
    """A CNN run's gate said "the head is better on ..." (issue 17): the record says which model it measured."""
    from workbench.evaluate.gates import searched_model
    from workbench.pipeline_summary import _invariance_headlines

    cnn_baseline = "features-v1: the bare feature frontend, the backbone the CNN replaces"
    paired = _paired([3, 3, 2, 2, 3, 2], [3, 2, 2, 2, 3, 2])
    for record in ({**paired, "trained": "cnn"}, {**paired, "baseline": cnn_baseline}):  # new, and before "trained"
        g = search_gate(_metrics(record))
        assert searched_model(record) == "cnn" and g.status == "pass"
        assert "per query the cnn is better on 1, worse on 0, equal on 5" in g.metric and "head" not in g.metric
        assert "blocks only when the cnn is worse" in g.metric
        assert _invariance_headlines(_metrics(record))[-1].name.startswith("embeddings: search P@3 by folder, cnn vs")
    head = search_gate(_metrics({**paired, "trained": "head"}))
    assert "per query the head is better on 1" in head.metric and "cnn" not in head.metric
    assert searched_model({}) == "head"
    plain = {k: v for k, v in _measured(0.8, 0.7).items() if k != "per_query"}  # before the per-query matches
    assert search_gate(_metrics({**plain, "trained": "cnn"})).metric.endswith("not recorded: cnn >= backbone")
    unmeasured = {"status": "not measured", "reason": "3 held-out queries", "trained": "cnn"}
    assert _invariance_headlines(_metrics(unmeasured))[-1].name.startswith("embeddings: search P@3 by folder, cnn vs")


def test_an_old_search_record_is_classed_by_its_runs_config_before_its_text():
    """A CNN run's search record from before ``trained`` that could not be measured wrote no baseline text: the train
    summary's headline said "search P@3 by folder, head vs backbone" for it. The run's config is the structured
    field that says it trained a CNN (session 17); the text is read only where the run is not at hand."""
    from workbench.evaluate.gates import searched_model
    from workbench.pipeline_summary import _invariance_headlines

    old = {"status": "not measured", "reason": "search could not be measured: ..."}  # before `trained`
    assert searched_model(old) == "head"  # nothing structured to read, and no text: a head's, as before
    assert searched_model(old, run_config={"backbone": "cnn"}) == "cnn"
    assert searched_model(old, run_config={"backbone": "features"}) == "head"
    assert searched_model({**old, "trained": "head"}, run_config={"backbone": "cnn"}) == "head"  # the record's own
    said = {**old, "baseline": "features-v1: the bare feature frontend, the backbone the CNN replaces"}
    assert searched_model(said) == "cnn" and searched_model(said, run_config={}) == "head"  # the config over the text
    headline = _invariance_headlines(_metrics(old), run_config={"backbone": "cnn"})[-1].name
    assert headline.startswith("embeddings: search P@3 by folder, cnn vs backbone"), headline
