"""Convex Lagrangians: a neuron layer is defined by one, its activation is the gradient.

Every Lagrangian maps a state tensor `x` to a scalar and is convex in `x`, which is what makes
the energy of the hypergraph a Lyapunov function of the dynamics. Hyperparameters are static
Python numbers, validated when the Lagrangian is built.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def _require_positive(name: str, value: float, owner: str) -> None:
    if not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{owner}: {name} must be a positive number, got {value!r}")


class AbstractLagrangian(eqx.Module):
    """A convex scalar function of a layer's state; `activation` is its gradient."""

    @abc.abstractmethod
    def __call__(self, x: Float[Array, "..."]) -> Float[Array, ""]:
        raise NotImplementedError

    def activation(self, x: Float[Array, "..."]) -> Float[Array, "..."]:
        """x̂ = ∇L(x), computed by autodiff so that it is the gradient by construction."""
        return jax.grad(self.__call__)(x)


class Identity(AbstractLagrangian):
    """L = ½‖x‖², activation x (a linear, 'quadratic' neuron)."""

    def __call__(self, x):
        return 0.5 * jnp.sum(x**2)


class ReLU(AbstractLagrangian):
    """L = ½‖relu(x)‖², activation relu(x)."""

    def __call__(self, x):
        return 0.5 * jnp.sum(jax.nn.relu(x) ** 2)


class RePU(AbstractLagrangian):
    """Rectified power: L = (1/n) Σ relu(x)ⁿ, activation relu(x)ⁿ⁻¹ (n ≥ 2 keeps L convex, C¹)."""

    n: int | float = eqx.field(static=True, default=3.0)

    def __check_init__(self):
        if not isinstance(self.n, (int, float)) or self.n < 2:
            raise ValueError(f"RePU: degree n must be a number >= 2, got {self.n!r}")

    def __call__(self, x):
        return jnp.sum(jax.nn.relu(x) ** self.n) / self.n


class Sigmoid(AbstractLagrangian):
    """L = (1/β) Σ softplus(βx), activation sigmoid(βx); softplus keeps it stable for any x."""

    beta: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        _require_positive("beta", self.beta, "Sigmoid")

    def __call__(self, x):
        return jnp.sum(jax.nn.softplus(self.beta * x)) / self.beta


class Tanh(AbstractLagrangian):
    """L = (1/β) Σ log cosh(βx), activation tanh(βx).

    log cosh z = |z| + log1p(exp(−2|z|)) − log 2 never overflows.
    """

    beta: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        _require_positive("beta", self.beta, "Tanh")

    def __call__(self, x):
        z = jnp.abs(self.beta * x)
        return jnp.sum(z + jnp.log1p(jnp.exp(-2.0 * z)) - jnp.log(2.0)) / self.beta


class Softmax(AbstractLagrangian):
    """L = (1/β) logsumexp(βx) along `axis`, activation softmax(βx)."""

    beta: float = eqx.field(static=True, default=1.0)
    axis: int = eqx.field(static=True, default=-1)

    def __check_init__(self):
        _require_positive("beta", self.beta, "Softmax")

    def __call__(self, x):
        return jnp.sum(jax.nn.logsumexp(self.beta * x, axis=self.axis)) / self.beta


class LayerNorm(AbstractLagrangian):
    """L = D·γ·sqrt(var(x) + ε) + Σ_i δ_i x_i, activation γ·(x − mean)/sqrt(var + ε) + δ.

    The Energy Transformer's Lagrangian (Hoover et al. 2023, eq. 2): its gradient is the usual
    LayerNorm with a scalar gain γ and a bias δ (a scalar or one value per unit). Normalises
    over the last axis (D = its size), summing over the leading axes (tokens). Convex for γ > 0.
    γ and δ may be arrays, so that a model can learn them; numbers are validated here.
    """

    gamma: float | Float[Array, ""] = 1.0
    delta: float | Float[Array, "*D"] = 0.0
    eps: float = eqx.field(static=True, default=1e-5)

    def __check_init__(self):
        if isinstance(self.gamma, (int, float)):
            _require_positive("gamma", self.gamma, "LayerNorm")
        _require_positive("eps", self.eps, "LayerNorm")

    def __call__(self, x):
        d = x.shape[-1]
        var = jnp.var(x, axis=-1)
        return jnp.sum(d * self.gamma * jnp.sqrt(var + self.eps)) + jnp.sum(self.delta * x)


class SphericalNorm(AbstractLagrangian):
    """L = sqrt(‖x‖² + ε) over the last axis, activation x / sqrt(‖x‖² + ε) (onto the sphere)."""

    eps: float = eqx.field(static=True, default=1e-5)

    def __check_init__(self):
        _require_positive("eps", self.eps, "SphericalNorm")

    def __call__(self, x):
        return jnp.sum(jnp.sqrt(jnp.sum(x**2, axis=-1) + self.eps))
