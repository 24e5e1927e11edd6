"""A named study timed end to end, and the arithmetic it did against the machine's matmul rate.

`ambench bench --study NAME` runs `ambench sweep NAME` (a shipped sweep: figures/NAME/sweep.yaml
or sweeps/NAME.yaml) twice into a scratch folder, in fresh processes: cold (empty compilation
cache) and warm (the cache the cold run filled), and reports wall and CPU seconds and the XLA programs compiled. The arithmetic is counted from each
distinct compiled retrieval program (element operations of its jaxpr, a matmul as 2·m·k·n, loops
times their trip count), times the cells that run it, and set against an (n×n)@(n×n) float32
product timed in the same run: `ideal_s` is what the study would take at that rate, and
`fraction_of_matmul_rate` = ideal_s / the warm wall time is the distance to the limit.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_COMPILED = re.compile(r"compiled (\d+) XLA programs in \d+ process\(es\), (\d+) of them read from the")

# one operation per output element; everything unlisted that is not a container counts the same
_FREE = {"reshape", "broadcast_in_dim", "squeeze", "expand_dims", "convert_element_type", "slice", "transpose",
         "concatenate", "pad", "iota", "copy", "copy_p", "stop_gradient", "dynamic_slice", "gather",
         "dynamic_update_slice", "select_n", "rev", "bitcast_convert_type", "optimization_barrier"}


def element_ops(jaxpr) -> int:
    """Arithmetic of a (closed) jaxpr: 2·m·k·n per product, one per output element of an
    elementwise op, one per input element of a reduction, data movement free; `scan` (lax.map)
    bodies times their length, a `cond`/`switch` its costliest branch, a `while` body once (its
    trip count is data-dependent: a lower bound)."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    total = 0
    for eqn in jaxpr.eqns:
        name, params = eqn.primitive.name, eqn.params
        out_size = sum(int(np.prod(v.aval.shape)) for v in eqn.outvars if hasattr(v.aval, "shape"))
        if name == "dot_general":
            (contract, _), _ = params["dimension_numbers"]
            lhs = eqn.invars[0].aval.shape
            total += 2 * out_size * int(np.prod([lhs[i] for i in contract]))
        elif name == "scan":
            total += params["length"] * element_ops(params["jaxpr"])
        elif name == "while":
            total += element_ops(params["body_jaxpr"]) + element_ops(params["cond_jaxpr"])
        elif name == "cond":
            total += max(element_ops(b) for b in params["branches"])
        elif any(k in params for k in ("jaxpr", "call_jaxpr", "fun_jaxpr")):
            inner = params.get("jaxpr") or params.get("call_jaxpr") or params.get("fun_jaxpr")
            total += element_ops(inner)
        elif name.startswith("reduce_") or name in ("argmax", "argmin", "cumsum", "cumlogsumexp", "cummax"):
            total += sum(int(np.prod(v.aval.shape)) for v in eqn.invars if hasattr(v.aval, "shape"))
        elif name not in _FREE:
            total += out_size
    return total


def study_work(cells) -> dict:
    """Element operations, queries computed and queries scored over the cells that run one
    retrieval program each (the capacity and noise protocol); other cells are counted apart."""
    import equinox as eqx

    from .protocol import _run, prepare, signature

    counted: dict = {}
    ops = computed = scored = other = 0
    for cell in cells:
        if cell.get("search", False) or "n_queries" not in cell:
            other += 1
            continue
        prep = prepare(cell)
        inputs = prep.inputs()
        sig = signature(inputs)
        if sig not in counted:
            counted[sig] = element_ops(eqx.filter_make_jaxpr(_run)(*inputs)[0])
        ops += counted[sig]
        computed += int(prep.queries.shape[0])
        scored += int(np.asarray(prep.valid).sum())
    return {"element_ops": ops, "queries_computed": computed, "queries_scored": scored,
            "queries_computed_per_scored": computed / scored if scored else None,
            "distinct_programs_counted": len(counted), "cells_not_counted": other}


def matmul_flops_per_s(n: int = 1024) -> float:
    from .timing import matmul_rate

    return matmul_rate(n, n, n, repeats=7)


def timed_sweep(file: str, out: Path, cache: Path, overrides: list[str], smoke: bool) -> dict:
    """`ambench sweep FILE` in a child process with its own caches under `cache` (an empty folder
    is a cold run): wall and CPU seconds, programs compiled and read from the cache."""
    env = dict(os.environ, AMBENCH_CACHE=str(cache), AMBENCH_COMPILATION_CACHE=str(cache / "xla"))
    cmd = [sys.executable, "-m", "ambench.cli", "sweep", file, "--out", str(out), "--force", *overrides]
    if smoke:
        cmd.insert(5, "--smoke")
    run, wall, cpu = run_timed(cmd, env=env, what="bench --study")
    found = _COMPILED.search(run.stdout + run.stderr)
    return {"wall_s": wall, "cpu_s": cpu,
            "programs": int(found[1]) if found else None, "cache_hits": int(found[2]) if found else None}


def run_timed(cmd: list[str], *, env: dict | None = None, what: str = "",
              tail: int = 400) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run a child process; its wall time and the CPU time it (and its children) used, from
    getrusage, so a multi-threaded child counts every core. A failure raises with its output's tail."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    run = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        raise RuntimeError(f"{what + ': ' if what else ''}`{' '.join(map(str, cmd))}` failed: "
                           f"{(run.stderr or run.stdout).strip()[-tail:]}")
    return run, wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_study(name: str, *, overrides: list[str] | None = None, smoke: bool = False) -> dict:
    """Time study `name` (a shipped sweep's name, e.g. uhn-study or f4-uhn, or a path) cold then warm, count its arithmetic,
    and measure the matmul rate it is compared against. Returns one bench row."""
    from ._resources import shipped_sweeps, sweep_file
    from .sweep._spec import load_sweep

    file = str(sweep_file(name))
    if not Path(file).exists():
        raise ValueError(f"bench --study: no sweep file {file}; name a path or a shipped sweep: "
                         f"{', '.join(shipped_sweeps())}")
    overrides = list(overrides or [])
    sweep = load_sweep(file, smoke=smoke, overrides=overrides)
    with tempfile.TemporaryDirectory(prefix="ambench-study-") as tmp:
        cold = timed_sweep(file, Path(tmp) / "cold", Path(tmp) / "cache", overrides, smoke)
        warm = timed_sweep(file, Path(tmp) / "warm", Path(tmp) / "cache", overrides, smoke)
    work = study_work(sweep.cells)
    rate = matmul_flops_per_s()
    ideal = work["element_ops"] / rate
    return {"name": f"study:{sweep.name}", "seconds": warm["wall_s"], "reference_seconds": ideal,
            "ratio": ideal / warm["wall_s"], "target": None, "cells": len(sweep.cells), "cold": cold, "warm": warm,
            "matmul_flops_per_s": rate, "ideal_s": ideal, "fraction_of_matmul_rate": ideal / warm["wall_s"],
            "counters": {"programs_cold": cold["programs"], "element_ops": work["element_ops"],
                         "queries_computed_per_scored": work["queries_computed_per_scored"]},
            "work": work, "overrides": overrides, "smoke": smoke}


def describe(row: dict) -> str:
    """The study row in words, for the console."""
    c, w, k = row["cold"], row["warm"], row["work"]
    return (f"{row['name']}: {row['cells']} cells; cold {c['wall_s']:.1f} s wall / {c['cpu_s']:.1f} s CPU, "
            f"{c['programs']} programs compiled; warm {w['wall_s']:.1f} s wall / {w['cpu_s']:.1f} s CPU "
            f"({w['cache_hits']} of {w['programs']} programs from the cache); arithmetic {k['element_ops']:.3g} "
            f"element ops ({k['queries_computed']} queries computed for {k['queries_scored']} scored); matmul rate "
            f"{row['matmul_flops_per_s'] / 1e9:.1f} GFLOP/s -> {row['ideal_s']:.2f} s at that rate, "
            f"{100 * row['fraction_of_matmul_rate']:.2g}% of it reached warm")
