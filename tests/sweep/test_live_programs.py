"""A long sweep keeps a bounded number of compiled programs alive (each holds memory maps; F9's
capacity searches died at vm.max_map_count after ~600), and dropping them changes no result."""

import gc
import json

import jax
import pytest

from ambench.sweep import Store, resolve_cell
from ambench.sweep._run import ProgramBound, run_cells


def live_executables() -> int:
    """Loaded XLA executables still referenced in this process (a deterministic count)."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o).__name__ == "MeshExecutable")


def cells():  # one new compiled program per cell at least: every cell has its own N
    return [resolve_cell("capacity", "chn", "random", 0, {"dim": d, "n_memories": 3, "n_queries": 3})
            for d in (9, 11, 13, 15, 17, 19)]


def stored(root):
    keep = ("success_rate", "wrong_bits", "steps", "nearest_rate", "cell_key")
    rows = (json.loads(p.read_text()) for p in (root / "cells").glob("*.json"))
    return sorted(({k: r[k] for k in keep} for r in rows),
                  key=lambda r: r["cell_key"])


@pytest.mark.slow
def test_live_programs_stay_bounded_and_results_equal(tmp_path):
    jax.clear_caches()
    unbounded = ProgramBound(limit=10_000)
    run_cells(cells(), Store(tmp_path / "a"), batched=False, bound=unbounded)
    grown = live_executables()
    per_cell = unbounded.live() / len(cells())
    assert unbounded.clears == 0 and grown >= len(cells())  # without a bound every program stays

    jax.clear_caches()
    limit = 4
    bound = ProgramBound(limit=limit)
    run_cells(cells(), Store(tmp_path / "b"), batched=False, bound=bound)
    assert bound.clears >= 2
    assert bound.live() < limit + 2 * per_cell
    assert live_executables() <= bound.live() < grown  # what is held is only what came since the last drop
    assert stored(tmp_path / "a") == stored(tmp_path / "b")  # dropping compiled programs changes no number


def test_program_bound_refuses_a_useless_limit():
    with pytest.raises(ValueError, match=">= 1"):
        ProgramBound(limit=0)
