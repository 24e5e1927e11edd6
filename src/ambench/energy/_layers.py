"""Neuron layers: a Lagrangian on a shaped state, with its Legendre-transform energy."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._lagrangians import AbstractLagrangian


def legendre_energy(
    lagrangian: AbstractLagrangian, xhat: Float[Array, "..."], x: Float[Array, "..."]
) -> Float[Array, ""]:
    """E = ⟨x̂, x⟩ − L(x) with x̂ = ∇L(x).

    A custom JVP makes ∂E/∂x̂ = x exactly (the Legendre identity) and treats the derivative with
    respect to x as zero (it is x̂ − ∇L(x) = 0 on consistent states), so the dynamics never
    differentiate the Lagrangian twice.
    """

    @jax.custom_jvp
    def energy(xhat, x):
        return jnp.sum(xhat * x) - lagrangian(x)

    @energy.defjvp
    def energy_jvp(primals, tangents):
        xhat, x = primals
        dxhat, _ = tangents
        return energy(xhat, x), jnp.sum(x * dxhat)

    return energy(xhat, x)


class NeuronLayer(eqx.Module):
    """A layer of neurons: state shape (one example) and the Lagrangian that defines it.

    `legendre=False` drops the layer's own energy ⟨x̂, x⟩ − L(x) from the total, so the force
    on it is −∂E_synapses/∂x̂ with no −x leak: the Energy Transformer's dynamics
    τ dx/dt = −∂E/∂g (Hoover et al. 2023, eq. 7). The energy is still a Lyapunov function,
    dE/dt = −(1/τ)·(∂E/∂x̂)ᵀ ∇²L (∂E/∂x̂) ≤ 0 for a convex L, but the fixed points differ.
    """

    lagrangian: AbstractLagrangian
    shape: tuple[int, ...] = eqx.field(static=True)
    legendre: bool = eqx.field(static=True)

    def __init__(self, lagrangian: AbstractLagrangian, shape: tuple[int, ...] | int, *, legendre: bool = True):
        if not isinstance(lagrangian, AbstractLagrangian):
            raise TypeError(f"NeuronLayer: lagrangian must be an AbstractLagrangian, got {lagrangian!r}")
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if not shape or any((not isinstance(s, int)) or s <= 0 for s in shape):
            raise ValueError(f"NeuronLayer: shape must be positive integers, got {shape!r}")
        if not isinstance(legendre, bool):
            raise TypeError(f"NeuronLayer: legendre must be True or False, got {legendre!r}")
        self.lagrangian = lagrangian
        self.shape = shape
        self.legendre = legendre

    def activation(self, x: Float[Array, "..."]) -> Float[Array, "..."]:
        return self.lagrangian.activation(x)

    def energy(self, xhat: Float[Array, "..."], x: Float[Array, "..."]) -> Float[Array, ""]:
        if not self.legendre:
            return jnp.zeros((), jnp.result_type(xhat, x))
        return legendre_energy(self.lagrangian, xhat, x)

    def init(self, dtype=jnp.float32) -> Float[Array, "..."]:
        return jnp.zeros(self.shape, dtype)
