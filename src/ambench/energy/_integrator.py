"""The integrator: Euler steps of τ_l dx_l/dt = −∂E/∂x̂_l until the state stops moving.

With convex Lagrangians dE/dt = −Σ_l (1/τ_l)·gᵀ H_l g ≤ 0 (g = ∂E/∂x̂_l, H_l = ∇²L_l), so the
energy is a Lyapunov function; the discretised steps keep that property for a small enough dt,
which the tests check for every model at its default step.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from ._hypergraph import HAM, States


class Trajectory(eqx.Module):
    """What a descent returns. `energies[t]` is the energy after t steps (NaN after `steps`)."""

    states: States
    steps: Int[Array, ""]
    converged: Bool[Array, ""]
    energies: Float[Array, " max_steps_plus_1"]


def _per_layer(value, ham: HAM, name: str, default):
    if value is None:
        return default
    if isinstance(value, dict):
        return value.get(name, default)
    return value


def descend(
    ham: HAM,
    xs: States,
    *,
    dt: float = 0.1,
    tau: float | dict[str, float] | None = None,
    clamp: dict[str, Bool[Array, "..."] | bool] | None = None,
    max_steps: int = 100,
    tol: float = 1e-4,
    differentiable: bool = False,
    trace: bool = True,
    _fixed_steps: bool = True,
) -> Trajectory:
    """Run x ← x − (dt/τ_l)·∂E/∂x̂_l from `xs` (one example).

    `clamp[l]` (True, or a boolean mask of the layer's shape) holds units fixed: conditioning.
    Stops when no free unit moves by more than `tol` in a step (that last small step is applied
    but not counted in `steps`), or after `max_steps` steps. `differentiable=True` runs a
    `lax.scan` of `max_steps` steps that freezes the state once converged, so reverse-mode
    gradients flow through the dynamics (for training); the result is the same.
    Batch with `jax.vmap`; wrap in `jax.jit`/`eqx.filter_jit` (one compilation, a
    `lax.while_loop` inside, so the step count never retraces). `trace=False` forms no energy
    (only its gradient, the force): `energies` is then all NaN but the last entry, the energy
    of the final state; states (to rounding: XLA fuses the two programs differently), steps and
    convergence are the same.
    With `tol <= 0` (no early stop but an exactly motionless state) it runs `max_steps` plain
    steps (`lax.fori_loop`) and counts the steps to convergence on the side: the same states,
    steps and energies bit for bit, without the per-example selects of every state a vmapped
    `while_loop` adds each step (0.75 → 1.0 of a hand-written loop at K = 5,000, B = 256).
    `_fixed_steps=False` forces the stopping loop (for the tests that compare the two).
    """
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"descend: max_steps must be a positive integer, got {max_steps!r}")
    unknown = set(xs) ^ set(ham.layers)
    if unknown:
        raise ValueError(f"descend: states must name exactly the layers {sorted(ham.layers)}; mismatched {sorted(unknown)}")
    rates = {name: dt / _per_layer(tau, ham, name, 1.0) for name in ham.layers}
    free = {
        name: jnp.logical_not(jnp.asarray(_per_layer(clamp, ham, name, False), bool))
        for name in ham.layers
    }

    held = [n for n in ham.layers if _per_layer(clamp, ham, n, False) is True]  # whole layers held fixed

    def force(xs):
        if not trace:  # the gradient alone: the energy's own terms (e.g. a log-sum-exp) are never formed
            xhats = ham.activations(xs)
            fixed = {n: xhats[n] for n in held}
            grads = jax.grad(lambda moving: ham.energy(moving | fixed, xs))(
                {n: v for n, v in xhats.items() if n not in fixed})
            return jnp.nan, grads | {n: jnp.zeros_like(xs[n]) for n in held}
        if not held:
            return ham.energy_grad(ham.activations(xs), xs)
        # a fully clamped layer is a constant: no gradient with respect to it is formed (for an
        # image clamped under a memory layer that saves one (K x D) product per step)
        xhats = ham.activations(xs)
        fixed = {n: xhats[n] for n in held}
        energy, grads = jax.value_and_grad(lambda moving: ham.energy(moving | fixed, xs))(
            {n: v for n, v in xhats.items() if n not in fixed})
        return energy, grads | {n: jnp.zeros_like(xs[n]) for n in held}

    def step(carry):
        t, xs, energies, _ = carry
        energy, grads = force(xs)
        moves = {n: jnp.where(free[n], -rates[n] * grads[n], 0.0) for n in xs}
        new = {n: xs[n] + moves[n] for n in xs}
        biggest = jnp.max(jnp.stack([jnp.max(jnp.abs(m)) for m in moves.values()]))
        if trace:
            energies = energies.at[t].set(energy)
        return t + 1, new, energies, biggest <= tol

    def keep_going(carry):
        t, _, _, converged = carry
        return jnp.logical_and(t < max_steps, jnp.logical_not(converged))

    dtype = jnp.result_type(*xs.values())
    init = (jnp.array(0), dict(xs), jnp.full((max_steps + 1,), jnp.nan, dtype), jnp.array(False))
    if tol <= 0 and not differentiable and _fixed_steps:
        # no unit can stop early but by moving exactly 0, and a step that moves nothing leaves the
        # state as it was, so max_steps plain steps give the same states as the stopping loop; under
        # vmap that loop selects every carried state per example every step, this one selects none
        def plain_step(i, carry):
            t, xs, energies, converged = carry
            new_t, new, energies, stopped = step((i, xs, energies, converged))
            return t + jnp.logical_not(converged), new, energies, jnp.logical_or(converged, stopped)

        t, xs, energies, converged = jax.lax.fori_loop(0, max_steps, plain_step, init)
        energies = jnp.where(jnp.arange(max_steps + 1) < t, energies, jnp.nan)
    elif differentiable:

        def frozen_step(carry, _):
            new = step(carry)
            running = keep_going(carry)
            return jax.tree_util.tree_map(lambda a, b: jnp.where(running, a, b), new, carry), None

        carry, _ = jax.lax.scan(frozen_step, init, None, length=max_steps)
        t, xs, energies, converged = carry
    else:
        t, xs, energies, converged = jax.lax.while_loop(keep_going, step, init)
    energies = energies.at[t].set(ham.state_energy(xs))
    steps = t - converged.astype(t.dtype)
    return Trajectory(states=xs, steps=steps, converged=converged, energies=energies)


def fixed_point(update, energy, x0: Float[Array, "*shape"], *, max_steps: int, tol: float = 0.0):
    """The one retrieval loop of the discrete and update-rule models: x ← update(t, x) until a
    step moves no component by more than `tol` (converged; that confirming step is not counted)
    or `max_steps` steps. Returns (state, steps, converged, energies) with `energies[t]` the
    energy after t steps and NaN after `steps`."""
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"fixed_point: max_steps must be a positive integer, got {max_steps!r}")

    def body(carry):
        t, x, energies, _ = carry
        new = update(t, x)
        return t + 1, new, energies.at[t + 1].set(energy(new)), jnp.max(jnp.abs(new - x)) <= tol

    def cond(carry):
        t, _, _, done = carry
        return jnp.logical_and(t < max_steps, jnp.logical_not(done))

    energies = jnp.full((max_steps + 1,), jnp.nan, x0.dtype).at[0].set(energy(x0))
    t, x, energies, done = jax.lax.while_loop(cond, body, (jnp.array(0), x0, energies, jnp.array(False)))
    steps = t - done.astype(t.dtype)
    energies = jnp.where(jnp.arange(energies.shape[0]) <= steps, energies, jnp.nan)
    return x, steps, done, energies


def async_minimise(energy, s: Float[Array, " D"], order: Int[Array, " D"]) -> Float[Array, " D"]:
    """One asynchronous sweep of ±1 units by the energy alone: for each unit in `order`, take the
    sign with the lower energy (a tie keeps the current sign). Every flip lowers `energy`; this
    is the reference the discrete models' fast sweeps are tested against."""

    def visit(j, s):
        i = order[j]
        e_up, e_down = energy(s.at[i].set(1.0)), energy(s.at[i].set(-1.0))
        return s.at[i].set(jnp.where(e_up < e_down, 1.0, jnp.where(e_up > e_down, -1.0, s[i])))

    return jax.lax.fori_loop(0, s.shape[0], visit, s)
