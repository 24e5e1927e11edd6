"""The hypergraph: named neuron layers (nodes) and named synapses (hyperedges).

Total energy = Σ layer energies + Σ synapse energies. Everything is plain dicts of arrays, so
the whole model is a pytree that jit, vmap and grad see through. It acts on one example;
batch with `jax.vmap`.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._layers import NeuronLayer
from ._synapses import AbstractSynapse

States = dict[str, Float[Array, "..."]]


class HAM(eqx.Module):
    """A hierarchical associative memory: layers, synapses and which layers each connects."""

    layers: dict[str, NeuronLayer]
    synapses: dict[str, AbstractSynapse]
    connections: dict[str, tuple[str, ...]] = eqx.field(static=True)

    def __init__(
        self,
        layers: dict[str, NeuronLayer],
        synapses: dict[str, AbstractSynapse],
        connections: dict[str, tuple[str, ...]],
    ):
        missing = set(synapses) ^ set(connections)
        if missing:
            raise ValueError(f"HAM: every synapse needs exactly one connection entry; mismatched: {sorted(missing)}")
        for name, ends in connections.items():
            unknown = [layer for layer in ends if layer not in layers]
            if unknown:
                raise ValueError(f"HAM: synapse {name!r} connects unknown layers {unknown}; known: {sorted(layers)}")
        self.layers = dict(layers)
        self.synapses = dict(synapses)
        self.connections = {k: tuple(v) for k, v in connections.items()}

    def init_states(self, dtype=jnp.float32) -> States:
        return {name: layer.init(dtype) for name, layer in self.layers.items()}

    def activations(self, xs: States) -> States:
        return {name: layer.activation(xs[name]) for name, layer in self.layers.items()}

    def layer_energies(self, xhats: States, xs: States) -> dict[str, Float[Array, ""]]:
        return {name: layer.energy(xhats[name], xs[name]) for name, layer in self.layers.items()}

    def synapse_energies(self, xhats: States) -> dict[str, Float[Array, ""]]:
        return {
            name: synapse(*(xhats[layer] for layer in self.connections[name]))
            for name, synapse in self.synapses.items()
        }

    def energy(self, xhats: States, xs: States) -> Float[Array, ""]:
        parts = list(self.layer_energies(xhats, xs).values()) + list(self.synapse_energies(xhats).values())
        return jnp.sum(jnp.stack(parts))

    def energy_grad(self, xhats: States, xs: States) -> tuple[Float[Array, ""], States]:
        """Total energy and ∂E/∂x̂_l for every layer l (the force the dynamics follow)."""
        return jax.value_and_grad(self.energy)(xhats, xs)

    def state_energy(self, xs: States) -> Float[Array, ""]:
        """Energy of consistent states (x̂ = ∇L(x))."""
        return self.energy(self.activations(xs), xs)
