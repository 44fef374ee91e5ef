"""Plain search (no model named) ranks with the registry's active CNN ``embedding`` model when the user activated
one: the most recently activated of the active head and the active CNN ranks (a tie keeps the head), and every
result says which (issue 17)."""

from __future__ import annotations

import json

import pytest
from test_search_model import lib, music, prepared, register_head  # noqa: F401  (fixtures)

from workbench.cli import main
from workbench.registry import Registry
from workbench.search import LibrarySearch
from workbench.similarity.model import resolve_model

torch = pytest.importorskip("torch")


def register_cnn(library, version: int, *, active: bool, seed: int = 1) -> str:
    """An untrained seeded CNN saved in a run folder and recorded as an ``embedding`` version (as export records a
    ``--backbone cnn`` run); returns its run id."""
    from workbench.models.cnn import build_cnn, save_cnn
    from workbench.models.cnn_backbone import CNNBackbone
    from workbench.store import utc_now

    net = build_cnn(seed=seed)
    run_id = f"run-cnn-{version}"
    folder = library.workspace.experiments / run_id
    folder.mkdir(parents=True, exist_ok=True)
    save_cnn(net, folder / "model.pt")
    meta = {"backbone": {"name": CNNBackbone(net).name, "settings": {"hop_s": 0.5}}, "run_id": run_id}
    with Registry(library, cleanup=False) as reg:
        reg._insert({"model_type": "embedding", "version": version, "metadata": meta, "run_id": run_id,
                     "created_at": utc_now()}, activate=active)
    return run_id


def _activated_at(library, model_type: str, version: int) -> str | None:
    row = library.conn.execute("SELECT metadata FROM model_versions WHERE model_type = ? AND version = ?",
                           (model_type, version)).fetchone()
    return json.loads(row["metadata"]).get("activated_at")


def _set_activated_at(library, model_type: str, version: int, value: str | None) -> None:
    """Stand in for a row written at another time (None: a row from before activations were recorded)."""
    row = library.conn.execute("SELECT metadata FROM model_versions WHERE model_type = ? AND version = ?",
                           (model_type, version)).fetchone()
    blob = json.loads(row["metadata"])
    blob.pop("activated_at", None)
    if value is not None:
        blob["activated_at"] = value
    with library.store.transaction() as conn:
        conn.execute("UPDATE model_versions SET metadata = ? WHERE model_type = ? AND version = ?",
                     (json.dumps(blob), model_type, version))


def test_an_active_cnn_alone_ranks_plain_search_and_every_result_says_so(lib, capsys):  # noqa: F811
    run_id = register_cnn(lib, 1, active=True)
    m = resolve_model(lib)
    assert m.name == "cnn@1" and m.head is None and m.run_id == run_id
    assert m.backbone.name.startswith("cnn-v1-") and m.key.startswith(m.backbone.name)  # its index: its weights
    assert m.said.startswith(f"cnn@1 ({m.backbone.name}); the active embedding model, the cnn of run {run_id}")
    search = LibrarySearch(lib, progress=False)  # LibrarySearch's default, as notebook 01's MODEL = None
    assert search.model_said == m.said
    q = str(lib.tracks()[0].id)
    assert main(["--db", str(lib.path), "--quiet", "similar", q, "-k", "2", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 2 and all(f"cnn of run {run_id}" in r["model"] for r in records)
    # the same ranking as naming the CNN
    assert main(["--db", str(lib.path), "--quiet", "similar", q, "-k", "2", "--model", "cnn", "--json"]) == 0
    named = json.loads(capsys.readouterr().out)
    assert [r["track_id"] for r in named] == [r["track_id"] for r in records]
    assert [r["score"] for r in named] == pytest.approx([r["score"] for r in records])
    assert main(["--db", str(lib.path), "--quiet", "similar", q, "-k", "2"]) == 0
    assert f"model: cnn@1 ({m.backbone.name}); the active embedding model, the cnn of run {run_id}" \
        in capsys.readouterr().out


def test_the_most_recently_activated_of_head_and_cnn_ranks(lib):  # noqa: F811
    register_head(lib, 1, seed=1, active=True)
    assert resolve_model(lib).name == "head@1"
    run_id = register_cnn(lib, 1, active=True)  # activated after the head
    m = resolve_model(lib)
    assert m.name == "cnn@1" and m.note == (f"the active embedding model, the cnn of run {run_id}, activated after the "
                                            "active head@1 (--model head ranks with the head)")
    assert resolve_model(lib, "head").name == "head@1" and resolve_model(lib, "backbone").name == "backbone"
    with Registry(lib, cleanup=False) as reg:
        before = _activated_at(lib, "head", 1)
        reg.activate("head", 1, force=True)  # the user makes the head active again: it ranks
        assert _activated_at(lib, "head", 1) > before
        assert resolve_model(lib).name == "head@1"
        reg.activate("embedding", 1, force=True)  # and the CNN again
        assert resolve_model(lib).name == "cnn@1"
        register_cnn(lib, 2, active=False, seed=2)
        reg.activate("embedding", 2, force=True)
        assert resolve_model(lib).name == "cnn@2"
        reg.rollback("embedding", force=True)  # a rollback is an activation too
        assert resolve_model(lib).name == "cnn@1"
    _set_activated_at(lib, "head", 1, "2026-12-07T04:00:00.000001+00:00")
    _set_activated_at(lib, "embedding", 1, "2026-12-07T04:00:00.000001+00:00")
    assert resolve_model(lib).name == "head@1"  # a tie keeps the head
    # rows from before activations were recorded: when each was registered
    _set_activated_at(lib, "head", 1, None)
    _set_activated_at(lib, "embedding", 1, None)
    with lib.store.transaction() as conn:
        conn.execute("UPDATE model_versions SET created_at = '2026-01-01T00:00:00+00:00' WHERE model_type = 'head'")
        conn.execute("UPDATE model_versions SET created_at = '2026-01-02T00:00:00+00:00' WHERE model_type = 'embedding'")
    assert resolve_model(lib).name == "cnn@1"
    with lib.store.transaction() as conn:
        conn.execute("UPDATE model_versions SET created_at = '2026-01-03T00:00:00+00:00' WHERE model_type = 'head'")
    assert resolve_model(lib).name == "head@1"


def test_an_active_embedding_model_that_is_no_cnn_leaves_the_head_rule(lib):  # noqa: F811
    """A head run's export activates its own embedding model (feature frontend + head, audio in): not a CNN."""
    register_head(lib, 1, seed=1, active=True)
    with Registry(lib, cleanup=False) as reg:
        reg._insert({"model_type": "embedding", "version": 1, "run_id": "run-head-1", "created_at": "2027-01-01",
                     "metadata": {"backbone": {"name": "features-v1"}, "run_id": "run-head-1"}}, activate=True)
    assert resolve_model(lib).name == "head@1"
    with lib.store.transaction() as conn:  # and none active at all: the backbone, as before
        conn.execute("UPDATE model_versions SET active = 0")
    m = resolve_model(lib)
    assert m.name == "backbone" and "no active head" in m.said


def test_an_active_cnn_whose_weights_are_gone_is_said_and_search_ranks_without_it(lib):  # noqa: F811
    register_head(lib, 1, seed=1, active=True)
    run_id = register_cnn(lib, 1, active=True)
    weights = lib.workspace.experiments / run_id / "model.pt"
    weights.unlink()
    m = resolve_model(lib)
    assert m.name == "head@1"
    assert m.note == f"embedding@1 (run {run_id}): its weights ({weights}) are gone; train again or choose another " \
                     "--model; ranked without it"
    with pytest.raises(Exception, match="its weights .* are gone"):  # named, it is refused as before
        resolve_model(lib, "cnn")


def test_an_activation_is_recorded_with_the_store_clock_to_the_microsecond(lib):  # noqa: F811
    """One clock for every stored time (store.utc_now), at the precision an activation needs: two activations in
    one second still order."""
    from datetime import datetime

    from workbench.store import utc_now

    assert datetime.fromisoformat(utc_now()).microsecond == 0  # created_at and every other stored time: seconds
    at = utc_now(timespec="microseconds")
    assert datetime.fromisoformat(at).utcoffset().total_seconds() == 0 and len(at.split(".")[1]) == len("000000+00:00")
    register_cnn(lib, 1, active=True)
    recorded = _activated_at(lib, "embedding", 1)
    assert at <= recorded <= utc_now(timespec="microseconds") and "." in recorded
