"""The basins experiment (one file, experiments/basins.py): radii shrink as memories are added,
and each radius is the bisection's answer (retrieved at it, not above it by one step)."""

import numpy as np
import pytest

from ambench.sweep import load_experiment, resolve_cell


def _basins(**params):
    cell = resolve_cell("basins", "chn", "random", 0, {"dim": 100, "n_queries": 30, **params})
    return cell, load_experiment("basins").run(cell)


@pytest.mark.slow
def test_basins_shrink_with_load_and_stay_in_range():
    _, light = _basins(n_memories=3)
    _, heavy = _basins(n_memories=14)
    assert 0.3 < light["basin_mean"] <= 0.5  # few memories: wide basins (up to half the bits)
    assert heavy["basin_mean"] < light["basin_mean"]
    for out in (light, heavy):
        r = np.array(out["radii"])
        assert np.all((r >= 0) & (r <= 0.5)) and out["basin_q10"] <= out["basin_median"] <= out["basin_q90"]


@pytest.mark.slow
def test_radius_is_where_retrieval_stops():
    """Re-measure one pattern's retrieval with the noise experiment's machinery at its radius
    and one bisection step above: retrieved, then not (flip noise is nested, so exact here)."""
    import jax
    import jax.numpy as jnp

    from ambench import data, metrics
    from ambench.protocol import load_memories, model_for, retrieve_key

    cell, out = _basins(n_memories=10, n_bisect=6)
    mem = load_memories(cell, 10)
    model = model_for(cell, mem)
    key = jax.random.PRNGKey(0)
    idx = jax.random.permutation(jax.random.fold_in(key, 1), 10)[:10]
    keys = jax.random.split(jax.random.fold_in(key, 2), 10)
    step = 0.5 / 2**6
    for j, r in enumerate(out["radii"]):
        if not 0 < r < 0.5:
            continue
        for level, expected in ((r, True), (r + step, False)):
            q = data.corrupt(jnp.asarray(mem.patterns)[idx[j]], "flip", level, key=keys[j])
            state = model.retrieve_one(q, key=jax.random.split(retrieve_key(cell), 10)[j]).state[None]
            wrong = float(metrics.wrong_fraction(state, jnp.asarray(mem.patterns)[idx[j]][None])[0])
            assert (wrong <= 0.015) == expected, (j, r, level, wrong)



@pytest.mark.parametrize(("kind", "level"), [("flip", 0.5), ("gaussian", 1.5)])
def test_max_level_within_its_noise_kinds_range_is_accepted(kind, level):
    load_experiment("basins").check(resolve_cell("basins", "chn", "random", 0, {"noise_kind": kind, "max_level": level}))


def test_max_level_outside_its_noise_kinds_range_is_refused_by_its_own_name(tmp_path, capsys):
    """A flip fraction of 1.5 is refused as max_level (the value given), before anything runs."""
    from ambench import cli

    assert cli.main(["run", "basins", "--model", "chn", "--dataset", "random", "--set", "max_level=1.5",
                     "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: max_level for flip is a fraction in [0, 1]; got 1.5", err
    assert not (tmp_path / "r" / "cells").exists()
