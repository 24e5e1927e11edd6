"""The paper-reproduction pieces at the physics level: the UHN softmax by the authors' formula,
the K_1/2 protocol (random starts, fresh memories per set), the crossing interpolation and its
bootstrap, and the exponential-DAM capacity law. Fast: tiny N and K only."""

import jax.numpy as jnp
import numpy as np

from ambench.models._universal import UniversalHopfield, separate
from ambench.protocol import measure_retrieval
from ambench.sweep._cells import resolve_cell


def test_softmax_separation_divides_scores_by_their_sum_first():
    s = jnp.array([1.0, 2.0, 3.0])  # sum 6: beta = 6 makes beta * s / sum(s) = s
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(separate(s, "softmax", 6.0), e / e.sum(), rtol=1e-6)
    # a masked row enters neither the sum (3 here, so beta = 3 gives s again) nor the softmax
    w = separate(s, "softmax", 3.0, mask=jnp.array([True, True, False]))
    np.testing.assert_allclose(w, [e[0] / (e[0] + e[1]), e[1] / (e[0] + e[1]), 0.0], rtol=1e-6)
    # scale-free: multiplying every score by a constant changes nothing (their normalisation)
    np.testing.assert_allclose(separate(7.0 * s, "softmax", 6.0), e / e.sum(), rtol=1e-6)


def test_uhn_queries_are_scored_not_counted_as_diverged():
    """A UHN has no energy: its retrievals must not read as arithmetic failures (they did while
    its energy trace was NaN: every F4 cell scored 0)."""
    rng = np.random.default_rng(0)
    mem = jnp.asarray(rng.random((10, 64)), jnp.float32)
    out = UniversalHopfield(mem, beta=1000.0, similarity="euclidean", separation="max").retrieve_one(mem[3])
    np.testing.assert_allclose(out.state, mem[3])
    cell = resolve_cell("capacity", "uhn", "random", 0, {"dim": 64, "encoding": "gaussian", "n_memories": 10,
                                                         "separation": "max", "criterion": "nearest"})
    res = measure_retrieval(cell)
    assert res["diverged_rate"] == 0.0 and res["success_rate"] == 1.0
