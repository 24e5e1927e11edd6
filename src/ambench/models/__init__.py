"""CHN, DAM and HAM models built from `ambench.energy`, with exact fast paths and a registry."""

from ._base import AbstractMemory as AbstractMemory, Retrieval as Retrieval, retrieve as retrieve
from ._continuous import ContinuousDAM as ContinuousDAM, softmax_update as softmax_update
from ._discrete import (
    INTERACTIONS as INTERACTIONS,
    DiscreteDAM as DiscreteDAM,
    HebbianCHN as HebbianCHN,
    interaction_energy as interaction_energy,
    textbook_sweep as textbook_sweep,
)
from ._hams import (
    ConditionalHAM as ConditionalHAM,
    ContinuousCHN as ContinuousCHN,
    ConvHAM as ConvHAM,
    train_classifier as train_classifier,
)
