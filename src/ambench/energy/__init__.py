"""The energy framework: Lagrangians, neuron layers, hypersynapses, the hypergraph, descent."""

from ._attention import (
    HOPFIELD_KINDS as HOPFIELD_KINDS,
    AttentionSynapse as AttentionSynapse,
    TokenHopfieldSynapse as TokenHopfieldSynapse,
)
from ._hypergraph import HAM as HAM, States as States
from ._integrator import (
    Trajectory as Trajectory,
    async_minimise as async_minimise,
    descend as descend,
    fixed_point as fixed_point,
)
from ._lagrangians import (
    AbstractLagrangian as AbstractLagrangian,
    Identity as Identity,
    LayerNorm as LayerNorm,
    ReLU as ReLU,
    RePU as RePU,
    Sigmoid as Sigmoid,
    Softmax as Softmax,
    SphericalNorm as SphericalNorm,
    Tanh as Tanh,
)
from ._layers import NeuronLayer as NeuronLayer, legendre_energy as legendre_energy
from ._synapses import (
    SIMILARITIES as SIMILARITIES,
    AbstractSynapse as AbstractSynapse,
    BiasSynapse as BiasSynapse,
    ConvSynapse as ConvSynapse,
    DenseSynapse as DenseSynapse,
    InteractionSynapse as InteractionSynapse,
    overlap_energy as overlap_energy,
    MemorySynapse as MemorySynapse,
    similarity as similarity,
)
