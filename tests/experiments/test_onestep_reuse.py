"""F10's onestep cells reuse one compiled update per shape: a second cell of the same shapes
compiles nothing (it used to jit a new lambda per cell), with the numbers of a per-cell jit."""

import sys

import jax
import numpy as np
import pytest

from ambench.sweep import _cells, resolve_cell
from ambench.timing import compilations


def cell(seed, beta):
    return resolve_cell("onestep", "dam-softmax", "random", seed,
                        {"encoding": "sphere", "similarity": "dot", "method": "update", "max_steps": 20, "beta": beta,
                         "n_memories": 10, "query_noise": 0.1, "n_queries": 10, "epsilon": 0.001, "dim": 16})


@pytest.mark.slow
def test_second_cell_compiles_nothing_and_numbers_equal_a_fresh_jit():
    onestep = _cells.EXPERIMENTS["onestep"]
    first = onestep.run(cell(0, 1.0))
    before = compilations()
    second = onestep.run(cell(1, 1.0))
    assert compilations() - before == 0  # same shapes, same beta: the programs are reused

    from ambench.models._continuous import softmax_update  # the per-cell jit the module replaced
    mod = sys.modules[onestep.run.__module__]
    with jax.enable_x64(True):
        q = jax.numpy.asarray(np.random.default_rng(3).standard_normal((5, 16)))
        mem = jax.numpy.asarray(np.random.default_rng(4).standard_normal((10, 16)))
        fresh = jax.jit(jax.vmap(lambda v: softmax_update(mem, v, beta=0.3, kind="dot")))(q)
        assert np.array_equal(np.asarray(mod._one_update(mem, q, beta=0.3, kind="dot")), np.asarray(fresh))
    assert first.keys() == second.keys()
