"""The Energy Transformer as physics: its Lagrangian, its two energies as written in the paper,
descent, the hand-written update equal to autograd through the hypergraph, the trained-weights
cache."""

import hashlib
import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ambench import energy as E
from ambench.models import _energy_transformer as ET

seeds = st.integers(0, 2**31 - 1)


def _weights(seed, kind="relu", **arch):
    w = ET.ETWeights.init(jax.random.PRNGKey(seed), image_shape=(1, 8, 8), patch=2, dim=8, heads=2, key_size=4,
                          memories=6, hopfield_kind=kind, **arch)
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed + 7))  # a trained model has γ ≠ 1, δ ≠ 0
    return eqx.tree_at(lambda m: (m.log_gamma, m.delta), w,
                       (0.3 * jax.random.normal(k1, ()), 0.2 * jax.random.normal(k2, w.delta.shape)))


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(seed=seeds)
def test_layernorm_lagrangian_activation_is_its_gradient_with_learned_gain_and_bias(seed):
    """L = D·γ·sqrt(Var x + ε) + Σ δ_i x_i (the paper's eq. 2, per token), ∇L = γ (x − x̄)/sqrt(Var + ε) + δ."""
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    x = 2.0 * jax.random.normal(k1, (5, 7))
    gamma, delta = jnp.exp(0.5 * jax.random.normal(k2, ())), jax.random.normal(k3, (7,))
    lag = E.LayerNorm(gamma=gamma, delta=delta)
    explicit = gamma * (x - x.mean(-1, keepdims=True)) / jnp.sqrt(x.var(-1, keepdims=True) + 1e-5) + delta
    np.testing.assert_allclose(lag.activation(x), explicit, rtol=1e-4, atol=1e-5)
    e = jnp.zeros_like(x).at[2, 3].set(1e-2)
    np.testing.assert_allclose((lag(x + e) - lag(x - e)) / 2e-2, explicit[2, 3], rtol=2e-2, atol=2e-3)
    with pytest.raises(ValueError, match="gamma"):
        E.LayerNorm(gamma=-1.0)


@pytest.mark.slow
@settings(max_examples=10, deadline=None)
@given(seed=seeds)
def test_attention_and_hopfield_energies_are_the_papers_sums(seed):
    """E_ATT = −(1/β) Σ_h Σ_C log Σ_{B≠C} exp(β K_hB·Q_hC), E_HN = −½ Σ_B Σ_μ relu(ξ_μ·g_B)² and
    its softmax variant, each summed term by term in numpy."""
    w = _weights(seed)
    g = np.asarray(jax.random.normal(jax.random.PRNGKey(seed + 1), (5, 8)), np.float64)
    wk, wq, xi = (np.asarray(a, np.float64) for a in (w.key_weight, w.query_weight, w.hopfield))
    beta = 1 / np.sqrt(wk.shape[1])
    e_att = 0.0
    for h in range(wk.shape[0]):
        for c in range(5):
            terms = [np.exp(beta * (wk[h] @ g[b]) @ (wq[h] @ g[c])) for b in range(5) if b != c]
            e_att -= np.log(np.sum(terms)) / beta
    e_hn = -0.5 * sum(max(xi[m] @ g[b], 0.0) ** 2 for b in range(5) for m in range(xi.shape[0]))
    e_soft = -sum(np.log(np.sum(np.exp(2.0 * (xi @ g[b])))) / 2.0 for b in range(5))
    got = _energies(w, jnp.asarray(g, jnp.float32))
    np.testing.assert_allclose(got, [e_att, e_hn, e_soft], rtol=1e-4)


@eqx.filter_jit
def _energies(w, g):
    return jnp.stack([E.AttentionSynapse(w.key_weight, w.query_weight)(g), E.TokenHopfieldSynapse(w.hopfield)(g),
                      E.TokenHopfieldSynapse(w.hopfield, kind="softmax", beta=2.0)(g)])


@pytest.mark.slow
@settings(max_examples=10, deadline=None)
@given(seed=seeds, kind=st.sampled_from(["relu", "softmax"]), dt=st.sampled_from([0.01, 0.1, 0.5]))
def test_autograd_step_through_the_hypergraph_is_the_papers_written_update(seed, kind, dt):
    """x − dt·∂E/∂g by autograd of the HAM (layer without Legendre energy) equals the paper's
    closed-form −∂E_ATT/∂g − ∂E_HN/∂g written by hand (`written_update`) on random tokens."""
    w = _weights(seed, kind)
    x = 1.5 * jax.random.normal(jax.random.PRNGKey(seed + 2), w.position.shape)
    autograd, written = _one_step(w, x, dt)
    np.testing.assert_allclose(autograd, written, rtol=1e-4, atol=1e-5)
    assert not np.allclose(autograd, x, atol=1e-3)  # the step moves: the comparison is not x = x


@eqx.filter_jit
def _one_step(w, x, dt):
    one = E.descend(w.as_ham(), {"tokens": x}, dt=dt, max_steps=1, tol=0.0)
    return one.states["tokens"], ET.written_update(w, x, dt=dt)


@eqx.filter_jit
def _complete(w, image, steps, dt, path):
    return w.complete(image, steps=steps, dt=dt, path=path)


@pytest.mark.slow
@settings(max_examples=8, deadline=None)
@given(seed=seeds, kind=st.sampled_from(["relu", "softmax"]))
def test_energy_never_increases_along_the_dynamics(seed, kind):
    w = _weights(seed, kind)
    image = jax.random.uniform(jax.random.PRNGKey(seed + 3), (64,))
    image = w.image(w.patches(image).at[:5].set(0.0))  # five unknown patches
    _, unknown, _, steps, _, energies = _complete(w, image, 60, 0.05, "autograd")
    assert int(jnp.sum(unknown)) >= 5 and int(steps) == 60
    assert jnp.all(jnp.isfinite(energies))
    assert jnp.all(jnp.diff(energies) <= 1e-5 * (1 + jnp.abs(energies[:-1])))
    assert energies[-1] < energies[0]


@pytest.mark.slow
@settings(max_examples=6, deadline=None)
@given(seed=seeds, kind=st.sampled_from(["relu", "softmax"]))
def test_closed_form_path_equals_the_hypergraph_descent(seed, kind):
    """The model's `closed-form` path (the written update in the integrator's fixed-point loop)
    gives the autograd path's tokens, steps and energy trace."""
    w = _weights(seed, kind)
    image = jax.random.uniform(jax.random.PRNGKey(seed + 4), (64,))
    image = w.image(w.patches(image).at[3:9].set(0.0))
    a = _complete(w, image, 12, 0.1, "autograd")
    b = _complete(w, image, 12, 0.1, "closed-form")
    np.testing.assert_allclose(a[2], b[2], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-4, atol=1e-5)
    assert int(a[3]) == int(b[3]) == 12
    np.testing.assert_allclose(a[5], b[5], rtol=1e-5, atol=1e-4)


@pytest.mark.slow
def test_patches_round_trip_and_unknown_patches_are_the_all_background_ones():
    w = _weights(0)
    image = jax.random.uniform(jax.random.PRNGKey(1), (64,)) + 0.1
    assert jnp.array_equal(w.image(w.patches(image)), image)
    masked = w.image(w.patches(image).at[jnp.array([0, 7])].set(0.0))
    assert jnp.array_equal(jnp.nonzero(w.unknown(masked))[0], jnp.array([0, 7]))


def test_bad_shapes_are_one_line_errors():
    with pytest.raises(ValueError, match="patch=3 must divide"):
        ET.ETWeights.init(jax.random.PRNGKey(0), image_shape=(1, 8, 8), patch=3)
    with pytest.raises(ValueError, match="kind must be"):
        E.TokenHopfieldSynapse(jnp.ones((2, 3)), kind="cube")
    with pytest.raises(ValueError, match="N >= 2"):
        E.AttentionSynapse(jnp.ones((1, 2, 3)), jnp.ones((1, 2, 3)))(jnp.ones((1, 3)))


TINY = {"train_set": "mnist-5k", "patch": 7, "dim": 8, "heads": 1, "key_size": 4, "memories": 8,
        "hopfield_kind": "relu", "train_steps": 3, "batch_size": 4, "learning_rate": 1e-3, "mask_fraction": 0.5,
        "train_depth": 2, "dt": 0.1, "train_seed": 0}


@pytest.mark.slow
def test_training_is_a_cached_step_whose_artifact_is_named_by_its_content(tmp_path, monkeypatch):
    monkeypatch.setenv("AMBENCH_ARTIFACTS", str(tmp_path))
    w1, r1 = ET.trained_weights(TINY)
    assert r1["cached"] is False and len(r1["losses"]) == 3
    files = sorted(p.name for p in (tmp_path / "energy-transformer").glob("*.eqx"))
    assert files == [r1["weights"]]
    data = (tmp_path / "energy-transformer" / r1["weights"]).read_bytes()
    assert r1["weights"] == hashlib.sha256(data).hexdigest() + ".eqx"
    index = json.loads((tmp_path / "energy-transformer" / f"{r1['training_key']}.json").read_text())
    assert index["setting"] == TINY and index["weights"] == r1["weights"]

    def no_training(*args, **kwargs):
        raise AssertionError("a cached setting was trained again")

    monkeypatch.setattr(ET, "train", no_training)
    w2, r2 = ET.trained_weights(dict(TINY))
    assert r2["cached"] is True and r2["weights"] == r1["weights"]
    assert all(jnp.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(w1), jax.tree_util.tree_leaves(w2)))
    monkeypatch.undo()
    monkeypatch.setenv("AMBENCH_ARTIFACTS", str(tmp_path))
    _, r3 = ET.trained_weights(TINY | {"learning_rate": 2e-3})
    assert r3["cached"] is False and r3["training_key"] != r1["training_key"] and r3["weights"] != r1["weights"]
    assert len(list((tmp_path / "energy-transformer").glob("*.eqx"))) == 2


@pytest.mark.slow
def test_registered_model_completes_masked_mnist_queries(tmp_path, monkeypatch):
    """Through the registry and the protocol: a masked-row cell runs, the energy descends,
    and the known rows of every completion are the query's."""
    from ambench.protocol import measure_retrieval
    from ambench.sweep import resolve_cell

    monkeypatch.setenv("AMBENCH_ARTIFACTS", str(tmp_path))
    params = {k: v for k, v in TINY.items()} | {"n_memories": 8, "n_queries": 4, "noise_kind": "mask_rows",
                                                "noise_level": 0.5, "max_steps": 4}
    cell = resolve_cell("noise", "energy-transformer", "mnist-5k", 0, params)
    out = measure_retrieval(cell)
    assert out["diverged_rate"] == 0 and out["energy_monotone_rate"] == 1.0
    with pytest.raises(ValueError, match="encoding=unit"):
        from ambench.protocol import check_cell

        check_cell(resolve_cell("noise", "energy-transformer", "mnist-5k", 0, params | {"encoding": "binary"}))


@pytest.mark.slow
@settings(max_examples=20, deadline=None)
@given(seed=seeds, level=st.floats(0.0, 1.0))
def test_mask_patches_hides_round_level_n_whole_patches(seed, level):
    from ambench.data import corrupt

    x = jax.random.uniform(jax.random.PRNGKey(seed), (784,)) + 0.5
    y = corrupt(x, "mask_patches", level, key=jax.random.PRNGKey(seed + 1), image_shape=(1, 28, 28))
    blocks = (y.reshape(7, 4, 7, 4) == 0).transpose(0, 2, 1, 3).reshape(49, 16)
    assert jnp.all(blocks.all(axis=1) | ~blocks.any(axis=1))  # whole patches only
    assert int(blocks.all(axis=1).sum()) == round(level * 49) or abs(level * 49 % 1 - 0.5) < 1e-6
    assert jnp.array_equal(jnp.where(y == 0, x, y), x)  # the rest untouched


@pytest.mark.slow
def test_f12_draws_every_model_in_its_colour_from_the_committed_smoke_results():
    from pathlib import Path

    import matplotlib.pyplot as plt

    from ambench.report import _style, figures
    from ambench.report._tables import flat_view, load_results

    _style.style()
    df = flat_view(load_results(Path(__file__).resolve().parents[2] / "results" / "smoke" / "f12-completion"))
    fig, table, protocol = figures.FIGURES["F12"].plot(df)
    try:
        assert set(table.model) == {"energy-transformer", "ham-conv", "dam-softmax", "uhn"}
        rates = table[table.metric == "nearest_rate"]
        assert (rates.lo >= 0).all() and (rates.hi <= 1).all()
        labels = [t.get_text() for t in fig.legends[0].get_texts()]
        assert len(labels) == 8  # four models x two corruptions
        first = fig.axes[0]
        colours = {ln.get_color() for ln in first.get_lines()}
        assert colours == {_style.model_colour(m) for m in ("energy-transformer", "ham-conv", "dam-softmax", "uhn")}
        assert "4x4 patches" in protocol and "nearest" in first.get_ylabel()
    finally:
        plt.close(fig)
