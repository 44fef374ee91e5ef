"""The section model file's per-track summaries: Python lists (before session 20) vs float32 tensors, size and load time.

A sections model trained with ``confidence_map_domain`` keeps its training tracks' descriptors (the domain map's
:class:`~workbench.train.sections.domain_map.TrackDistance`), one trained with ``self_training_route`` the gate's
labelled summaries (:class:`~workbench.train.sections.domain_gate.GateReference`). Until session 20 the first were
Python lists and the second float64 tensors; now both are float32 tensors (``center``/``scale`` stay float64). This
bench builds both parts for ``--tracks`` random tracks of ``--dim`` frame columns (descriptors 2 x dim: features-v1
202, OpenL3 512), saves them each way with ``torch.save`` and times ``torch.load(weights_only=True)`` plus the
parts' ``from_dict``/``from_state`` (median of ``--repeats``), and says how far float32 moves the distances and
whether any "unlike your labelled tracks" decision or gate decision flips on ``--queries`` random tracks::

    NUMBA_CPU_NAME=generic nice -n 10 .venv/bin/python benchmarks/bench_sections_model_file.py --tracks 1000 --dim 202
    NUMBA_CPU_NAME=generic nice -n 10 .venv/bin/python benchmarks/bench_sections_model_file.py --tracks 1000 --dim 512

Prints one table (``--json``: the same as a dict).

Session 20 (2026-12-07, AMD EPYC, 2 shared cores, load 3-4): 1,000 tracks, ``--dim 202`` (features-v1): 6.89 ->
3.25 MB, load 0.827 -> 0.002 s; ``--dim 512``: 17.45 -> 8.23 MB, load 1.955 -> 0.011 s (at load 14: 3.6 -> 0.04 s
and 8.7 -> 0.02 s). float32 moves a distance at most 8e-10 relative; no decision of 500 flips.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time

import numpy as np


def _parts(n: int, dim: int, seed: int):
    """A DomainMap and a GateReference fitted on ``n`` random tracks' descriptors (2 x ``dim`` columns)."""
    from workbench.train.sections.domain_gate import GateReference
    from workbench.train.sections.domain_map import DomainMap, TrackDistance

    rng = np.random.default_rng(seed)
    desc = np.concatenate([rng.normal(0, 1, (n, dim)) + rng.normal(0, 3, dim), rng.gamma(2, 0.5, (n, dim))], axis=1)
    dmap = DomainMap(0.8, 1.5, TrackDistance.fit(desc))
    mu, sd = desc.mean(axis=0), desc.std(axis=0)
    gate = GateReference(mu, sd, (desc - mu) / sd, 1.0)
    return dmap, gate, rng


def _old_state(dmap, gate) -> dict:
    """As ``save_section_model`` stored them before session 20: lists, and float64 tensors."""
    import torch

    ref = dmap.reference
    d = {**dmap.to_dict(), "reference": {"center": ref.center.tolist(), "scale": ref.scale.tolist(),
                                         "refs": ref.refs.tolist(), "unit": float(ref.unit), "k": int(ref.k)}}
    return {"domain_map": d, "route": {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v)
                                       for k, v in gate.__dict__.items()}}


def _new_state(dmap, gate) -> dict:
    return {"domain_map": dmap.to_dict(), "route": gate.to_state()}


def _load(blob: bytes):
    import torch

    from workbench.train.sections.domain_gate import GateReference
    from workbench.train.sections.domain_map import DomainMap

    data = torch.load(io.BytesIO(blob), weights_only=True)
    return DomainMap.from_dict(data["domain_map"]), GateReference.from_state(data["route"])


def measure(n: int, dim: int, *, repeats: int = 5, queries: int = 500, seed: int = 0) -> dict:
    """Size (bytes) and load seconds of both encodings, and what float32 moves.

    Parameters
    ----------
    n : int
        Training tracks.
    dim : int
        Frame columns (descriptors are 2 x dim).
    repeats : int
        Loads timed per encoding (median).
    queries : int
        Random tracks whose distances are compared.
    seed : int

    Returns
    -------
    dict
    """
    import torch

    dmap, gate, rng = _parts(n, dim, seed)
    out = {"tracks": n, "descriptor_columns": 2 * dim}
    loaded = {}
    for name, state in (("lists (before)", _old_state(dmap, gate)), ("float32 (now)", _new_state(dmap, gate))):
        buf = io.BytesIO()
        torch.save(state, buf)
        blob = buf.getvalue()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            loaded[name] = _load(blob)
            times.append(time.perf_counter() - t0)
        out[name] = {"bytes": len(blob), "load_s": statistics.median(times)}
    q = np.concatenate([rng.normal(0, 1.3, (queries, dim)) + rng.normal(0, 3, dim),
                        rng.gamma(2, 0.6, (queries, dim))], axis=1)
    (m_old, g_old), (m_new, g_new) = loaded["lists (before)"], loaded["float32 (now)"]
    d_old, d_new = m_old.reference.distance(q), m_new.reference.distance(q)
    limit = float(np.median(d_old))  # a limit where half the queries lie: the most decisions at stake
    z = (q - gate.center) / gate.scale
    from workbench.train.sections.domain_map import nearest_rms

    e_old, e_new = nearest_rms(z, g_old.labelled), nearest_rms(z, g_new.labelled)
    out["float32"] = {"map_max_rel_change": float(np.max(np.abs(d_new / d_old - 1))),
                      "map_flipped_at_median_limit": int(np.sum((d_old > limit) != (d_new > limit))),
                      "gate_max_rel_change": float(np.max(np.abs(e_new / e_old - 1))), "queries": queries}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tracks", type=int, default=1000)
    p.add_argument("--dim", type=int, default=202, help="frame columns (features-v1 202, OpenL3 512)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--queries", type=int, default=500)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    r = measure(a.tracks, a.dim, repeats=a.repeats, queries=a.queries)
    if a.json:
        print(json.dumps(r, indent=1))
        return 0
    print(f"{r['tracks']} tracks, descriptors of {r['descriptor_columns']} columns (domain map + gate reference)")
    for name in ("lists (before)", "float32 (now)"):
        print(f"  {name:<15} {r[name]['bytes'] / 1e6:8.2f} MB  load {r[name]['load_s']:.3f} s")
    f = r["float32"]
    print(f"  float32: distances move at most {f['map_max_rel_change']:.2e} (map), {f['gate_max_rel_change']:.2e} "
          f"(gate) relative; {f['map_flipped_at_median_limit']} of {f['queries']} decisions flip at a median limit")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
