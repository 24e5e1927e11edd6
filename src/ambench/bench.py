"""Micro-benchmarks: each one times a path against an in-run reference and keeps counters.

Ratios measured in the same run are machine-independent enough to gate CI; absolute times are
printed for people, never compared across machines. The gate fails when a deterministic
counter changes or a ratio falls below its committed baseline divided by 1.5.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
from rich.console import Console
from rich.table import Table

from .energy import descend
from .models import ContinuousDAM, DiscreteDAM, textbook_sweep
from .timing import compile_count, device_name, time_jitted

console = Console()
SLACK = 1.5


def bench_dam_step(*, k: int, d: int, b: int, t: int, repeats: int) -> dict:
    """Continuous-DAM retrieval built from the framework (autograd of the HAM energy, Euler dt=1)
    vs a hand-written jax.numpy loop of x ← softmax(β·x Ξᵀ) Ξ. ratio = t_loop / t_framework."""
    key = jax.random.PRNGKey(0)
    mem = jax.random.normal(key, (k, d)) / d**0.5
    q = jax.random.normal(jax.random.fold_in(key, 1), (b, d)) / d**0.5
    ham = ContinuousDAM(mem, beta=1.0, similarity="dot").as_ham()

    @jax.jit
    def framework(ham, q):
        run = lambda x: descend(ham, {"visible": x}, dt=1.0, max_steps=t, tol=0.0).states["visible"]  # noqa: E731
        return jax.vmap(run)(q)

    @jax.jit
    def loop(mem, q):
        return jax.lax.fori_loop(0, t, lambda _, x: jax.nn.softmax(x @ mem.T, axis=-1) @ mem, q)

    err = float(jnp.max(jnp.abs(framework(ham, q) - loop(mem, q))))
    t_fw = time_jitted(framework, ham, q, repeats=repeats)
    t_loop = time_jitted(loop, mem, q, repeats=repeats)
    return {"name": "dam_step_framework_vs_jnp", "seconds": t_fw, "reference_seconds": t_loop,
            "ratio": t_loop / t_fw, "target": 0.95, "max_abs_diff": err,
            "query_steps_per_s": b * t / t_fw,
            "counters": {"compilations": compile_count(framework), "flops_per_call": 4 * b * k * d * t}}


def exact_exp_sweep(memories, s, order, *, beta: float = 1.0):
    """The textbook rule in float64 numpy: for each component compare lse(β·Ξs) with s_i = ±1.
    The correctness reference (a float32 textbook run can mis-decide near-ties and diverge)."""
    import numpy as np

    xi, s = np.asarray(memories, np.float64), np.asarray(s, np.float64).copy()

    def lse(v):
        top = v.max()
        return top + np.log(np.exp(v - top).sum())

    for i in np.asarray(order):
        s[i] = 1.0
        up = lse(beta * (xi @ s))
        s[i] = -1.0
        down = lse(beta * (xi @ s))
        s[i] = 1.0 if up > down else -1.0  # E = −lse/β: the larger lse is the lower energy
    return s


def bench_exp_sweep(*, k: int, d: int, b_fast: int, b_ref: int, repeats: int) -> dict:
    """Exponential DAM, one asynchronous sweep per query: incremental O(K) update (queries
    batched, `b_fast` at a time) vs the textbook rule recomputing logsumexp(Ξ·s) twice per
    component, one query at a time as PROTOCOLS times it. ratio = per-query speed-up."""
    import numpy as np

    key = jax.random.PRNGKey(1)
    model = DiscreteDAM(jnp.where(jax.random.bernoulli(key, 0.5, (k, d)), 1.0, -1.0), kind="exp")
    order = jax.random.permutation(jax.random.fold_in(key, 1), d)
    s = jnp.where(jax.random.bernoulli(jax.random.fold_in(key, 2), 0.5, (b_fast, d)), 1.0, -1.0)
    fast = jax.jit(jax.vmap(model.sweep, in_axes=(0, None)))
    got = np.asarray(fast(s, order))
    same = all(np.array_equal(got[q], exact_exp_sweep(model.memories, s[q], order)) for q in range(2))
    t_fast = time_jitted(fast, s, order, repeats=repeats) / b_fast
    one = jax.jit(lambda x, o: textbook_sweep(model, x, o))
    t_slow = time_jitted(one, s[0], order, repeats=max(1, repeats // 2))
    slow = jax.jit(jax.vmap(lambda x, o: textbook_sweep(model, x, o), in_axes=(0, None)))
    t_slow_batched = time_jitted(slow, s[:b_ref], order, repeats=max(1, repeats // 2)) / b_ref
    return {"name": "exp_dam_sweep_vs_textbook", "seconds": t_fast, "reference_seconds": t_slow,
            "ratio": t_slow / t_fast, "target": 100.0, "identical_states": same,
            "ratio_vs_batched_textbook": t_slow_batched / t_fast, "batch": b_fast,
            "counters": {"components_per_sweep": d, "compilations": compile_count(fast)}}


def run_all(quick: bool) -> list[dict]:
    if quick:
        return [bench_dam_step(k=4096, d=512, b=128, t=10, repeats=7),
                bench_exp_sweep(k=500, d=256, b_fast=256, b_ref=4, repeats=3)]
    return [bench_dam_step(k=10_000, d=784, b=256, t=20, repeats=5),
            bench_exp_sweep(k=1000, d=784, b_fast=1024, b_ref=4, repeats=3)]


def gate(results: list[dict], baseline: dict) -> list[str]:
    """Regressions against the committed baseline: counters must match, ratios may not fall
    below baseline/1.5. Returns the failures (empty = pass)."""
    failures = []
    for r in results:
        base = baseline.get(r["name"])
        if base is None:
            failures.append(f"{r['name']}: not in the baseline; add it with --json and commit")
            continue
        for counter, value in base.get("counters", {}).items():
            if r["counters"].get(counter) != value:
                failures.append(f"{r['name']}: counter {counter} is {r['counters'].get(counter)}, baseline {value}")
        if r["ratio"] < base["ratio"] / SLACK:
            failures.append(f"{r['name']}: ratio {r['ratio']:.3g} < baseline {base['ratio']:.3g} / {SLACK}")
        if r.get("identical_states") is False:
            failures.append(f"{r['name']}: fast path and reference disagree")
    return failures


def main(*, quick: bool = False, gate: str | None = None, json_out: str | None = None,
         results: list[dict] | None = None) -> int:
    results = results if results is not None else run_all(quick)
    table = Table(title=f"ambench bench ({'quick' if quick else 'full'}) on {device_name()}")
    for c in ("benchmark", "ms", "reference ms", "ratio", "target", "counters"):
        table.add_column(c)
    for r in results:
        table.add_row(r["name"], f"{1e3 * r['seconds']:.3f}", f"{1e3 * r['reference_seconds']:.3f}",
                      f"{r['ratio']:.3g}", "gate: baseline/1.5" if quick else f">= {r['target']}",
                      json.dumps(r["counters"]))
    console.print(table)
    if json_out:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(json.dumps({"device": device_name(), "quick": quick, "results": results}, indent=2))
    if gate:
        path = Path(gate)
        if not path.exists():
            console.print(f"error: no baseline at {path}; create it with `ambench bench --quick --json {path}`")
            return 2
        baseline = {r["name"]: r for r in json.loads(path.read_text())["results"]}
        failures = globals()["gate"](results, baseline)
        for f in failures:
            console.print(f"[red]REGRESSION[/red] {f}")
        if failures:
            return 1
        console.print("bench gate: pass")
    return 0
