"""F4b, the masked and noisy parts of the Universal Hopfield Networks study: the masks are their
code's (bottom rows int(H (1 - f)) to H set to 0), the power separations are s^p / sum s^p without
overflow at an exact match, and plot_f4b draws every protocol and both criteria from a small
synthetic frame with bands in [0, 1] and no overlapping text."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from ambench.data import corrupt
from ambench.models._universal import UniversalHopfield, separate
from ambench.report import _style, figures

LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def their_mask(img, frac):
    """Millidge et al.'s mask_continuous_img, bottom rows (reversed=False), in float64 numpy."""
    i = np.array(img, copy=True)
    h = i.shape[-2]
    i[..., int(h * (1 - frac)):h, :] = 0
    return i


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_mask_rows_hides_the_rows_their_code_hides(shape):
    rng = np.random.default_rng(0)
    img = rng.uniform(0.1, 1.0, shape).astype(np.float32)
    traced = jax.jit(lambda x, f: corrupt(x, "mask_rows", f, key=jax.random.PRNGKey(0), image_shape=shape))
    for f in LEVELS:
        want = their_mask(img, f).reshape(-1)
        got = corrupt(jnp.asarray(img.reshape(-1)), "mask_rows", f, key=jax.random.PRNGKey(1), image_shape=shape)
        np.testing.assert_array_equal(np.asarray(got), want)
        np.testing.assert_array_equal(np.asarray(traced(jnp.asarray(img.reshape(-1)), jnp.float32(f))), want)


@settings(max_examples=12, deadline=None)
@given(k=st.integers(1, 30), power=st.sampled_from(["identity", "square", "cube", "poly10"]),
       scale=st.floats(1e-3, 1e3), seed=st.integers(0, 2**31 - 1), masked=st.integers(0, 29))
def test_power_separation_is_the_normalised_power(k, power, scale, seed, masked):
    """w = s^p / sum s^p over the unmasked rows, computed in float64 from the same scores."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(0, 1, k) * scale
    mask = np.arange(k) != masked  # masked >= k: nothing masked
    p = {"identity": 1, "square": 2, "cube": 3, "poly10": 10}[power]
    want = np.where(mask, s, 0.0) ** p
    want = want / want.sum() if want.sum() > 0 else want
    got = separate(jnp.asarray(s, jnp.float32), power, 1.0, jnp.asarray(mask))
    np.testing.assert_allclose(np.asarray(got), want, rtol=2e-4, atol=1e-7)


def test_poly10_retrieves_an_exact_match_instead_of_overflowing():
    """A query equal to a stored image: distance 0, similarity 1e8, s^10 = 1e80 would be inf."""
    rng = np.random.default_rng(0)
    memories = jnp.asarray(rng.uniform(0, 1, (5, 16)), jnp.float32)
    for sim in ("euclidean", "manhattan"):
        out = UniversalHopfield(memories, similarity=sim, separation="poly10").retrieve_one(memories[2]).state
        np.testing.assert_allclose(np.asarray(out), np.asarray(memories[2]), rtol=1e-6)


def _uhn_rows(rng):
    rows = []
    parts = [("mask_rows", 0.5, k) for k in (2, 10, 50, 100)]
    parts += [("gaussian-abs", s, 100) for s in (0.05, 0.5, 1.5)]
    parts += [("mask_rows", f, 50) for f in (0.1, 0.5, 0.9) if f != 0.5]  # (50, 0.5) is shared, as in the sweep
    for ds, sim, sep, (kind, level, k), seed in itertools.product(
            ("mnist-5k", "fashion_mnist-idx"), ("dot", "euclidean"), ("identity", "max"), parts, range(3)):
        rows.append({"dataset": ds, "similarity": sim, "separation": sep, "noise_kind": kind, "noise_level": level,
                     "n_memories": k, "seed": seed, "threshold": 60.0,
                     "threshold_rate": float(rng.choice([0.0, 1.0, rng.uniform()])),
                     "own_nearest_rate": float(rng.choice([0.0, 1.0, rng.uniform()]))})
    return pd.DataFrame(rows)


def _overlaps(boxes):
    return [(a, b) for (a, ba), (b, bb) in itertools.combinations(boxes, 2) if ba.overlaps(bb)]


def test_f4b_draws_every_protocol_and_criterion_without_overlapping_text():
    _style.style()
    df = _uhn_rows(np.random.default_rng(0))
    fig, table, note = figures.FIGURES["F4b"].plot(df)
    assert (table.lo_threshold >= 0).all() and (table.hi_threshold <= 1).all()
    assert (table.lo_nearest >= 0).all() and (table.hi_nearest <= 1).all()
    # the K = 50, f = 0.5 cells are drawn in both mask protocols, with the same means
    shared = table[(table.x == 50) & (table.part == "half-mask")].set_index(["dataset", "similarity", "separation"])
    again = table[(table.x == 0.5) & (table.part == "mask-fraction")].set_index(["dataset", "similarity", "separation"])
    pd.testing.assert_frame_equal(shared[["mean_threshold", "mean_nearest"]], again[["mean_threshold", "mean_nearest"]])
    want = df[(df.noise_kind == "gaussian-abs") & (df.noise_level == 1.5) & (df.dataset == "mnist-5k")
              & (df.similarity == "dot") & (df.separation == "max")].own_nearest_rate.mean()
    got = table[(table.part == "noise") & (table.x == 1.5) & (table.dataset == "mnist-5k") & (table.similarity == "dot")
                & (table.separation == "max")].mean_nearest.item()
    assert got == pytest.approx(want)
    axes = fig.get_axes()
    assert len(axes) == 3 * 2 * 4  # protocols x criteria, rows = datasets x similarities
    assert {t.get_text() for t in fig.legends[0].get_texts()} == {"identity", "max"}
    assert "protocol" in table and "int(28 (1 - f))" in table.protocol.iloc[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [fig._suptitle] + [sub._suptitle for sub in fig.subfigs]  # titles, labels, row labels, legend
    texts += [a.title for a in axes] + [a.xaxis.label for a in axes] + [a.yaxis.label for a in axes]
    texts += [t for a in axes for t in a.texts] + [fig.legends[0].get_title()]
    texts = [t for t in texts if t is not None and t.get_text() and t.get_visible()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in set(texts)]
    assert not _overlaps(boxes), _overlaps(boxes)[:3]
    assert "max" in note and "squared error" in fig._suptitle.get_text()
