"""Pattern sources (random, embedded MNIST, IDX folders, tensorflow-datasets) and corruptions."""

from ._corrupt import CORRUPTIONS as CORRUPTIONS, check_level as check_level, corrupt as corrupt
from ._sources import (
    DATASETS as DATASETS,
    Dataset as Dataset,
    DataUnavailable as DataUnavailable,
    encode as encode,
    load_dataset as load_dataset,
    load_idx as load_idx,
    random_patterns as random_patterns,
    sample_block as sample_block,
)
