"""What counts as a correct retrieval, and the other per-query measurements.

All functions take a batch: `states` (B, D), `targets` (B, D), `patterns` (K, D), and return
one value per query; experiments average them.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int

UHN_THRESHOLD = 50.0  # Millidge et al. 2022, squared error for 784 pixels
UHN_DIM = 784


def wrong_fraction(states: Float[Array, "B D"], targets: Float[Array, "B D"]) -> Float[Array, " B"]:
    """Fraction of components whose sign differs from the target (±1 data)."""
    return jnp.mean(jnp.sign(states) != jnp.sign(targets), axis=-1)


def overlap(states, targets) -> Float[Array, " B"]:
    """m = (1/D)·s·ξ in [−1, 1] for ±1 data; |m| = 1 is the pattern or its negative."""
    return jnp.mean(jnp.sign(states) * targets, axis=-1)


def exact_recall(states, targets) -> Bool[Array, " B"]:
    return wrong_fraction(states, targets) == 0


NEAREST_SIMILARITIES = ("l2", "dot", "normalised-dot", "manhattan")


def nearest_index(states, patterns, *, similarity: str | Int[Array, ""] = "l2", mask=None) -> Int[Array, " B"]:
    """Index of the stored pattern most similar to each state (the strict criterion); rows where
    `mask` is False are padding and never chosen. `similarity` is a name of NEAREST_SIMILARITIES
    (compiled in) or its index as an int32 array (chosen at run time: the same numbers, one
    program for all)."""
    if not isinstance(similarity, str):
        branches = [lambda s, p, m, name=name: nearest_index(s, p, similarity=name, mask=m)
                    for name in NEAREST_SIMILARITIES]
        return jax.lax.switch(similarity, branches, states, patterns, mask)
    if similarity == "dot":
        sims = states @ patterns.T
    elif similarity == "normalised-dot":  # Universal Hopfield Networks' dot: each vector over its sum
        normed = states / (jnp.sum(states, -1, keepdims=True) + 1e-8)
        sims = normed @ (patterns / (jnp.sum(patterns, -1, keepdims=True) + 1e-8)).T
    elif similarity == "manhattan":  # state by state: no (B, K, D) temporary (same numbers, far faster on a CPU)
        sims = jax.lax.map(lambda x: -jnp.sum(jnp.abs(x - patterns), -1), states)
    elif similarity == "l2":  # −‖x − ξ‖² up to a per-state constant
        sims = 2 * states @ patterns.T - jnp.sum(patterns**2, -1)
    else:
        raise ValueError(f"nearest_index: similarity must be one of {NEAREST_SIMILARITIES}, got {similarity!r}")
    if mask is not None:
        sims = jnp.where(mask, sims, -jnp.inf)
    return jnp.argmax(sims, axis=-1)


def threshold_correct(states, targets, *, threshold: float | Float[Array, ""] = UHN_THRESHOLD) -> Bool[Array, " B"]:
    """Universal Hopfield Networks criterion: Σ(x − out)² ≤ threshold·D/784 (lenient on MNIST)."""
    d = states.shape[-1]
    return jnp.sum((states - targets) ** 2, axis=-1) <= threshold * d / UHN_DIM


def cosine(states: Float[Array, "B D"], targets: Float[Array, "B D"]) -> Float[Array, " B"]:
    """Cosine similarity ⟨x, ξ⟩ / (‖x‖·‖ξ‖); 0 where either vector is zero (no direction)."""
    norms = jnp.linalg.norm(states, axis=-1) * jnp.linalg.norm(targets, axis=-1)
    return jnp.where(norms > 0, jnp.sum(states * targets, axis=-1) / jnp.where(norms > 0, norms, 1.0), 0.0)


def energy_monotone(energies: Float[Array, "B T"], steps: Int[Array, " B"], *, rtol: float = 1e-4) -> Bool[Array, " B"]:
    """No step raised the energy, and every energy up to `steps` is finite.

    Entries after `steps` are padding. A NaN or inf energy inside the trace is an arithmetic
    failure, never counted as monotone. The tolerance is relative to the largest |E| along the
    trace: near a fixed point E is a small difference of large float32 terms (e.g. ½‖x‖² and an
    lse of ~D), whose round-off would otherwise read as an increase.
    """
    t = jnp.arange(energies.shape[-1])
    inside = t[None, :] <= steps[:, None]
    finite = jnp.all(jnp.isfinite(energies) | ~inside, axis=-1)
    e = jnp.where(inside, energies, jnp.nan)
    e0, e1 = e[:, :-1], e[:, 1:]
    scale = 1 + jnp.nanmax(jnp.where(jnp.isfinite(e), jnp.abs(e), jnp.nan), axis=-1, keepdims=True)
    ok = jnp.isnan(e1) | jnp.isnan(e0) | (e1 - e0 <= rtol * scale)
    return jnp.all(ok, axis=-1) & finite


def diverged(states, energies=None, steps=None) -> Bool[Array, " B"]:
    """NaN or inf in the final state (or in the energy trace up to `steps`): recorded as a
    failed retrieval, never a crash."""
    bad = ~jnp.all(jnp.isfinite(states), axis=-1)
    if energies is not None:  # a model with no energy (all NaN, e.g. single-shot UHN) is not diverged
        inside = jnp.arange(energies.shape[-1])[None, :] <= steps[:, None]
        bad = bad | (has_energy(energies) & jnp.any(~jnp.isfinite(energies) & inside, axis=-1))
    return bad


def has_energy(energies: Float[Array, "B T"]) -> Bool[Array, " B"]:
    """The model reported an energy at all (some entry is not NaN)."""
    return jnp.any(~jnp.isnan(energies), axis=-1)


CRITERIA = {
    "bits": "bits_rate",  # at most max_wrong of the signs differ from the target (±1 data)
    "exact": "exact_rate",  # the state equals the target (±1 data)
    "nearest": "nearest_rate",  # the target is the stored pattern nearest (Euclidean) to the state
    "threshold": "threshold_rate",  # Σ(x − target)² ≤ threshold·D/784 (Universal Hopfield Networks)
    "cosine": "cosine_rate",  # cos(x, target) > min_cosine (Santos et al.'s Hopfield–Fenchel–Young code: 0.9)
}


class Scorer(eqx.Module):
    """Everything a cell's scoring receives. Static fields are part of the compiled program
    (cells are grouped by them); array fields may differ between the cells of one group.

    The nearest-pattern yardstick of `nearest_rate` is fixed, Euclidean distance in the space of
    the stored patterns, whatever similarity the model itself uses: every model is judged alike.
    `own_nearest_rate` asks the same in the model's own similarity (`own_similarity`, e.g. the
    sum-normalised dot or Manhattan distance of a Universal Hopfield Network), the strict
    criterion the Universal Hopfield Networks protocol reports: a name of NEAREST_SIMILARITIES,
    or its index as an int32 array (a run-time choice: cells of every similarity share one
    program)."""

    patterns: Float[Array, "K D"]
    mask: Bool[Array, " K"]
    max_wrong: Float[ArrayLike, ""]
    threshold: Float[ArrayLike, ""]
    binary: bool = eqx.field(static=True)
    min_cosine: Float[ArrayLike, ""] | float = 0.9  # criterion=cosine only; protocol.prepare passes a float32
    own_similarity: str | Int[ArrayLike, ""] = "l2"

    def __call__(self, state: Float[Array, "B D"], steps: Int[Array, " B"], converged: Bool[Array, " B"],
                 energies: Float[Array, "B T"], target_idx: Int[Array, " B"], valid: Bool[Array, " B"]) -> dict:
        """Per-query outcomes (means over `valid` rows are taken on the host)."""
        bad = diverged(state, energies, steps)
        state = jnp.where(bad[:, None], 0.0, state)
        l2_index = nearest_index(state, self.patterns, similarity="l2", mask=self.mask)
        nearest = (l2_index == target_idx) & ~bad
        own = nearest if isinstance(self.own_similarity, str) and self.own_similarity == "l2" else (
            self._own_nearest(state, l2_index) == target_idx) & ~bad  # l2: the same check, computed once
        targets = self.patterns[target_idx]
        res = {"nearest_rate": nearest, "own_nearest_rate": own, "diverged_rate": bad, "steps": steps, "converged_rate": converged & ~bad,
               "energy_monotone_rate": energy_monotone(energies, steps) & ~bad, "has_energy": has_energy(energies)}
        cos = cosine(state, targets)
        res |= {"cosine": jnp.where(bad, 0.0, cos), "cosine_rate": (cos > self.min_cosine) & ~bad}
        if self.binary:
            wrong = wrong_fraction(state, targets)
            ov = overlap(state, targets)
            res |= {"wrong_bits": wrong, "exact_rate": (wrong == 0) & ~bad, "overlap": ov, "abs_overlap": jnp.abs(ov),
                    "bits_rate": (wrong <= self.max_wrong) & ~bad}
        else:
            res["threshold_rate"] = threshold_correct(state, targets, threshold=self.threshold) & ~bad
            res["mse"] = jnp.mean((state - targets) ** 2, axis=1)  # per pixel: the completion error
        return res | {"valid": valid, "energies": energies}

    def _own_nearest(self, state, nearest_l2):
        """`nearest_index` in the model's own similarity; for l2 the index already found."""
        own = self.own_similarity
        if isinstance(own, str):
            return nearest_index(state, self.patterns, similarity=own, mask=self.mask)
        branches = [(lambda s, n: n) if name == "l2" else
                    (lambda s, n, name=name: nearest_index(s, self.patterns, similarity=name, mask=self.mask))
                    for name in NEAREST_SIMILARITIES]
        return jax.lax.switch(own, branches, state, nearest_l2)


def summarise(arrays: dict, *, criterion: str) -> dict:
    """Means over the valid queries, on the host in float64 (exact whatever the padding), with
    `success_rate` taken from the cell's criterion and the mean energy trace."""
    if CRITERIA[criterion] not in arrays:
        raise ValueError(f"criterion={criterion} needs {'±1' if criterion in ('bits', 'exact') else 'real-valued'} "
                         "patterns; use criterion=auto")
    valid = np.asarray(arrays["valid"], bool)
    mean = {k: float(np.mean(np.asarray(v, np.float64)[valid])) for k, v in arrays.items()
            if k not in ("valid", "energies", "has_energy")}
    out = {k: v for k, v in mean.items() if k != "bits_rate"}
    if not np.any(np.asarray(arrays["has_energy"])[valid]):  # no energy: monotonicity does not apply
        out["energy_monotone_rate"] = None
    out["success_rate"] = mean[CRITERIA[criterion]]
    out["steps_max"] = int(np.max(np.asarray(arrays["steps"])[valid]))
    out["queries_scored"] = int(valid.sum())
    kept = valid & ~np.asarray(arrays["diverged_rate"], bool)  # a diverged query's trace is not an energy descent
    out["_energy_trace"] = mean_energy_trace(np.asarray(arrays["energies"], np.float64)[kept])
    return out


def mean_energy_trace(energies: np.ndarray) -> list[float]:
    """The mean over queries of their energy traces (B, T), each held at its last recorded
    energy once it has stopped (NaN after `steps`): every query counts at every step, so the
    mean of non-increasing traces is non-increasing. Queries with no energy take no part."""
    energies = np.where(np.isfinite(energies), energies, np.nan)
    seen = ~np.isnan(energies)
    energies, seen = energies[seen.any(axis=1)], seen[seen.any(axis=1)]
    if not len(energies):
        return []
    last = np.maximum.accumulate(np.where(seen, np.arange(energies.shape[1]), 0), axis=1)
    held = np.take_along_axis(energies, last, axis=1)
    length = int(last[:, -1].max()) + 1
    return [float(e) for e in np.nanmean(held, axis=0)[:length]]
