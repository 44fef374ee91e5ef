"""The tables of one run a training notebook shows: retrieval before and after fine-tuning (notebook 03)
and grouped cross-validation against the baselines (notebook 04), read from the run's ``metrics.json``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from workbench.errors import ParameterError

if TYPE_CHECKING:
    import pandas as pd

    from workbench.runs import Run

__all__ = ["before_after", "cv_table"]


def before_after(run: Run | str | os.PathLike[str], *, split: str = "test",
                 root: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Retrieval on held-out tracks before and after fine-tuning, from an ``embeddings`` run.

    Rows: the bare backbone (``baseline``), the head as initialised (``untrained_head``) and the
    fine-tuned head (``model``), named in words; columns: the scores on ``split`` (MAP@R, precision@1,
    precision@5, ...; 4 decimals, as every runs table), then the query counts (``n_*``, whole numbers); nested
    records (``per_class``) are left to the run's report.

    Parameters
    ----------
    run : Run, run id or run folder
        An ``embeddings`` run.
    split : str
        The metrics split to read (``"test"``, ``"val"``).
    root : str, path or None
        Experiments folder used to look up a run id (default :func:`workbench.config.experiments_dir`).

    Returns
    -------
    pandas.DataFrame
        One row per model that recorded ``split`` metrics.

    Raises
    ------
    ParameterError
        The run is not an ``embeddings`` run, or recorded no ``split`` retrieval metrics.
    """
    import pandas as pd

    from workbench.runs import Run, load_run

    r = run if isinstance(run, Run) else load_run(run, root=root)
    if r.kind != "embeddings":
        raise ParameterError(f"before_after needs an 'embeddings' run; {r.run_id} is a {r.kind!r} run")
    rows = {name: r.metrics[name][split] for name in ("baseline", "untrained_head", "model")
            if isinstance(r.metrics.get(name), dict) and isinstance(r.metrics[name].get(split), dict)}
    if not rows:
        raise ParameterError(f"run {r.run_id} recorded no {split!r} retrieval metrics (metrics.json model/baseline)")
    table = pd.DataFrame(rows).T.rename(index={"baseline": "backbone (no training)",
                                               "untrained_head": "head before training", "model": "fine-tuned head"})
    # scalars only: a real run's per_class (a dict per class) filled a cell with 16-digit floats
    numeric = [c for c in table.columns if all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                               for v in table[c].dropna())]
    counts = [c for c in numeric if str(c).startswith("n_")]
    scores = [c for c in numeric if c not in counts]
    return table[scores + counts].astype({c: float for c in scores} | {c: int for c in counts}).round(4)


def cv_table(run: Run | str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Grouped cross-validation of a ``sections`` run: accuracy, macro F1 and seconds per model.

    Parameters
    ----------
    run : Run, run id or run folder
        A ``sections`` run (its ``metrics.json`` ``cv``).
    root : str, path or None
        Experiments folder used to look up a run id.

    Returns
    -------
    pandas.DataFrame
        One row per model: ``accuracy``, ``macro_f1`` (4 decimals), ``seconds`` (wall time, in seconds, to 0.1 s).

    Raises
    ------
    ParameterError
        The run recorded no cross-validation.
    """
    import pandas as pd

    from workbench.runs import Run, load_run

    r = run if isinstance(run, Run) else load_run(run, root=root)
    cv = r.metrics.get("cv") or {}
    rows = {name: {"accuracy": m.get("accuracy"), "macro_f1": m.get("macro_f1"), "seconds": m.get("seconds")}
            for name, m in cv.items() if isinstance(m, dict) and "accuracy" in m}
    if not rows:
        raise ParameterError(f"run {r.run_id} recorded no cross-validation (metrics.json cv)")
    # scores to 4 decimals as the report beside it (the table showed 0.563 beside the report's 0.5630)
    return pd.DataFrame(rows).T.astype(float).round({"accuracy": 4, "macro_f1": 4, "seconds": 1})
