"""Pattern sources (random, embedded MNIST, IDX folders, tensorflow-datasets), queries and
corruptions. Every module of this package that calls `ambench.register_dataset` is a source in `DATASETS`."""

from ._corrupt import CORRUPTIONS as CORRUPTIONS, check_level as check_level, corrupt as corrupt
from ._queries import draw_queries as draw_queries
from ._sources import (
    DATASETS as DATASETS,
    Dataset as Dataset,
    ImageParams as ImageParams,
    DataSpec as DataSpec,
    DataUnavailable as DataUnavailable,
    encode as encode,
    load_dataset as load_dataset,
    load_idx as load_idx,
    random_patterns as random_patterns,
    sample_block as sample_block,
)
