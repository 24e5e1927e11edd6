"""Token hypersynapses of the Energy Transformer (Hoover et al., NeurIPS 2023).

Both act on one layer of tokens g (N tokens × D, the activations of a LayerNorm layer):

- `AttentionSynapse`: multi-head energy attention (their eq. 3)
  E_ATT = −(1/β) Σ_h Σ_C log Σ_{B≠C} exp(β K_hB·Q_hC),  K_hB = W^K_h g_B, Q_hC = W^Q_h g_C,
  β = 1/sqrt(Y) by default (Y the key size). A token does not attend to itself (B ≠ C).
- `TokenHopfieldSynapse`: the token-wise Hopfield network (their eq. 5), the same memories ξ_μ
  applied to every token: E_HN = −½ Σ_B Σ_μ relu(ξ_μ·g_B)² (`relu`), or the softmax variant
  −(1/β) Σ_B log Σ_μ exp(β ξ_μ·g_B) (`softmax`).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._synapses import AbstractSynapse, overlap_energy

HOPFIELD_KINDS = ("relu", "softmax")


class AttentionSynapse(AbstractSynapse):
    """Multi-head energy attention on tokens g (N, D); `beta` None means 1/sqrt(key size)."""

    key_weight: Float[Array, "heads Y D"]
    query_weight: Float[Array, "heads Y D"]
    beta: float | None = eqx.field(static=True, default=None)

    def __check_init__(self):
        if self.key_weight.ndim != 3 or self.key_weight.shape != self.query_weight.shape:
            raise ValueError("AttentionSynapse: key_weight and query_weight must both be (heads, Y, D), got "
                             f"{self.key_weight.shape} and {self.query_weight.shape}")
        if self.beta is not None and not self.beta > 0:
            raise ValueError(f"AttentionSynapse: beta must be > 0 (or None for 1/sqrt(Y)), got {self.beta!r}")

    @property
    def inverse_temperature(self) -> float:
        return 1.0 / float(self.key_weight.shape[1]) ** 0.5 if self.beta is None else self.beta

    def scores(self, g: Float[Array, "N D"]) -> Float[Array, "heads N N"]:
        """β K_hB·Q_hC as [h, C, B], the diagonal (a token with itself) set to −∞."""
        if g.ndim != 2 or g.shape[0] < 2:
            raise ValueError(f"AttentionSynapse: tokens must be (N >= 2, D), got shape {g.shape}")
        k = jnp.einsum("hyd,nd->hny", self.key_weight, g)
        q = jnp.einsum("hyd,nd->hny", self.query_weight, g)
        s = self.inverse_temperature * jnp.einsum("hby,hcy->hcb", k, q)
        return jnp.where(jnp.eye(g.shape[0], dtype=bool), -jnp.inf, s)

    def __call__(self, g):
        beta = self.inverse_temperature
        return -jnp.sum(jax.nn.logsumexp(self.scores(g), axis=-1)) / beta


class TokenHopfieldSynapse(AbstractSynapse):
    """The same dense associative memory ξ (M, D) on every token of g (N, D)."""

    memories: Float[Array, "M D"]
    kind: str = eqx.field(static=True, default="relu")
    beta: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        if self.kind not in HOPFIELD_KINDS:
            raise ValueError(f"TokenHopfieldSynapse: kind must be one of {HOPFIELD_KINDS}, got {self.kind!r}")
        if not self.beta > 0:
            raise ValueError(f"TokenHopfieldSynapse: beta must be > 0, got {self.beta!r}")

    def __call__(self, g):
        overlaps = g @ self.memories.T  # (N, M): ξ_μ·g_B
        if self.kind == "relu":  # −½ Σ relu(m)² is half the rectified n = 2 interaction energy
            per_token = jax.vmap(lambda m: 0.5 * overlap_energy(m, kind="rectified", n=2, beta=1.0))(overlaps)
        else:
            per_token = jax.vmap(lambda m: overlap_energy(m, kind="exp", n=1, beta=self.beta))(overlaps)
        return jnp.sum(per_token)
