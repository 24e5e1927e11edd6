"""Facts several parts of ambench rely on, stated once here (no JAX, no pandas: cheap to import).

- which columns of a stored row say *what* was measured (`IDENTITY`) and *where and with which
  code* (`PROVENANCE`, plus the `code_<kind>` versions), as opposed to parameters and metrics;
(where the experiments and sweeps live is `_resources`' fact: the checkout, or an installed wheel);
- when a stored row is outdated: `outdated_reason(row, versions)`, the one rule that `run`,
  `sweep`, `status` and `figures` all apply (with the registries' versions, or the cached ones).
"""

from __future__ import annotations

from collections.abc import Mapping

# The component kinds of a cell, and the column of a row that names each one.
KINDS = ("experiment", "model", "data")
KIND_COLUMN = {"experiment": "experiment", "model": "model", "data": "dataset"}

# What a stored row measured: the components, the seed, and the key that hashes them.
IDENTITY = ("experiment", "model", "dataset", "seed", "cell_key")
# Where and with which code a row was measured: never a parameter, never a metric. A run records
# RUN_PROVENANCE (`sweep._run.provenance`); format-1 rows carried `experiment_code`, a migrated row
# names the key it came from (`migrated_from`), and a table read back marks `from_store`.
RUN_PROVENANCE = ("ambench_version", "git_commit", "jax_version", "device", "wall_s")
PROVENANCE = (*RUN_PROVENANCE, "experiment_code", "from_store", "migrated_from")
CODE_PREFIX = "code_"  # code_experiment, code_model, code_data: the components' code versions


def is_provenance(column: str) -> bool:
    """A provenance column (including the code versions), never a parameter or a metric."""
    return column in PROVENANCE or column.startswith(CODE_PREFIX)


def outdated_reason(row: Mapping, versions: Mapping[str, Mapping[str, str]]) -> str | None:
    """Why a stored row was computed by other code than `versions` describe (None: same code).

    `versions` maps a kind (`experiment`, `model`, `data`) to {component name: code version};
    a component that is not there any more, or whose recorded version differs, makes the row
    outdated."""
    for kind in KINDS:
        name = row.get(KIND_COLUMN[kind])
        known = versions.get(kind, {})
        if name not in known:
            return f"{kind} {name} no longer exists"
        recorded = row.get(f"{CODE_PREFIX}{kind}")
        if recorded != known[name]:
            return f"{kind} {name} code {recorded or 'unrecorded'} -> {known[name]}"
    return None
