"""The head's objective (``TripletConfig.loss``): proxy and contrastive losses of pytorch-metric-learning beside the
triplet loss, each learning, deterministic for a seed, its proxies in their own parameter group."""

from __future__ import annotations

import pytest

from tests.test_triplet import FAST, clustered
from workbench.errors import ParameterError
from workbench.train.metric_losses import LOSSES, PROXY_LR_SCALE, build_objective
from workbench.train.triplet import TripletConfig, train_triplet


@pytest.fixture(scope="module")
def splits():
    return clustered(seed=0), clustered(seed=1, per_class=8, first_track=10_000), \
        clustered(seed=2, per_class=10, first_track=20_000)


def test_unknown_loss_is_refused_with_the_choices():
    with pytest.raises(ParameterError, match=r"loss must be one of \['triplet', 'proxy_anchor', 'supcon'\]; got 'arcface'"):
        TripletConfig(loss="arcface")
    with pytest.raises(ParameterError, match="got 'arcface'"):
        build_objective("arcface", margin=0.2, type_of_triplets="semihard", n_classes=3, out_dim=8)
    assert TripletConfig().loss == "triplet"
    from workbench.train.triplet_config import check_job_config

    with pytest.raises(ParameterError, match="got 'arcface'"):  # `workbench train embeddings --set loss=arcface`
        check_job_config({"loss": "arcface"})
    check_job_config({"loss": "supcon"})


@pytest.mark.parametrize("loss", [name for name in LOSSES if name != "triplet"])
def test_each_loss_beats_the_backbone_on_held_out_tracks(splits, loss):
    train, val, test = splits
    cfg = TripletConfig(**{**FAST, "max_epochs": 20, "patience": 4, "loss": loss})
    result = train_triplet(train, val, test=test, config=cfg, progress=False)
    head, base = result.metrics["model"]["test"], result.metrics["baseline"]["test"]
    assert head["map_at_r"] > base["map_at_r"] + 0.1, (loss, head["map_at_r"], base["map_at_r"])
    assert result.config["loss"] == loss
    groups = {g["name"]: g for g in result.data["param_groups"]}
    if loss == "proxy_anchor":  # one vector per class, at the paper's faster learning rate
        assert groups["proxies"]["n_params"] == len(train.classes) * FAST["out_dim"]
        assert groups["proxies"]["lr"] == pytest.approx(FAST["lr"] * PROXY_LR_SCALE)
    else:
        assert "proxies" not in groups


def test_proxy_loss_is_deterministic_for_a_seed_and_leaves_the_global_rng(splits):
    import torch

    train, val, _ = splits
    cfg = TripletConfig(**{**FAST, "max_epochs": 2, "loss": "proxy_anchor"})
    torch.manual_seed(7)
    a = train_triplet(train, val, config=cfg, progress=False)
    after_a = torch.rand(1)
    torch.manual_seed(7)
    b = train_triplet(train, val, config=cfg, progress=False)
    assert torch.equal(after_a, torch.rand(1))
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k


@pytest.mark.parametrize("loss", ["supcon", "proxy_anchor"])
def test_a_loss_without_a_miner_records_its_batch_rows_not_mined_triplets(splits, loss):
    """SupCon and Proxy Anchor mine nothing: their history said ``mined_triplets`` = every batch's size (a
    constant of the sampler, drawn as a curve in the report); it now says ``batch_rows``, and draws no panel."""
    from workbench.report.plots import curves_figure
    from workbench.train.metric_losses import ROWS_KEY

    train, val, _ = splits
    result = train_triplet(train, val, config=TripletConfig(**{**FAST, "max_epochs": 2, "loss": loss}), progress=False)
    for record in result.history:
        assert "mined_triplets" not in record
        assert isinstance(record[ROWS_KEY], int) and record[ROWS_KEY] > 0
    titles = [ax.get_title() for ax in curves_figure({"run": result.history}).axes if ax.get_visible()]
    assert "train_loss" in titles and ROWS_KEY not in titles


def test_the_triplet_loss_still_records_its_mined_triplets(splits):
    from workbench.train.metric_losses import ROWS_KEY

    train, val, _ = splits
    result = train_triplet(train, val, config=TripletConfig(**{**FAST, "max_epochs": 1}), progress=False)
    assert isinstance(result.history[0]["mined_triplets"], int) and ROWS_KEY not in result.history[0]
