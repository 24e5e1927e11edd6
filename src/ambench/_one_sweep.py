"""Whether one asynchronous sweep of an exponential DAM ends exactly on each probe's target,
decided without running the sweep: the question a capacity search asks at every K it tries.

A sweep visits every unit once. If each visit sets its unit to the target's value, the sweep
follows the *canonical path* (the probe with its wrong units corrected in visit order) and
ends on the target. Otherwise its first other decision is taken from a state on that path, and
that unit stays wrong (it is not visited again): the probe fails. So "recalled" is "every
decision along the canonical path is right", and those decisions need no sequential loop. The
path holds only (wrong units + 1) distinct states, and the decisions of all units from one
state s come from u = Σ_μ w_μ and Ξᵀw, w_μ = exp(β·ξ_μ·s): two matrix products over every probe
and state, in blocks of stored rows (a running maximum keeps the exponents in range).

The preference is `DiscreteDAM._exp_sweep`'s, summed in another order. Where it is within
`tolerance` of the sum of its terms' magnitudes (and of e^β·Σw, the scale of the cancelling
difference both compute), float32 may decide it either way, so such a decision is *unresolved*,
and so is a probe whose outcome hangs on one.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from ambench import protocol
from ambench.models import visit_order

BLOCK = 1024  # stored rows per step of the blocked products: a (states × BLOCK) weight block stays in cache
# (K = 4×10⁵, N = 40, 100 probes with 4 flips: 0.40 s at 1,024, 0.45 s at 4,096, 0.62 s at 16,384)
TOLERANCE = 1e-4  # relative margin under which a decision is unresolved (float32 sums of ~10⁶ terms err far less)


def canonical_path(probes: Float[Array, "B D"], targets: Float[Array, "B D"], orders: Int[Array, "B D"], *,
                   n_states: int) -> tuple[Float[Array, "B R D"], Int[Array, "B D"]]:
    """The states of each probe's canonical path (R = n_states ≥ wrong units + 1; states past the
    last correction repeat the target) and, per unit, the index of the state it is decided from."""
    wrong = probes != targets
    position = jnp.argsort(orders, axis=1)  # position[b, i]: when unit i is visited
    before = position[:, None, :] < position[:, :, None]  # [b, i, j]: unit j is visited before unit i
    segment = jnp.sum(before & wrong[:, None, :], axis=2)  # wrong units corrected before unit i is visited
    fixed = wrong[:, None, :] & (segment[:, None, :] < jnp.arange(n_states)[None, :, None])
    states = jnp.where(fixed, targets[:, None, :], probes[:, None, :])
    return states, segment


@functools.partial(jax.jit, static_argnames=("n_states", "block"))
def _decide(patterns, mask, probes, targets, orders, n_blocks, beta, tolerance, *, n_states, block):
    b, d = probes.shape
    states, segment = canonical_path(probes, targets, orders, n_states=n_states)
    flat = states.reshape(b * n_states, d)

    def accumulate(j, carry):
        top, u, v = carry
        xi = jax.lax.dynamic_slice_in_dim(patterns, j * block, block)
        valid = jax.lax.dynamic_slice_in_dim(mask, j * block, block)
        m = jnp.where(valid, flat @ xi.T, -jnp.inf)  # (P, block) overlaps
        new_top = jnp.maximum(top, jnp.max(m, axis=1))
        rescale = jnp.exp(beta * (top - new_top))
        w = jnp.exp(beta * (m - new_top[:, None]))
        return new_top, u * rescale + jnp.sum(w, axis=1), v * rescale[:, None] + w @ xi

    p = b * n_states
    init = (jnp.full(p, -1e30, probes.dtype), jnp.zeros(p, probes.dtype), jnp.zeros((p, d), probes.dtype))
    _, u, v = jax.lax.fori_loop(0, n_blocks, accumulate, init)
    u = jnp.take_along_axis(u.reshape(b, n_states), segment, axis=1)  # (B, D): u of the state unit i is decided from
    v = jnp.take_along_axis(v.reshape(b, n_states, d), segment[:, None, :], axis=1)[:, 0]  # v[b, segment[b, i], i]
    s = probes  # a unit is decided before it is corrected: its own value is the probe's
    keep, change = jnp.exp(-beta) * (u + s * v), jnp.exp(beta) * (u - s * v)  # Σ over a_μ·s_i = +1 and −1
    pref = s * (keep - change)
    decided = jnp.where(pref > 0, 1.0, jnp.where(pref < 0, -1.0, s))
    right = decided == targets
    # u − s·v (the weight pulling the other way) is a difference of two sums, each off by float32
    # rounding of u; e^β amplifies that error (β = 8: ~2e-4 of e^β·u), so the margin is judged
    # against e^β·u too, not only against keep + change, which carry the same error
    unresolved = jnp.abs(keep - change) < tolerance * (keep + change + jnp.exp(beta) * u)
    recalled = jnp.all(right & ~unresolved, axis=1)
    failed = jnp.any(~right & ~unresolved, axis=1)
    return recalled, failed


def one_sweep_recall(patterns: Float[ArrayLike, "K D"], probes: Float[ArrayLike, "B D"], target_idx: Int[ArrayLike, " B"],
                     orders: Int[ArrayLike, "B D"], *, beta: float, tolerance: float = TOLERANCE,
                     block: int = BLOCK) -> tuple[Bool[np.ndarray, " B"], Bool[np.ndarray, " B"]]:
    """(recalled, failed) per probe, each certain; a probe that is neither is unresolved.
    `probes` ±1 (as `DiscreteDAM` reads a query: sign, zero as +1), `orders` the visit order of
    each probe's one sweep."""
    patterns = np.asarray(patterns, np.float32)
    k, d = patterns.shape
    probes = np.where(np.asarray(probes) < 0, -1.0, 1.0).astype(np.float32)
    targets = patterns[np.asarray(target_idx)]
    n_states = int(np.max(np.sum(probes != targets, axis=1))) + 1
    n_blocks = -(-k // block)
    padded = np.zeros((_bucket(n_blocks) * block, d), np.float32)
    padded[:k] = patterns
    mask = np.arange(len(padded)) < k
    recalled, failed = _decide(padded, mask, probes, targets, jnp.asarray(orders), n_blocks, np.float32(beta),
                               np.float32(tolerance), n_states=n_states, block=block)
    return np.asarray(recalled), np.asarray(failed)


def _bucket(n: int) -> int:
    """Blocks rounded up to a power of two: one compiled program per bucket, any K within it."""
    return 1 << (int(n) - 1).bit_length()


ENABLED = True  # tests set it False to compare with the general path


def applies(cell) -> bool:
    """A capacity search whose every K asks only "is the exact recall rate ≥ the threshold after
    one asynchronous sweep of an exponential DAM?"."""
    return (ENABLED and cell["model"] == "dam" and cell["interaction"] == "exp" and cell["max_sweeps"] == 1
            and cell["criterion"] == "exact" and cell["encoding"] == "binary")


def search_verdict(cell, k: int) -> bool | None:
    """Whether the cell's success rate at K stored patterns reaches `success_threshold`, from the
    same memories, queries and visit orders as `protocol.measure_retrieval(cell, k)`; None when
    unresolved probes could tip it (then measure)."""
    mem = protocol.load_memories(cell, k)
    n_queries = protocol.declared(cell, "n_queries")
    n = min(n_queries, k)
    queries, target_idx = protocol.make_queries(mem, cell, n_queries, pad=True)  # rows: a power of two (one program)
    orders = _first_orders(protocol.retrieve_key(cell), rows=queries.shape[0], d=mem.patterns.shape[1],
                           order=cell["order"])
    recalled, failed = one_sweep_recall(mem.patterns, queries, target_idx, orders, beta=cell["beta"], tolerance=TOLERANCE)
    recalled, failed = recalled[:n], failed[:n]  # the repeated rows are not scored
    threshold = cell["success_threshold"]
    if recalled.sum() / n >= threshold:
        return True
    if (n - failed.sum()) / n < threshold:
        return False
    return None


@functools.partial(jax.jit, static_argnames=("rows", "d", "order"))
def _first_orders(key, *, rows: int, d: int, order: str) -> Int[Array, "rows d"]:
    """The first sweep's visit order of each of `rows` queries, as `retrieve` splits its key over
    the rows and `DiscreteDAM` draws each order."""
    return jax.vmap(lambda k: visit_order(k, 0, d, order))(jax.random.split(key, rows))
