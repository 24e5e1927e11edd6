"""A lab's model: the softmax DAM whose retrieved state is clipped to the data range."""

import sys

import jax.numpy as jnp

from ambench.models import ContinuousDAM, register
from ambench.models._registry import model_spec
from ambench.params import Field, Params


class ClippedParams(Params):
    beta: float = Field(4.0, gt=0, description="inverse temperature")
    low: float = Field(-1.0, description="the state is clipped to [low, high] after retrieval")
    high: float = Field(1.0, description="upper clip")


class ClippedDAM(ContinuousDAM):
    low: float = -1.0
    high: float = 1.0

    def retrieve_one(self, query, *, key=None):
        out = super().retrieve_one(query, key=key)
        return type(out)(jnp.clip(out.state, self.low, self.high), out.steps, out.converged, out.energies)


def _build(p, patterns, *, labels, image_shape, key, mask):
    return ClippedDAM(patterns, beta=p.beta, similarity="dot", mask=mask, low=p.low, high=p.high)


register(model_spec("lab-clipped-dam", ClippedParams, "a lab's softmax DAM with a clipped read-out",
                    module=sys.modules[__name__], family="DAM", build=_build, maskable=True))
