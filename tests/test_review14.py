"""Review of session 14: bad search options are said before the library is analysed and embedded."""

from __future__ import annotations

import pytest

from workbench.errors import ParameterError, TrackNotFoundError


@pytest.mark.parametrize("bad", ["-1,1,1,1", "nan,1,1,1", "0,0,0,0", (1, float("inf"), 0, 0), {"vibe": -2.0}])
def test_search_weights_refuses_numbers_search_cannot_use_when_it_reads_them(bad):
    """`similar --weights -1,1,1,1` was accepted, the library analysed and embedded, and only then refused."""
    from workbench.similarity.weights_option import search_weights

    with pytest.raises(ParameterError, match=r"^--weights: weights(\['\w+'\] must be (>= 0|finite)| must have a sum > 0)"):
        search_weights(bad, name="--weights")


def test_similar_refuses_negative_weights_before_opening_the_library(tmp_path, monkeypatch, capsys):
    from workbench import search
    from workbench.cli import main

    def never(*args, **kwargs):
        raise AssertionError("the library was searched with weights search cannot use")

    monkeypatch.setattr(search.LibrarySearch, "update", never)
    assert main(["--home", str(tmp_path), "--quiet", "similar", "1", "--weights", "1,-1,0,0"]) != 0
    assert "--weights: weights['tempo'] must be >= 0" in capsys.readouterr().err


def test_neighbour_tracks_says_an_unknown_track_before_the_library_is_embedded(tmp_path, monkeypatch):
    """neighbour_tracks analysed and embedded the whole library (minutes) before saying the track is not in it."""
    from workbench import search
    from workbench.library import Library
    from workbench.widgets import neighbour_tracks

    def never(self):
        raise AssertionError("the library was analysed and embedded for a track that is not in it")

    monkeypatch.setattr(search.LibrarySearch, "update", never)
    with Library(tmp_path / "w.db") as lib, pytest.raises(TrackNotFoundError):
        neighbour_tracks(lib, 999, k=2)


def test_train_does_not_say_a_best_epoch_was_kept_when_early_stopping_only_watched(tmp_path):
    """A sections trainer given a validation set with early_stopping off records ``best_epoch`` but keeps the last
    epoch's weights (``used`` False); `train` said "the model kept is epoch 1's" all the same."""
    from types import SimpleNamespace

    from workbench.commands.train import job_line
    from workbench.runs import load_run, write_run

    def said(metrics, name):
        p = write_run(f"sections-20261207-00000{name}-bbbb", info={"kind": "sections"}, config_={}, data={},
                      history=[{"epoch": e, "train_loss": 0.1} for e in range(1, 10)], metrics=metrics, root=tmp_path)
        return job_line(job, load_run(p).kept_epoch)

    job = SimpleNamespace(id=2, state="completed", kind="sections", epoch=9, total_epochs=9, loss=0.0421)
    assert said({"early_stopping": {"used": False, "best_epoch": 1, "epochs_run": 9}}, 1) == (
        "job 2 completed: sections, 9/9 epochs, loss 0.0421")
    assert said({"early_stopping": {"used": True, "best_epoch": 1}}, 2).endswith("the model kept is epoch 1's, "
                                                                                  "the best on validation)")
