"""Discrete (±1) memories: the classical Hopfield network and the dense associative memory.

E(s) = −Σ_μ F(ξ_μ·s). The asynchronous Krotov–Hopfield rule sets one component at a time to
the sign that lowers E. Written the textbook way it recomputes Ξ·s twice per component
(O(K·D)); here Ξ·s is kept and updated by one column per component (O(K)), and the energy
difference F(b + ξ_μi) − F(b − ξ_μi) = ξ_μi·D(b) is evaluated in a cancellation-free form
(for F = exp, from weights exp(β·m) kept up to date by multiplication: no exp per component).
F(x) = x² is the Hebbian CHN with zero self-coupling, so the CHN's asynchronous path is this one.
"""

from __future__ import annotations

import math
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from ..energy import InteractionSynapse, async_minimise, fixed_point, overlap_energy
from ..params import Field, Params, choices
from ._registry import register_model
from ._base import AbstractMemory, Retrieval, check_declared, check_patterns

Interaction = Literal["power", "rectified", "exp"]
SEQUENTIAL_EXP_K = 8192  # F = exp from this many stored rows on: queries one by one (`DiscreteDAM.retrieve_batch`)
Order = Literal["random", "fixed"]
INTERACTIONS = choices(Interaction)
ORDERS = choices(Order)


def _odd_difference(b, n: int):
    """(b+1)ⁿ − (b−1)ⁿ = 2·Σ_{k odd} C(n,k)·b^(n−k), with no cancellation of large powers."""
    return 2.0 * sum(math.comb(n, k) * b ** (n - k) for k in range(1, n + 1, 2))


def interaction_energy(m: Float[Array, " K"], *, kind: Interaction, n: int, beta: float, mask=None) -> Float[Array, ""]:
    """−Σ_μ F(m_μ) for overlaps m = Ξ·s: the `energy.InteractionSynapse` energy (one definition)."""
    return overlap_energy(m, kind=kind, n=n, beta=beta, mask=mask)


def _preference(b: Float[Array, " K"], a: Float[Array, " K"], *, kind: Interaction, n: int, beta: float):
    """Sign of E(s_i = −1) − E(s_i = +1) given b = Ξ·s without component i and a = Ξ[:, i]
    (polynomial F; the exponential has its own incremental sweep)."""
    if kind == "power":
        return a @ _odd_difference(b, n)
    if kind == "rectified":
        d = jnp.where(b >= 1, _odd_difference(b, n), jnp.where(b > -1, jax.nn.relu(b + 1) ** n, 0.0))
        return a @ d
    raise ValueError(f"no polynomial preference for kind {kind!r}")


def visit_order(key, sweep, d: int, order: str):
    """The units of sweep `sweep` in the order they are visited: 0..D−1 (`fixed`), or a fresh
    permutation per sweep drawn from the query's key (`random`)."""
    if order == "fixed":
        return jnp.arange(d)
    return jax.random.permutation(jax.random.fold_in(key, sweep), d)


def _new_sign(pref, old):
    return jnp.where(pref > 0, 1.0, jnp.where(pref < 0, -1.0, old)).astype(old.dtype)


class DiscreteDAM(AbstractMemory):
    """Dense associative memory on ±1 states, asynchronous updates to a fixed point.

    `kind`: F(x) = xⁿ (`power`), max(x, 0)ⁿ (`rectified`) or exp(βx) (`exp`). A sweep visits
    every component once (`order`: a fresh random permutation per sweep, or 0..D−1);
    retrieval stops after a sweep with no flip (converged) or `max_sweeps`.
    """

    memories: Float[Array, "K D"]
    kind: Interaction = eqx.field(static=True, default="power")
    n: int = eqx.field(static=True, default=3)
    beta: float = eqx.field(static=True, default=1.0)
    order: str = eqx.field(static=True, default="random")
    max_sweeps: int = eqx.field(static=True, default=20)
    mask: Bool[Array, " K"] | None = None  # padding rows (False) must be zero: they take no part

    def __check_init__(self):
        check_patterns(self.memories, owner=type(self).__name__, binary=True, mask=self.mask)
        check_declared(type(self).__name__, DAMParams, {"kind": self.kind, "n": self.n, "beta": self.beta,
                                                        "order": self.order, "max_sweeps": self.max_sweeps},
                       names={"kind": "interaction"})

    @property
    def patterns(self):
        return self.memories

    @property
    def synapse(self) -> InteractionSynapse:
        """The model's energy as an `energy/` hypersynapse: E(s) = −Σ_μ F(ξ_μ·s)."""
        return InteractionSynapse(self.memories, kind=self.kind, n=self.n, beta=self.beta, mask=self.mask)

    def energy(self, s: Float[Array, " D"]) -> Float[Array, ""]:
        return self.synapse(s)

    def _visit_order(self, key, sweep):
        return visit_order(key, sweep, self.memories.shape[1], self.order)

    def sweep(self, s: Float[Array, " D"], order) -> Float[Array, " D"]:
        """One asynchronous sweep, O(K) per component: keep m = Ξ·s, update one column a time."""
        if self.kind == "exp":
            return self._exp_sweep(s, order)
        xi_t = self.memories.T  # (D, K): column i of Ξ as a contiguous row

        def visit(j, carry):
            s, m = carry
            i = order[j]
            a = xi_t[i]
            b = m - a * s[i]
            si = _new_sign(_preference(b, a, kind=self.kind, n=self.n, beta=self.beta), s[i])
            return s.at[i].set(si), b + a * si

        s, _ = jax.lax.fori_loop(0, s.shape[0], visit, (s, self.memories @ s))
        return s

    def _exp_sweep(self, s, order):
        """F = exp(βx) without an exp per component: keep w ∝ exp(β·m), multiply it by e^{±2β}
        where a flip moves m, and recompute it exactly (normalised by its max) every
        `period` components so that no weight drifts into float32 under- or overflow."""
        xi_t = self.memories.T
        beta = self.beta
        period = int(max(1, min(64, 20 // beta)))  # at most ~80 in the exponent between renormalisations
        up, down, same, other = jnp.exp(2 * beta), jnp.exp(-2 * beta), jnp.exp(-beta), jnp.exp(beta)

        def weights(m):
            if self.mask is None:
                return jnp.exp(beta * (m - jnp.max(m)))
            return jnp.where(self.mask, jnp.exp(beta * (m - jnp.max(jnp.where(self.mask, m, -jnp.inf)))), 0.0)

        def visit(j, carry):
            s, m, w = carry
            w = jax.lax.cond(j % period == 0, weights, lambda _: w, m)
            i = order[j]
            a, old = xi_t[i], s[i]
            # Σ_μ a_μ·exp(β·b_μ) with b = m − a·s_i is ∝ Σ_μ a_μ·w_μ·exp(−β·a_μ·s_i); split by the sign
            # of a_μ·s_i with u = Σw and v = a·w (two reductions, no elementwise select):
            u, v = jnp.sum(w), a @ w
            pref = old * (same * (u + old * v) - other * (u - old * v))
            si = _new_sign(pref, old)
            m = m + a * (si - old)
            w = jnp.where(si != old, w * jnp.where(a * si > 0, up, down), w)
            return s.at[i].set(si), m, w

        m0 = self.memories @ s
        s, _, _ = jax.lax.fori_loop(0, s.shape[0], visit, (s, m0, weights(m0)))
        return s

    def retrieve_one(self, query, *, key):
        return _to_fixed_point(lambda t, s: self.sweep(s, self._visit_order(key, t)), self.energy, query,
                               self.max_sweeps)

    def retrieve_batch(self, queries: Float[Array, "B D"], *, key) -> Retrieval:
        """`retrieve_one` row by row (the same decisions wherever float32 resolves them). One sweep of F = exp with K ≥ `SEQUENTIAL_EXP_K`
        (F9's capacity searches) runs the queries one after another (`_exp_sweep_events`): a
        vmapped sweep reads and rewrites all B×K overlaps and weights at every component
        (memory-bound: 4.2 s for 100 queries at K = 2¹⁹, N = 40), while one query at a time
        reads one column per visit that flips nothing and keeps its K weights in cache (on a
        CPU; other backends keep the vmapped batch)."""
        keys = jax.random.split(key, queries.shape[0])
        if (self.kind != "exp" or self.max_sweeps != 1 or self.memories.shape[0] < SEQUENTIAL_EXP_K
                or jax.default_backend() != "cpu"):  # an accelerator wants the batch, not a loop over it
            return jax.vmap(lambda q, k: self.retrieve_one(q, key=k))(queries, keys)
        s0 = jnp.sign(queries) + (queries == 0)
        m0 = s0 @ self.memories.T  # (B, K) overlaps in one matmul (integers: exactly Ξ·s row by row)
        xi_t = self.memories.T
        s1 = jax.lax.map(lambda a: self._exp_sweep_events(xi_t, a[0], a[1], self._visit_order(a[2], 0)),
                         (s0, m0, keys))
        # as `fixed_point` with one step: the energies batched, as the vmapped path computes them
        e0, e1 = jax.vmap(self.energy)(s0), jax.vmap(self.energy)(s1)
        done = jnp.all(s1 == s0, axis=1)
        steps = 1 - done.astype(jnp.int32)
        return Retrieval(s1, steps, done, jnp.stack([e0, jnp.where(done, jnp.nan, e1)], axis=1))

    def _exp_sweep_events(self, xi_t, s, m, order):
        """`_exp_sweep` for one (unbatched) query, doing only what a visit changes: a visit that
        flips nothing reads one column (v = a·w) and no more; the sum u = Σw and the overlaps
        are updated only on a flip, and the weights are recomputed every `period` components
        only if a flip changed them since (else the recomputation gives the same weights)."""
        beta = self.beta
        period = int(max(1, min(64, 20 // beta)))
        up, down, same, other = jnp.exp(2 * beta), jnp.exp(-2 * beta), jnp.exp(-beta), jnp.exp(beta)

        def weights(m):
            if self.mask is None:
                return jnp.exp(beta * (m - jnp.max(m)))
            return jnp.where(self.mask, jnp.exp(beta * (m - jnp.max(jnp.where(self.mask, m, -jnp.inf)))), 0.0)

        def renormalised(m):
            w = weights(m)
            return w, jnp.sum(w), jnp.array(False)

        def visit(j, carry):
            s, m, w, u, stale = carry
            w, u, stale = jax.lax.cond((j % period == 0) & stale, renormalised, lambda _: (w, u, stale), m)
            i = order[j]
            a, old = xi_t[i], s[i]
            v = a @ w
            pref = old * (same * (u + old * v) - other * (u - old * v))
            si = _new_sign(pref, old)

            def flip(_):
                w2 = w * jnp.where(a * si > 0, up, down)
                return s.at[i].set(si), m + a * (si - old), w2, jnp.sum(w2), jnp.array(True)

            return jax.lax.cond(si != old, flip, lambda _: (s, m, w, u, stale), None)

        w0 = weights(m)
        s, _, _, _, _ = jax.lax.fori_loop(0, s.shape[0], visit, (s, m, w0, jnp.sum(w0), jnp.array(False)))
        return s


def _to_fixed_point(update, energy, query, max_sweeps: int) -> Retrieval:
    """Sweeps from the ±1 start sign(query) (zeros go to +1) until one changes nothing."""
    s0 = jnp.sign(query) + (query == 0)
    return Retrieval(*fixed_point(update, energy, s0, max_steps=max_sweeps))


def textbook_sweep(model, s: Float[Array, " D"], order) -> Float[Array, " D"]:
    """The reference rule: each unit takes the sign of lower `model.energy`, both energies
    recomputed from scratch (O(K·D) per unit). Slow on purpose; tests and benches only."""
    return async_minimise(model.energy, s, order)


EXACT_INTEGERS = 2**24  # float32 represents every integer below this exactly


class HebbianCHN(AbstractMemory):
    """Classical Hopfield network: W = ΞᵀΞ/D with zero diagonal, s ← sign(W s).

    `update="async"` (default) flips one unit at a time and never raises E = −½ sᵀWs;
    `update="sync"` updates all units at once and may end in a 2-cycle (reported as not
    converged). Ties (h_i = 0) keep the current sign.

    The asynchronous sweep is event-driven: a visit that flips nothing changes nothing, so
    instead of visiting all D units it jumps to the next unit in the sweep's order whose
    field disagrees with it, flips it and updates the fields by one column of J = ΞᵀΞ
    (O(D) per flip, not O(K) per visit), when K ≥ D/4. J and the fields are integers, exact
    in float32 while K·D < 2²⁴, so the flips are exactly those of the general path
    (`DiscreteDAM` with F(x) = x², used for smaller K and beyond that size).
    """

    memories: Float[Array, "K D"]
    update: str = eqx.field(static=True, default="async")
    order: str = eqx.field(static=True, default="random")
    max_sweeps: int = eqx.field(static=True, default=20)
    mask: Bool[Array, " K"] | None = None  # padding rows (False) must be zero: they take no part

    def __check_init__(self):
        check_patterns(self.memories, owner="HebbianCHN", binary=True, mask=self.mask)
        check_declared("HebbianCHN", CHNParams, {"update": self.update, "order": self.order,
                                                 "max_sweeps": self.max_sweeps})

    @property
    def patterns(self):
        return self.memories

    @property
    def n_patterns(self):
        return self.memories.shape[0] if self.mask is None else jnp.sum(self.mask)

    @property
    def weights(self) -> Float[Array, "D D"]:
        w = self.memories.T @ self.memories / self.memories.shape[1]
        return w - jnp.diag(jnp.diag(w))

    def field(self, s: Float[Array, " D"]) -> Float[Array, " D"]:
        """W s without forming W: (Ξᵀ(Ξ s) − K s)/D."""
        d = self.memories.shape[1]
        return (self.memories.T @ (self.memories @ s) - self.n_patterns * s) / d

    def energy(self, s):
        return -0.5 * s @ self.field(s)

    def event_sweep(self, s: Float[Array, " D"], order, coupling: Float[Array, "D D"]) -> Float[Array, " D"]:
        """One asynchronous sweep in `order`, visiting only the units that flip.
        `coupling` is J = ΞᵀΞ with zero diagonal (integer-valued)."""
        d = s.shape[0]
        pos = jnp.zeros(d, jnp.int32).at[order].set(jnp.arange(d, dtype=jnp.int32))  # place of unit i in order

        def next_unstable(s, h, start):  # earliest unit, from `start` on in the order, that would flip
            first = jnp.min(jnp.where((h * s < 0) & (pos >= start), pos, d))  # a min, not an (slower) argmin
            return order[jnp.minimum(first, d - 1)], first < d

        def flip(carry):
            s, h, i, _ = carry
            si = -s[i]
            s, h = s.at[i].set(si), h + 2.0 * si * coupling[i]
            return (s, h, *next_unstable(s, h, pos[i] + 1))

        h = coupling @ s
        s, _, _, _ = jax.lax.while_loop(lambda c: c[3], flip, (s, h, *next_unstable(s, h, 0)))
        return s

    def _event_driven(self) -> bool:
        """A flip costs ~2·D here against ~5·K per visit on the general path; with up to a third
        of the units flipping in a sweep, skipping visits pays from K ≈ D/4 (measured on 2 CPU
        cores with mnist-5k noise cells, D = 784: 4× faster at K = 1500, 1.4× slower at K = 100)."""
        k, d = self.memories.shape
        return 4 * k >= d and k * d < EXACT_INTEGERS

    def retrieve_one(self, query, *, key):
        if self.update == "async" and self._event_driven():
            coupling = self.memories.T @ self.memories  # unbatched under vmap: built once per batch
            coupling = coupling * (1.0 - jnp.eye(coupling.shape[0], dtype=coupling.dtype))
            d = self.memories.shape[1]
            return _to_fixed_point(lambda t, s: self.event_sweep(s, visit_order(key, t, d, self.order), coupling),
                                   self.energy, query, self.max_sweeps)
        if self.update == "async":
            dam = DiscreteDAM(self.memories, kind="power", n=2, order=self.order, max_sweeps=self.max_sweeps,
                              mask=self.mask)
            out = dam.retrieve_one(query, key=key)
            energies = jnp.where(jnp.isnan(out.energies), jnp.nan, self._from_dam_energy(out.energies))
            return Retrieval(out.state, out.steps, out.converged, energies)
        return _to_fixed_point(lambda t, s: _new_sign(self.field(s), s), self.energy, query, self.max_sweeps)

    def _from_dam_energy(self, e):
        # −Σ(ξ·s)² = −(D·sᵀWs + K·D)  ⇒  −½ sᵀWs = (e + K·D)/(2D)
        d = self.memories.shape[1]
        return (e + self.n_patterns * d) / (2 * d)


# --- registry entries ----------------------------------------------------------------------------
FLOAT32_MAX_LOG2 = 127  # |E| must stay below 2^127 for float32 energies to be finite


class CHNParams(Params):
    update: Literal["async", "sync"] = Field("async", description="one unit at a time (never raises E) or all at once")
    order: Order = Field("random", only_with={"update": "async"},
                                                description="asynchronous visiting order per sweep")
    max_sweeps: int = Field(20, ge=1, le=100_000, description="cap on sweeps; a query that hits it is not converged")


class DAMParams(Params):
    interaction: Interaction = Field("power", description="F(x) = x^n, max(x,0)^n or exp(beta x)")
    n: int = Field(3, ge=2, le=30, only_with={"interaction": ("power", "rectified")},
                   description="interaction order of the polynomial F")
    beta: float = Field(1.0, gt=0, le=100, only_with={"interaction": "exp"},
                       description="inverse temperature of F = exp(beta x)")
    order: Order = Field("random", description="asynchronous visiting order per sweep")
    max_sweeps: int = Field(20, ge=1, le=100_000, description="cap on sweeps; a query that hits it is not converged")


def _build_chn(p: CHNParams, patterns, *, labels, image_shape, key, mask):
    return HebbianCHN(patterns, update=p.update, order=p.order, max_sweeps=p.max_sweeps, mask=mask)


def _build_dam(p: DAMParams, patterns, *, labels, image_shape, key, mask):
    return DiscreteDAM(patterns, kind=p.interaction, n=p.n, beta=p.beta, order=p.order, max_sweeps=p.max_sweeps,
                       mask=mask)


def _check_dam(cell) -> None:
    """Polynomial energies reach K·N^n: refuse orders whose float32 energy would overflow."""
    if cell["interaction"] == "exp":
        return
    dim = cell.data.component.dim(cell.data.params)
    if dim and cell["n"] * math.log2(dim) + math.log2(max(1, cell.get("n_memories", 1))) >= FLOAT32_MAX_LOG2:
        top = int((FLOAT32_MAX_LOG2 - math.log2(max(1, cell.get("n_memories", 1)))) // math.log2(dim))
        raise ValueError(f"model dam: n={cell['n']} at N={dim} overflows float32 energies (K·N^n > 2^127); "
                         f"use n <= {top} or interaction=exp")


register_model("chn", params=CHNParams, doc="Hebbian Hopfield network, sign dynamics", family="CHN", binary=True,
               build=_build_chn, maskable=True)
register_model("dam", params=DAMParams, doc="discrete dense associative memory, asynchronous Krotov-Hopfield updates",
               family="DAM", binary=True, build=_build_dam, maskable=True, check=_check_dam)
