"""A lab's model: ambench's softmax DAM whose retrieved state is clipped to the data range.

One file: the model (an equinox module built on `ambench.models`), its parameters (a `Params`
class: types, defaults and ranges, which is all the validation a model needs), how to build it
from the stored patterns, and one `ambench.register_model` call. Its code version, stored with
every result it computes, is derived from this file and the ambench code it uses.
"""

import jax.numpy as jnp

import ambench
from ambench.models import ContinuousDAM


class ClippedParams(ambench.Params):
    beta: float = ambench.Field(4.0, gt=0, description="inverse temperature")
    low: float = ambench.Field(-1.0, description="the state is clipped to [low, high] after retrieval")
    high: float = ambench.Field(1.0, description="upper clip")


class ClippedDAM(ContinuousDAM):
    low: float = -1.0
    high: float = 1.0

    def retrieve_one(self, query, *, key=None):
        out = super().retrieve_one(query, key=key)
        return type(out)(jnp.clip(out.state, self.low, self.high), out.steps, out.converged, out.energies)


def build(p: ClippedParams, patterns, *, labels, image_shape, key, mask):
    """The model for one cell: `patterns` (K, D) to store, `mask` marks the real ones (K buckets)."""
    return ClippedDAM(patterns, beta=p.beta, similarity="dot", mask=mask, low=p.low, high=p.high)


ambench.register_model("lab-clipped-dam", params=ClippedParams, doc="a lab's softmax DAM with a clipped read-out",
                       build=build, family="DAM", maskable=True)
