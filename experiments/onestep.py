"""One-update retrieval of the modern Hopfield network (Ramsauer et al. 2020, arXiv:2008.02217v3).

The model is `dam-softmax` with similarity=dot and method=update, whose step is exactly their
Eq. (3), f(ξ) = X softmax(β Xᵀξ) (X's columns are the N stored patterns; here N = K = n_memories,
d = D). Per cell, for the first `n_queries` stored patterns x_i (all K when fewer):
- the separation Δ_i = x_iᵀx_i − max_{j≠i} x_iᵀx_j (their Eq. (5) / Definition 2) and
  M = max_i ‖x_i‖ over all K stored patterns;
- `well_separated_rate`: Δ_i ≥ 2/(βN) + (1/β) ln(2 (N−1) N β M²), the assumption of their
  appendix Lemmas A5–A7 (a fixed point x_i* exists in the sphere S_i = {‖ξ − x_i‖ ≤ 1/(βNM)},
  Definition 3; equation number unverified). The issue calls this "Theorem 3"; in the paper
  Theorem 3 is the storage capacity, which is not measured here;
- the query ξ = x_i + r·M·u, u uniform on the unit sphere (one seeded draw per pattern),
  r = `query_noise` (0: the stored pattern itself). Theorem 5 holds for any query ξ; the
  one-update convergence of Theorem 4 / Lemma A5 assumes ξ ∈ S_i (`in_sphere_rate`);
- the measured one-step error e_i = ‖f(ξ) − x_i‖, f the model's own update (`softmax_update`);
- the bound of Theorem 5 (their appendix Theorem A9), Eq. (8) of the main text (the number is
  read from the sequence: Theorem 4's displays are Eqs. (6)-(7), attention is Eq. (10)):
      ‖f(ξ) − x_i‖ ≤ 2 (N−1) exp(−β (Δ_i − 2 max{‖ξ − x_i‖, ‖x_i* − x_i‖} M)) M,
  with x_i* the state the iteration from ξ reaches. Its proof (Lemma A4 with the separation of
  ξ bounded below by Δ_i − 2‖ξ − x_i‖M) needs no assumption on ξ or x_i*, so the bound holds for
  every pattern: `within_bound_rate` must be 1 and `bound_violations` 0, or the code is wrong.
  Since f(ξ) is a convex combination of patterns, e_i ≤ 2M always; `bound_informative_rate` is
  the fraction with a bound below 2M (where the theorem says something);
- iteration from ξ with the model's rule to a fixed point: a step that moves no component by
  more than the model's tolerance 1e-4 ends it (that confirming step is not counted, so 0 steps
  means ξ was already a fixed point), capped at the model's `max_steps` (`cap_hits` counts the
  queries that hit the cap; their state is not a fixed point);
- retrieved in one update (`one_step_rate`, adapted from the paper's Definition 1, which asks
  ‖f(ξ) − x_i*‖ ≤ ε for the fixed point x_i* inside S_i): the iteration converged, the fixed
  point x_i* it reached is nearer (Euclidean) to x_i than to any other stored pattern (not
  "inside S_i"), and ‖f(ξ) − x_i*‖ ≤ ε·M (ε relative to M) with ε = `epsilon`. Beside it, the ambench `nearest`
  criterion after one update (`one_step_nearest_rate`: f(ξ) nearest to x_i) and at the fixed
  point (`fixed_point_nearest_rate`).
Everything runs in float64 (JAX x64 inside the cell), so the bound check is not blurred by
float32 rounding (about 1e-7·M), which exceeds the bound wherever the bound is below it.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ambench import Metric, count, rate, series, register_experiment
from ambench.models import retrieve
from ambench.models._continuous import softmax_update
from ambench.params import Field, Params as _Params
from ambench.protocol import Memories, load_memories, model_for, retrieve_key


class Params(_Params):
    n_memories: int = Field(100, ge=2, le=1_000_000, description="K = N, the number of stored patterns")
    n_queries: int = Field(100, ge=1, le=1_000_000, description="stored patterns probed: the first min(n, K)")
    query_noise: float = Field(0.0, ge=0, le=10, description="query = pattern + r·M·(random unit vector), r this")
    epsilon: float = Field(1e-3, gt=0, le=1, description="one-update retrieval: ‖f(ξ) − x*‖ ≤ ε·M")


def check(cell):
    if cell["model"] != "dam-softmax" or cell.get("similarity") != "dot" or cell.get("method") != "update":
        raise ValueError("onestep measures Ramsauer's update f(ξ) = X softmax(β Xᵀξ): use --model dam-softmax "
                         "--set similarity=dot --set method=update")


def separation(x: np.ndarray) -> np.ndarray:
    """Δ_i = x_iᵀx_i − max_{j≠i} x_iᵀx_j for every row x_i of `x` (K ≥ 2)."""
    g = x @ x.T
    own = np.diag(g).copy()
    np.fill_diagonal(g, -np.inf)
    return own - g.max(axis=1)


def log_bound(delta, radius, *, n: int, beta: float, m: float):
    """ln of Theorem 5's bound 2 (N−1) exp(−β (Δ_i − 2 r_i M)) M, r_i = max{‖ξ − x_i‖, ‖x_i* − x_i‖}."""
    return np.log(2.0 * (n - 1) * m) - beta * (delta - 2.0 * radius * m)


def well_separated(delta, *, n: int, beta: float, m: float):
    """The assumption of Lemmas A5-A7: Δ_i ≥ 2/(βN) + (1/β) ln(2 (N−1) N β M²)."""
    return delta >= 2.0 / (beta * n) + np.log(2.0 * (n - 1) * n * beta * m * m) / beta


def query_directions(seed: int, n: int, d: int) -> np.ndarray:
    """n seeded unit vectors, uniform on the sphere (normalised Gaussians)."""
    u = np.random.default_rng(np.random.SeedSequence([seed, 10])).standard_normal((n, d))
    return u / np.linalg.norm(u, axis=1, keepdims=True)


def _nearest(states, patterns):
    d2 = np.sum(states**2, axis=1)[:, None] - 2.0 * states @ patterns.T + np.sum(patterns**2, axis=1)[None, :]
    return np.argmin(d2, axis=1)


@eqx.filter_jit
def _one_update(memories, queries, *, beta, kind):
    """One softmax update of each query (beta, kind: compile-time constants, as in the model).
    Jitted once here, not per cell: a new jitted lambda per cell compiled (and kept) a program each."""
    return jax.vmap(lambda v: softmax_update(memories, v, beta=beta, kind=kind))(queries)


_retrieve = eqx.filter_jit(retrieve)


def run(cell, progress=lambda message: None):
    k, beta, eps = cell["n_memories"], float(cell["beta"]), cell["epsilon"]
    mem = load_memories(cell, k)
    with jax.enable_x64(True):
        x = np.asarray(mem.patterns, np.float64)
        model = model_for(cell, Memories(x, None, mem.encoding, mem.labels, mem.image_shape, mem.low, mem.high,
                                         mem.binary))
        n = min(cell["n_queries"], k)
        m = float(np.max(np.linalg.norm(x, axis=1)))
        queries = x[:n] + cell["query_noise"] * m * query_directions(cell["seed"], n, x.shape[1])
        q = jnp.asarray(queries)
        progress(f"onestep: K={k}, beta={beta:g}: one update and iteration of {n} queries")
        one = np.asarray(_one_update(model.memories, q, beta=model.beta, kind=model.similarity))
        out = jax.device_get(_retrieve(model, q, key=retrieve_key(cell)))
    fixed, steps, converged = np.asarray(out.state), np.asarray(out.steps), np.asarray(out.converged)
    target = np.arange(n)
    delta = separation(x)[:n]
    error = np.linalg.norm(one - x[:n], axis=1)
    dist_q = np.linalg.norm(queries - x[:n], axis=1)
    radius = np.maximum(dist_q, np.linalg.norm(fixed - x[:n], axis=1))
    logb = log_bound(delta, radius, n=k, beta=beta, m=m)
    with np.errstate(divide="ignore"):
        within = np.log(error) <= logb  # error 0: log -inf, always within
    fp_near = converged & (_nearest(fixed, x) == target)
    one_step = fp_near & (np.linalg.norm(one - fixed, axis=1) <= eps * m)
    sphere_r = 1.0 / (beta * k * m)
    sig = lambda v: [float(f"{float(t):.5g}") for t in v]  # noqa: E731
    return {
        "one_step_rate": float(np.mean(one_step)),
        "one_step_nearest_rate": float(np.mean(_nearest(one, x) == target)),
        "fixed_point_nearest_rate": float(np.mean(fp_near)),
        "fixed_point_in_sphere_rate": float(np.mean(np.linalg.norm(fixed - x[:n], axis=1) <= sphere_r)),
        "within_bound_rate": float(np.mean(within)),
        "bound_violations": int(np.sum(~within)),
        "bound_informative_rate": float(np.mean(logb < np.log(2.0 * m))),
        "separated_rate": float(np.mean(delta > 0)),
        "well_separated_rate": float(np.mean(well_separated(delta, n=k, beta=beta, m=m))),
        "in_sphere_rate": float(np.mean(dist_q <= sphere_r)),
        "error_median": float(np.median(error)),
        "error_max": float(np.max(error)),
        "delta_median": float(np.median(delta)),
        "delta_min": float(np.min(delta)),
        "pattern_norm_max": m,
        "steps_mean": float(np.mean(steps)),
        "steps_max": int(np.max(steps)),
        "cap_hits": int(np.sum(~converged)),
        "n_probed": int(n),
        "delta": sig(delta),
        "error": sig(error),
        "log10_bound": sig(logb / np.log(10.0)),
    }


register_experiment(
    "onestep",
    params=Params,
    doc="modern Hopfield one-update retrieval (Ramsauer et al.): separation, Theorem 5 error bound, "
        "one-step rate, steps to a fixed point",
    run=run,
    main_metric="one_step_rate",
    metrics=(*(rate(n, n.replace("_", " ")) for n in (
                 "one_step_rate", "one_step_nearest_rate", "fixed_point_nearest_rate", "fixed_point_in_sphere_rate",
                 "within_bound_rate", "bound_informative_rate", "separated_rate", "well_separated_rate", "in_sphere_rate")),
             *(count(n, n.replace("_", " ")) for n in ("bound_violations", "steps_max", "cap_hits", "n_probed")),
             *(Metric(n, n.replace("_", " "), "float", (0.0, None)) for n in (
                 "error_median", "error_max", "pattern_norm_max", "steps_mean")),
             Metric("delta_median", "separation Δ, median"), Metric("delta_min", "separation Δ, smallest"),
             *(series(n, n.replace("_", " ") + " per probe") for n in ("delta", "error", "log10_bound"))),
    x_axis="beta",
    check=check,
    shown_metrics=("one_step_nearest_rate", "fixed_point_nearest_rate", "within_bound_rate", "bound_violations",
        "bound_informative_rate", "well_separated_rate", "steps_mean", "cap_hits"),
)
