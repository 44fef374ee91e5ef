"""The head's metric-learning objective (``TripletConfig.loss``), from pytorch-metric-learning.

``"triplet"`` (the default): ``TripletMarginLoss`` on cosine distance with a ``TripletMarginMiner`` of the same
margin. The others use every row of a batch, without mining: ``"proxy_anchor"`` (``ProxyAnchorLoss``, margin 0.1,
alpha 32: one learnable vector per class, trained with the head at ``PROXY_LR_SCALE`` times its learning rate, the
Proxy Anchor paper's recipe) and ``"supcon"`` (``SupConLoss``, temperature 0.1).

Measured (session 17, ``benchmarks/bench_search_real.py --per-query --variant NAME:loss=...``, the 16 real files,
seeds 0-8): chosen on the training tracks only (the blend's folds: fold heads ranking training tracks they never
trained on), SupCon's heads rank best there (track-level MAP 0.511 vs triplet 0.490, Proxy Anchor 0.489, ProxyNCA
0.463, which was dropped), but on the held-out tracks its P@3 by folder is 0.556 against the triplet default's 0.586
(backbone 0.549): an option, not the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The objectives ``TripletConfig.loss`` accepts.
LOSSES: tuple[str, ...] = ("triplet", "proxy_anchor", "supcon")
#: A proxy loss's own learning rate, as a multiple of the head's.
PROXY_LR_SCALE = 100.0
#: The training history's count for a loss without a miner (SupCon, Proxy Anchor): the rows its batches gave it in
#: an epoch, every one used (``mined_triplets`` is the triplet loss's own); a count the sampler fixes, not a sign of
#: learning, so the training curves draw no panel of it.
ROWS_KEY = "batch_rows"


@dataclass
class Objective:
    """A built objective: ``loss(emb, labels, mined)``; ``miner`` None where the loss mines nothing.

    ``proxies`` is the loss module with learnable class vectors (None for triplet and SupCon);
    ``margin_bound`` True where the loss sits at the triplet margin on collapse (the collapse check's second test).
    """

    loss: Any
    miner: Any
    proxies: Any
    margin_bound: bool


def build_objective(name: str, *, margin: float, type_of_triplets: str, n_classes: int, out_dim: int,
                    generator: Any = None) -> Objective:
    """The loss (and miner) of ``name`` for embeddings of size ``out_dim`` over ``n_classes`` classes.

    Parameters
    ----------
    name : str
        One of :data:`LOSSES`.
    margin : float
        The triplet margin (cosine distance); the triplet loss and its miner only.
    type_of_triplets : str
        The triplet miner's selection.
    n_classes : int >= 1
        Training classes (class ids ``0 .. n_classes - 1``): a proxy per class.
    out_dim : int >= 1
        The embedding size.
    generator : torch.Generator, optional
        Draws a proxy loss's class vectors (Kaiming normal, as pytorch-metric-learning's default), so they
        follow the run's seed without touching the global RNG.
    """
    from pytorch_metric_learning import distances, losses, miners

    cosine = distances.CosineSimilarity()
    if name == "triplet":
        return Objective(losses.TripletMarginLoss(margin=margin, distance=cosine),
                         miners.TripletMarginMiner(margin=margin, type_of_triplets=type_of_triplets, distance=cosine),
                         None, True)
    if name == "proxy_anchor":
        proxy = losses.ProxyAnchorLoss(n_classes, out_dim, margin=0.1, alpha=32)
        if generator is not None:
            import torch

            with torch.no_grad():
                torch.nn.init.kaiming_normal_(proxy.proxies, generator=generator)
        return Objective(proxy, None, proxy, False)
    if name == "supcon":
        return Objective(losses.SupConLoss(temperature=0.1), None, None, False)
    from workbench.errors import ParameterError

    raise ParameterError(f"loss must be one of {list(LOSSES)}; got {name!r}")
