"""CHN, DAM and HAM models built from `ambench.energy`, with exact fast paths and a registry.

Every module of this package that calls `ambench.register_model` is a model in `MODELS`: adding one
is one file.
"""

from ._base import AbstractMemory as AbstractMemory, Retrieval as Retrieval, retrieve as retrieve
from ._continuous import (
    PRECISIONS as PRECISIONS,
    ContinuousDAM as ContinuousDAM,
    softmax_retrieval as softmax_retrieval,
    softmax_update as softmax_update,
)
from ._discrete import (
    INTERACTIONS as INTERACTIONS,
    DiscreteDAM as DiscreteDAM,
    HebbianCHN as HebbianCHN,
    interaction_energy as interaction_energy,
    textbook_sweep as textbook_sweep,
    visit_order as visit_order,
)
from ._hams import (
    ConditionalHAM as ConditionalHAM,
    ContinuousCHN as ContinuousCHN,
    ConvHAM as ConvHAM,
    train_classifier as train_classifier,
)
from ._registry import MODELS as MODELS, ModelSpec as ModelSpec, build_model as build_model
from ._universal import SEPARATIONS as SEPARATIONS, UniversalHopfield as UniversalHopfield
