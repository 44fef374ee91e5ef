"""Search on the model the user trained (backbone + head from the registry), and a vibe that means something."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest
import soundfile as sf

from workbench.cli import main
from workbench.demo import synthesize_library
from workbench.errors import ParameterError, TrackNotFoundError
from workbench.library import Library
from workbench.search import LibrarySearch
from workbench.similarity.model import EmbeddingModel, resolve_model, window_means
from workbench.similarity.sets import SetQuery, TrackSetIndex


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    root = tmp_path_factory.mktemp("search_model")
    records = synthesize_library(root / "music", n_tracks=6, seed=5, duration_s=90, progress=False)
    return root / "music", records


def register_head(lib: Library, version: int, *, seed: int, active: bool) -> None:
    """A tiny seeded embedding head saved in a run folder and recorded in the registry (as export would)."""
    import torch

    from workbench.embed.features import FeatureFrontend
    from workbench.models.heads import EmbeddingHead, save_checkpoint, seeded
    from workbench.registry import Registry

    head = seeded(EmbeddingHead, FeatureFrontend().dim, hidden_dim=32, out_dim=16, dropout=0.0,
                  generator=torch.Generator().manual_seed(seed))
    run_id = f"run-head-{version}"
    folder = lib.workspace.experiments / run_id
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(head, folder / "model.pt")
    (folder / "data.json").write_text(json.dumps({"window_s": 6.0}))
    meta = {"backbone": {"name": "features-v1", "dim": FeatureFrontend().dim}, "run_id": run_id}
    with Registry(lib, cleanup=False) as reg:
        reg._insert({"model_type": "head", "version": version, "metadata": meta, "run_id": run_id,
                     "created_at": datetime.now(timezone.utc).isoformat()}, activate=active)


@pytest.fixture(scope="module")
def prepared(music, tmp_path_factory):
    """A scanned, analysed and embedded library (done once; each test gets a copy)."""
    from workbench.analysis import analyze_library
    from workbench.embed.batch import embed_library
    from workbench.embed.features import FeatureFrontend

    folder, _ = music
    base = tmp_path_factory.mktemp("prepared") / "ws"
    base.mkdir()
    with Library(base / "w.db") as library:
        library.scan(folder, progress=False)
        analyze_library(library, progress=False)
        embed_library(library, backbone=FeatureFrontend(), progress=False)
    return base


@pytest.fixture
def lib(prepared, tmp_path, monkeypatch):
    import shutil

    monkeypatch.delenv("WORKBENCH_OPENL3_WEIGHTS", raising=False)
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))  # no OpenL3 weights: the feature frontend
    ws = tmp_path / "ws"
    shutil.copytree(prepared, ws)
    with Library(ws / "w.db") as library:
        yield library


def test_model_resolution(lib):
    m = resolve_model(lib)
    assert m.head is None and m.name == "backbone" and "no active head" in m.said
    with pytest.raises(ParameterError, match="'head' means the active head, and none is active") as none:
        resolve_model(lib, "head")
    assert str(none.value).endswith("choose 'backbone', 'head@N', 'cnn' or 'cnn@N'"), none.value  # not only the first two
    with pytest.raises(ParameterError) as no_cnn:  # a CNN version that is not registered: every form, and which N exist
        resolve_model(lib, "cnn@7")
    assert str(no_cnn.value) == ("model must be 'cnn', 'cnn@N' with N an embedding version in [], 'backbone', 'head' or "
                                 "'head@N'; got 'cnn@7' (no embedding version 7)"), no_cnn.value
    register_head(lib, 1, seed=1, active=True)
    register_head(lib, 2, seed=2, active=False)
    m = resolve_model(lib)
    assert m.name == "head@1" and m.head is not None and m.window_s == 6.0 and m.dim == 16
    assert m.said == "head@1 (on features-v1)"
    assert resolve_model(lib, "head").name == "head@1"
    assert resolve_model(lib, "head@2").name == "head@2"
    assert resolve_model(lib, "backbone").head is None
    with pytest.raises(ParameterError) as missing:  # every form --model takes, not only 'backbone' and 'head@N'
        resolve_model(lib, "head@7")
    assert str(missing.value) == ("model must be 'backbone', 'head' (the active one), 'head@N' with N in [1, 2], "
                                  "'cnn' or 'cnn@N' (a CNN trained with --backbone cnn); got 'head@7' "
                                  "(no head version 7)")
    with pytest.raises(ParameterError, match=r"model must be 'backbone', 'head' \(the active one\), 'head@N' "
                                             r"with N in \[1, 2\], 'cnn' or 'cnn@N' \(a CNN trained with --backbone "
                                             r"cnn\); got 'openl3'"):
        resolve_model(lib, "openl3")
    (lib.workspace.experiments / "run-head-2" / "model.pt").unlink()
    with pytest.raises(ParameterError, match="head@2: its weights .* are gone"):
        resolve_model(lib, "head@2")


def test_index_follows_the_active_model_and_results_name_it(lib, music):
    from workbench.registry import Registry

    register_head(lib, 1, seed=1, active=True)
    register_head(lib, 2, seed=2, active=False)
    first = LibrarySearch(lib, progress=False).update()
    query = lib.tracks()[0]
    got1 = first.similar(query, k=3)
    assert all(r.model == "head@1 (on features-v1)" for r in got1)
    assert first.index.dim == 16 and "head1-" in first.folder.name
    with Registry(lib, cleanup=False) as reg:
        reg.activate("head", 2, force=True)
    second = LibrarySearch(lib, progress=False).update()
    assert second.folder != first.folder and "head2-" in second.folder.name
    got2 = second.similar(query, k=3)
    assert all(r.model == "head@2 (on features-v1)" for r in got2)
    assert [r.match.vibe for r in got1] != [r.match.vibe for r in got2]  # another model, another ranking space

    # the same folder with other window settings is rebuilt, not reused
    narrow = LibrarySearch(lib, model="backbone", progress=False, max_windows=2).update()
    assert all(len(narrow.index.windows_of(int(i))[0]) <= 2 for i in narrow.index.ids)
    wide = LibrarySearch(lib, model="backbone", progress=False).update()
    assert wide.folder == narrow.folder and max(len(wide.index.windows_of(int(i))[0]) for i in wide.index.ids) > 2

    db = str(lib.path)
    assert main(["--db", db, "--quiet", "similar", str(query.id), "-k", "2", "--model", "head@1", "--json"]) == 0
    assert main(["--db", db, "--quiet", "similar", str(query.id), "-k", "2", "--model", "nope"]) == 1


def test_cli_says_the_model(lib, capsys):
    register_head(lib, 1, seed=1, active=True)
    db = str(lib.path)
    q = str(lib.tracks()[1].id)
    assert main(["--db", db, "--quiet", "similar", q, "-k", "2", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 2 and all(r["model"] == "head@1 (on features-v1)" for r in records)
    assert main(["--db", db, "--quiet", "similar", q, "-k", "2", "--model", "backbone"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"similar to: track {q}  ") and lines[2] == "model: backbone (features-v1)"  # query first
    assert main(["--db", db, "--quiet", "similar", q, "--model", "head@9"]) == 1
    err = capsys.readouterr().err
    assert "'head@N' with N in [1], 'cnn' or 'cnn@N'" in err and "got 'head@9' (no head version 9)" in err, err
    assert "'backbone', 'head' (the active one)" in err, err


@pytest.mark.parametrize("excerpt_s", [30, 60])
def test_an_excerpt_finds_its_own_track_first(lib, music, tmp_path, excerpt_s):
    folder, records = music
    search = LibrarySearch(lib, model="backbone", progress=False).update()
    found = 0
    for r in records:
        y, sr = sf.read(r.audio_path, dtype="float32")
        start = int(17.3 * sr)  # not on a window boundary
        path = tmp_path / f"excerpt_{r.index}.wav"
        sf.write(path, y[start:start + excerpt_s * sr], sr)
        best = search.similar(path, k=1)[0]
        found += best.track.path == str(r.audio_path)
        assert best.match.vibe >= 0.5 and best.match.explanation.startswith("similar vibe")
    assert found == len(records)


def test_vibe_words_never_contradict_the_score():
    index = TrackSetIndex(3)
    index.add(1, np.array([[1.0, 0, 0]]), bpm=120.0, camelot="8A", energy=5)
    index.add(2, np.array([[0, 1.0, 0]]), bpm=120.0, camelot="8A", energy=5)
    index.add(3, np.array([[0.6, 0.8, 0]]), bpm=120.0, camelot="8A", energy=5)
    got = {m.id: m for m in index.similar(1, k=2)}
    assert got[2].vibe == 0.0 and got[2].explanation.startswith("different vibe (0%)")
    assert got[3].vibe == pytest.approx(0.6, abs=1e-6) and got[3].explanation.startswith("similar vibe (60%)")
    assert "similar vibe" not in got[2].explanation


def test_a_track_with_no_beat_is_searched_with_tempo_unknown():
    index = TrackSetIndex(2)
    index.add(1, np.array([[1.0, 0.0], [0.0, 1.0]]), bpm=None, camelot="8A", energy=5)
    index.add(2, np.array([[1.0, 1.0]]), bpm=128.0, camelot="9A", energy=6)
    q = SetQuery(np.array([[1.0, 0.0]]), 128.0, "8A", 5)
    got = {m.id: m for m in index.similar(q, k=2, unknown="drop")}  # the default
    assert got[1].tempo is None and got[1].bpm_delta is None
    assert got[1].explanation == "similar vibe (100%); tempo unknown (no beat); key: 8A (same); energy same"
    assert got[1].score == pytest.approx((0.5 * 1.0 + 0.2 * 1.0 + 0.1 * 1.0) / 0.8)  # tempo left out, not 0
    # the option (session 22): the unknown tempo counts as the query's average over the tracks with one (here 1.0)
    now = {m.id: m for m in index.similar(q, k=2, unknown="expected")}[1]
    assert now.tempo is None and now.tempo_assumed == 1.0 and now.score == pytest.approx(0.5 + 0.2 + 0.2 + 0.1)
    assert now.explanation == ("similar vibe (100%); tempo unknown (no beat): counted as 100%, the library's average; "
                               "key: 8A (same); energy same")
    assert got[2].tempo == 1.0 and "same BPM" in got[2].explanation
    # a query with no beat: tempo unknown for every match
    nobeat = index.similar(SetQuery(np.array([[0.0, 1.0]]), None, "8A", 5), k=2)
    assert all(m.tempo is None and "tempo unknown" in m.explanation for m in nobeat)


def test_track_sets_save_load_and_errors(tmp_path):
    index = TrackSetIndex(2)
    index.add(4, np.array([[1.0, 0.0], [0.5, 0.5]]), weights=np.array([3.0, 1.0]), bpm=100.0, camelot="1B", energy=2)
    index.add(9, np.array([[0.0, 1.0]]), bpm=None, camelot="1A", energy=3)
    index.save(tmp_path / "ix", info={"identity": {"model": "backbone"}})
    again = TrackSetIndex.load(tmp_path / "ix")
    assert again.ids.tolist() == [4, 9] and TrackSetIndex.manifest(tmp_path / "ix")["identity"] == {"model": "backbone"}
    assert [m.id for m in again.similar(4, k=5)] == [9]
    again.remove([4])
    assert again.ids.tolist() == [9] and again.windows_of(9)[0].shape == (1, 2)
    with pytest.raises(TrackNotFoundError, match="track id 4 is not in the similarity index"):
        again.similar(4)
    with pytest.raises(ParameterError, match=r"track 5's windows must have shape \(m >= 1, 2\)"):
        again.add(5, np.zeros((1, 3)), bpm=None, camelot="1A", energy=3)
    with pytest.raises(ParameterError, match="id 9 is"):
        again.add(9, np.ones((1, 2)), bpm=None, camelot="1A", energy=3)
    with pytest.raises(ParameterError, match="bpm must be a number > 0 or None; got -1"):
        again.add(6, np.ones((1, 2)), bpm=-1, camelot="1A", energy=3)


def test_window_means():
    frames = np.arange(20, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    ts = np.arange(20) * 0.5  # 10 s of frames every 0.5 s
    got = window_means(frames, ts, window_s=4.0, hop_s=2.0)
    assert got.shape == (3, 2) and got[0, 0] == pytest.approx(np.mean(np.arange(8)))
    assert window_means(frames[:3], ts[:3], window_s=8.0, hop_s=2.0).shape == (1, 2)  # shorter than a window
    with pytest.raises(ParameterError, match="frames must have shape"):
        window_means(frames[:0], ts[:0], window_s=4.0, hop_s=2.0)
    from workbench.embed.features import FeatureFrontend

    assert EmbeddingModel(FeatureFrontend()).key.startswith("features-v1-w8-h2")


def head_run(lib, run_id: str, *, held: list[str] | None = None):
    """An embeddings run of a seeded head on the feature frontend, its first 3 tracks held out: (run, head, held)."""
    import torch

    from workbench.embed.features import FeatureFrontend
    from workbench.models.heads import EmbeddingHead, save_checkpoint, seeded
    from workbench.runs import load_run, write_run

    head = seeded(EmbeddingHead, FeatureFrontend().dim, hidden_dim=32, out_dim=16, dropout=0.0,
                  generator=torch.Generator().manual_seed(3))
    held = [t.content_hash for t in lib.tracks()[:3]] if held is None else held
    path = write_run(run_id, info={"kind": "embeddings", "backbone": {"name": "features-v1", "dim": 202}},
                     config_={}, data={"window_s": 8.0}, history=[], metrics={"held_out": {"track_hashes": held}},
                     extra=lambda tmp: save_checkpoint(head, tmp / "model.pt"), root=lib.workspace.experiments)
    return load_run(path), head, held


def test_report_section_shows_backbone_and_head_on_held_out_tracks(lib):
    from workbench.report.search_section import FILE, section_html, write_before_after

    run, _, _ = head_run(lib, "run-report")
    doc = write_before_after(run, lib)
    assert doc["queries"] == "held-out" and doc["groups_by"] == "folder"
    assert doc["backbone"]["n_queries"] == doc["head"]["n_queries"] == 3  # only the held-out tracks ask
    assert doc["backbone"]["model"] == "backbone (features-v1)" and doc["head"]["model"].startswith("head of run run-report")
    for m in ("backbone", "head"):
        assert 0.0 <= doc[m]["precision_at_k"] <= doc[m]["best_possible"] <= 1.0
        assert doc[m]["chance"] == pytest.approx(1.0)  # one folder: every other track is in the query's group
    assert [ex["query"] for ex in doc["examples"]] == [t.name for t in lib.tracks()[:3]]
    html = section_html(run)
    assert "precision@3 by folder" in html and "head of run run-report" in html and "held-out" in html
    (run.path / FILE).unlink()
    assert "not recorded" in section_html(run)
    # `workbench runs report` passes the workspace's library, so the CLI's report has the section too
    assert main(["--db", str(lib.path), "--quiet", "runs", "report", "run-report"]) == 0
    assert (run.path / FILE).is_file() and "head of run run-report" in section_html(run)
    (run.path / FILE).unlink()
    assert main(["--db", str(lib.path), "--quiet", "runs", "report", "run-report", "--no-search"]) == 0
    assert not (run.path / FILE).exists()


def test_calibration_puts_a_typical_pair_at_zero():
    rng = np.random.default_rng(0)
    index = TrackSetIndex(8)
    base = rng.standard_normal(8)
    for i in range(6):  # every window shares a common direction: raw set scores are all high
        index.add(i, base + 0.5 * rng.standard_normal((4, 8)), bpm=120.0, camelot="8A", energy=5)
    raw = {m.id: m.vibe for m in index.similar(0, k=5)}
    assert min(raw.values()) > 0.5
    b = index.calibrate()
    assert index.baseline == b and 0.5 < b < 1.0
    got = {m.id: m.vibe for m in index.similar(0, k=5)}
    for i in got:
        assert got[i] == pytest.approx(max(0.0, (raw[i] - b) / (1 - b)), abs=1e-9)
    q, w = index.windows_of(0)
    assert index.vibe(q, w, symmetric=True)[0] == pytest.approx(1.0)  # itself: still 100 %


def test_a_damaged_saved_index_is_rebuilt(lib):
    first = LibrarySearch(lib, model="backbone", progress=False).update()
    (first.folder / "track-sets.npz").write_bytes(b"not an npz")
    again = LibrarySearch(lib, model="backbone", progress=False).update()
    assert sorted(int(i) for i in again.index.ids) == sorted(int(i) for i in first.index.ids)


def test_pruned_library_search_equals_exact_and_keeps_its_bounds(lib, capsys):
    exact = LibrarySearch(lib, model="backbone", progress=False, kind="exact").update()
    pruned = LibrarySearch(lib, model="backbone", progress=False, kind="pruned").update()
    assert exact.method == "exact" and pruned.method == "pruned"
    for t in lib.tracks():
        a, b = exact.similar(t, k=4), pruned.similar(t, k=4)
        assert [(r.track.id, r.match.score, r.match.explanation) for r in a] == \
               [(r.track.id, r.match.score, r.match.explanation) for r in b]
    assert (pruned.folder / "track-sets-bounds.npz").is_file()
    assert LibrarySearch(lib, model="backbone", progress=False).update().method == "exact"  # auto: a small library
    with pytest.raises(ParameterError, match=r"kind must be one of \('auto', 'exact', 'pruned', 'flat'\); got 'hnsw'"):
        LibrarySearch(lib, progress=False, kind="hnsw")
    db, q = str(lib.path), str(lib.tracks()[0].id)
    assert main(["--db", db, "--quiet", "similar", q, "-k", "2", "--model", "backbone", "--index", "pruned"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[3].startswith("index: pruned, exact (") and "tracks scored)" in out[3]  # after the query, backbone, model


def test_pruned_search_where_its_bounds_cannot_be_saved(lib, monkeypatch):
    from workbench.similarity.sets_search import SetBounds

    def refuse(self, folder):
        raise PermissionError(13, "read-only file system", str(folder))

    monkeypatch.setattr(SetBounds, "save", refuse)
    pruned = LibrarySearch(lib, model="backbone", progress=False, kind="pruned").update()
    exact = LibrarySearch(lib, model="backbone", progress=False, kind="exact").update()
    t = lib.tracks()[0]
    assert [r.track.id for r in pruned.similar(t, k=3)] == [r.track.id for r in exact.similar(t, k=3)]
    assert not (pruned.folder / "track-sets-bounds.npz").exists()


def test_precision_ceiling_ranks_on_an_oracle_vibe_beside_tempo_key_and_energy(lib):
    from workbench.similarity.compare import precision_at_k, precision_ceiling

    search = LibrarySearch(lib, model="backbone", progress=False)
    tracks = lib.tracks()
    groups = {t.id: "ab"[i % 2] for i, t in enumerate(tracks)}  # 3 and 3: two others in each group
    perfect = precision_ceiling(search, tracks, groups, k=2)
    assert perfect["n_queries"] == 6 and perfect["best_possible"] == pytest.approx(1.0)
    assert perfect["precision_at_k"] == pytest.approx(1.0)  # a vibe of 1 in the group outweighs every other term
    assert perfect["model"].startswith("oracle vibe")
    # vibe 0 everywhere: the tempo, key and energy terms alone decide, as a search with no vibe weight does
    alone = precision_ceiling(search, tracks, groups, k=2, same=0.0)
    assert np.isfinite(search.index._bpm).all()  # every tempo known: both scores are the same terms, rescaled
    assert alone["precision_at_k"] == pytest.approx(precision_at_k(
        search, tracks, groups, k=2, weights={"vibe": 0.0, "tempo": 0.2, "key": 0.2, "energy": 0.1})["precision_at_k"])
    with pytest.raises(ParameterError, match="same must be a vibe in"):
        precision_ceiling(search, tracks, groups, same=1.5)


def test_learned_term_weights_reach_similar_and_the_cli_and_are_named(lib, capsys, monkeypatch):
    import workbench.search as search_mod
    from workbench.crates import Crates
    from workbench.similarity import learned_weights as lw

    tracks = lib.tracks()
    monkeypatch.setattr(search_mod, "AUTO_LEARNED", True)  # auto learns where it can; one folder: the defaults
    one_folder = LibrarySearch(lib, model="backbone", progress=False).similar(tracks[0], k=1)[0]
    assert one_folder.weights == ("default: vibe 50%, tempo 20%, key 20%, energy 10% (none learned: learning search "
                                  "weights needs training tracks in at least two folders; got 1)")
    with pytest.raises(ParameterError, match="at least two folders; got 1"):
        LibrarySearch(lib, model="backbone", progress=False, term_weights="learned").similar(tracks[0], k=1)
    monkeypatch.setattr(search_mod, "AUTO_LEARNED", False)
    for i, t in enumerate(tracks):  # two crates of three: the groups the weights learn from
        Crates(lib).add("ab"[i % 2], [t])
    held = {tracks[0].content_hash}  # never fitted on
    default = LibrarySearch(lib, model="backbone", progress=False)
    got = default.similar(tracks[0], k=2)
    assert all(r.weights == "default: vibe 50%, tempo 20%, key 20%, energy 10%" for r in got)
    assert got[0].weights_used == pytest.approx({"vibe": 0.5, "tempo": 0.2, "key": 0.2, "energy": 0.1})
    assert all("weights" not in r.match.explanation for r in got)  # the default search reads as before
    fitted = []
    real_fit = lw.fit_weights
    monkeypatch.setattr(lw, "fit_weights", lambda index, groups, **kw: fitted.append(kw["training_hashes"]) or
                        real_fit(index, groups, **kw))
    search = LibrarySearch(lib, model="backbone", progress=False, term_weights="learned")
    learned = search.learned_weights(exclude_hashes=held)
    assert set(fitted[0].values()) == {t.content_hash for t in tracks} - held and learned.groups_by == "crate"
    assert learned.n_tracks == 5 and (search.folder / "learned-weights.json").is_file()
    results = search.similar(tracks[1], k=3)
    assert len(fitted) == 2  # similar() fits on every track (nothing held out for the backbone), then keeps it
    search.similar(tracks[2], k=3)
    assert len(fitted) == 2
    said = results[0].weights
    assert said.startswith("learned from your crates (6 tracks): vibe ")
    assert all(r.match.explanation.endswith(f"; weights {said}") for r in results)
    w = search.learned_weights()
    exact = LibrarySearch(lib, model="backbone", progress=False).similar(tracks[1], k=3, weights=w.weights)
    assert [(r.track.id, r.match.score) for r in results] == [(r.track.id, r.match.score) for r in exact]
    db, q = str(lib.path), str(tracks[1].id)
    assert main(["--db", db, "--quiet", "similar", q, "-k", "2", "--model", "backbone", "--weights", "learned",
                 "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert records[0]["weights"] == said and records[0]["weights_used"] == pytest.approx(  # rounded for output
        dict(zip(("vibe", "tempo", "key", "energy"), w.weights.normalized(), strict=True)), abs=5e-5)
    assert main(["--db", db, "--quiet", "similar", q, "-k", "2", "--model", "backbone", "--weights", "default"]) == 0
    assert "weights: default: vibe 50%, tempo 20%, key 20%, energy 10%" in capsys.readouterr().out.splitlines()
    with pytest.raises(ParameterError, match=r"term_weights must be one of \('auto', 'default', 'learned'\); got 'x'"):
        LibrarySearch(lib, progress=False, term_weights="x")


def test_report_reads_precision_from_the_runs_search_record_and_recomputes_only_without_it(lib, monkeypatch):
    """`runs report` recomputed the before/after precision its run's search record already held (issue 17)."""
    import torch

    from workbench.embed.features import FeatureFrontend
    from workbench.models.heads import EmbeddingHead, save_checkpoint, seeded
    from workbench.report.search_section import section_html, write_before_after
    from workbench.runs import load_run, write_run
    from workbench.similarity import compare

    head = seeded(EmbeddingHead, FeatureFrontend().dim, hidden_dim=32, out_dim=16, dropout=0.0,
                  generator=torch.Generator().manual_seed(3))
    tracks = lib.tracks()[:3]
    ids = [t.id for t in tracks]
    record = {"status": "measured", "k": 3, "groups_by": "folder", "n_queries": 3, "model": 1 / 9, "backbone": 2 / 9,
              "chance": 0.4, "best_possible": 1.0, "per_query": {"track_ids": ids, "model": [0, 0, 1],
                                                                  "backbone": [1, 0, 1]},
              "models": {"backbone": "backbone (features-v1)", "model": "head of this run (on features-v1)"},
              "baseline": "features-v1: the bare backbone, searched without the head", "trained": "head"}

    def run_with(search, name):
        metrics = {"held_out": {"track_hashes": [t.content_hash for t in tracks]}}
        if search is not None:
            metrics["search"] = search
        return load_run(write_run(name, info={"kind": "embeddings", "backbone": {"name": "features-v1", "dim": 202}},
                                  config_={}, data={"window_s": 8.0}, history=[], metrics=metrics,
                                  extra=lambda tmp: save_checkpoint(head, tmp / "model.pt"),
                                  root=lib.workspace.experiments))

    run = run_with(record, "run-rec")
    recomputed = compare.precision_at_k
    with monkeypatch.context() as m:  # precision is read, never recomputed; the examples are still ranked
        m.setattr(compare, "precision_at_k", lambda *a, **k: pytest.fail("recomputed a recorded precision"))
        doc = write_before_after(run, lib)
    assert doc["precision_from"] == "record" and "read from the run's search record" in doc["precision_said"]
    assert doc["head"]["precision_at_k"] == pytest.approx(1 / 9) and doc["backbone"]["precision_at_k"] == pytest.approx(2 / 9)
    assert doc["head"]["per_query"] == [[i, n] for i, n in zip(ids, [0, 0, 1], strict=True)]
    assert doc["backbone"]["per_query"] == [[i, n] for i, n in zip(ids, [1, 0, 1], strict=True)]
    assert doc["head"]["chance"] == 0.4  # the record's (recomputed here it is 1.0: one folder)
    assert doc["head"]["model"].startswith("head of run run-rec") and doc["backbone"]["model"] == "backbone (features-v1)"
    assert len(doc["examples"]) == 3
    assert "Precision read from the run&#x27;s search record (measured when it was trained" in section_html(run)
    for search, why in ((None, "the run has no search record"),
                        ({"status": "not measured", "reason": "2 held-out queries", "k": 3},
                         "was not measured: 2 held-out queries"),
                        ({**record, "k": 5}, "is precision@5, not @3"),
                        ({k: v for k, v in record.items() if k != "per_query"}, "no per-query matches")):
        run = run_with(search, f"run-rec-{len(why)}")
        doc = write_before_after(run, lib)
        assert doc["precision_from"] == "recomputed" and why in doc["precision_said"], doc["precision_said"]
        assert doc["head"]["chance"] == pytest.approx(1.0)
        queries = [t for t in lib.tracks() if t.id in ids]
        groups, _ = compare.track_groups(lib)
        from workbench.search import LibrarySearch

        assert doc["backbone"]["per_query"] == recomputed(LibrarySearch(lib, model="backbone", progress=False), queries,
                                                          groups, k=3)["per_query"]
