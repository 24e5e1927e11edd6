"""The paper figures' shared look and the quantities they draw: the style helpers (one colour
per model, clipped t-bands, plain log ticks), the F7 ceiling's kernel and flop count, F3's
Krotov–Hopfield law, and each reworked plot function on small synthetic results."""

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from ambench import report
from ambench.report import _style, figures
from ambench.report._tables import t_halfwidth
from conftest import ROOT

spec = importlib.util.spec_from_file_location("throughput_exp", ROOT / "experiments" / "throughput.py")
throughput = importlib.util.module_from_spec(spec)
spec.loader.exec_module(throughput)


@settings(max_examples=4, deadline=None)
@given(b=st.integers(2, 9), k=st.integers(2, 40), d=st.integers(2, 17))  # size 1 turns a dot into a product
def test_step_flops_is_xlas_count_of_the_retrievals_two_products(b, k, d):
    m, q = jnp.ones((k, d)), jnp.ones((b, d))
    step = jax.jit(lambda m, q: throughput._matmul(throughput._matmul(q, m.T, "fp32"), m, "fp32"))
    cost = step.lower(m, q).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    assert throughput.step_flops(batch=b, n_memories=k, dim=d) == cost["flops"] == 4 * b * k * d


@settings(max_examples=2, deadline=None)
@given(b=st.integers(1, 6), blocks=st.integers(1, 4), chunk=st.integers(1, 8), d=st.integers(2, 12),
       steps=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_ceiling_kernel_is_the_two_products_per_step_chunked_or_not(b, blocks, chunk, d, steps, seed):
    k = blocks * chunk
    key1, key2 = jax.random.split(jax.random.PRNGKey(seed))
    mem = jax.random.normal(key1, (k, d)) / d**0.5
    q = jax.random.normal(key2, (b, d))
    x, xi = np.asarray(q, np.float64), np.asarray(mem, np.float64)
    for _ in range(steps):  # the reference: x <- (x Xi^T) Xi in float64
        x = (x @ xi.T) @ xi
    for c in (0, chunk):
        got = throughput.matmul_steps(mem, q, steps=steps, precision="fp32", chunk=c)
        np.testing.assert_allclose(np.asarray(got), x, rtol=1e-3, atol=1e-4 * (1 + np.abs(x).max()))


@pytest.mark.parametrize("k,d", [(5, 12), (40, 7)])  # K < D: orthonormal rows; K >= D: columns
def test_ceiling_memories_make_the_loop_a_projection(k, d):
    seed = int(np.random.default_rng().integers(2**16))
    basis = throughput.orthonormal_memories(jax.random.PRNGKey(seed), k, d)
    assert basis.shape == (k, d)
    gram = basis.T @ basis if k >= d else basis @ basis.T
    np.testing.assert_allclose(np.asarray(gram), np.eye(min(k, d)), atol=1e-5)
    q = jax.random.normal(jax.random.PRNGKey(seed + 1), (3, d))
    once = np.asarray(throughput.matmul_steps(basis, q, steps=1))
    np.testing.assert_allclose(np.asarray(throughput.matmul_steps(basis, q, steps=100)), once, atol=1e-3)
    bf16 = np.asarray(throughput.matmul_steps(basis, q, steps=100, precision="bf16"))
    ratio = np.linalg.norm(bf16) / np.linalg.norm(once)  # bf16 rounding drifts slowly, never to inf or 0
    assert np.isfinite(bf16).all() and 0.5 < ratio < 2


def test_throughput_cell_reports_the_ceiling_it_measured():
    from ambench.sweep import load_experiment, resolve_cell

    cell = resolve_cell("throughput", "dam-softmax", "random", 0,
                        {"dim": 32, "n_memories": 256, "batch": 16, "n_steps": 3, "repeats": 2, "reference": False})
    out = load_experiment("throughput").run(cell)
    flops = 4.0 * 16 * 256 * 32 * 3
    assert out["matmul_tflops"] == pytest.approx(flops / (out["ceiling_ms_per_step"] * 3e-3) / 1e12)
    assert out["ceiling_fraction"] == pytest.approx(out["tflops"] / out["matmul_tflops"])


def test_krotov_hopfield_law_has_their_prefactor():
    # Krotov & Hopfield 2016 (../shared/PROTOCOLS.md): N = 100 gives 11, 360 and 7,240 for n = 2, 3, 4
    got = [float(report.krotov_hopfield_capacity(100, n)) for n in (2, 3, 4)]
    assert [round(g, -1) if g > 100 else round(g) for g in got] == [11, 360, 7240]
    assert [report.double_factorial(m) for m in (-1, 0, 1, 3, 5, 6)] == [1, 1, 1, 3, 15, 48]


def _distinct_colours(names):
    got = [_style.model_colour(n, known=names) for n in names]
    assert len(set(got)) == len(got), "two models share a colour"
    for name, colour in zip(names, got):  # the map's colours (uhn's black included) stay the map's
        assert name in _style.MODEL_COLOURS or colour not in _style.MODEL_COLOURS.values()
    return got


def test_one_colour_per_registered_model_by_the_map_then_the_rule():
    from ambench.models import MODELS

    names = sorted(MODELS)
    got = _distinct_colours(names)
    assert all(_style.model_colour(n) == c for n, c in zip(names, got))  # `known` defaults to the registry
    assert {_style.model_colour(n) for n in _style.MODEL_COLOURS} <= set(_style.PALETTE) | set(_style.MORE_COLOURS)
    assert set(_style.colours(range(8)).values()) == set(_style.PALETTE)


@pytest.mark.parametrize("extra", [1, 2, 9, 10, 40])
def test_any_number_of_new_models_get_distinct_colours_never_black(extra):
    """A ninth, tenth ... model (a plugin's) takes the next colour of the rule: distinct from
    every other model's and from the map's (never the black of uhn), stable whatever subset a
    figure draws."""
    from ambench.models import MODELS

    names = sorted([*MODELS, *(f"lab-model-{i:02d}" for i in range(extra))])
    got = dict(zip(names, _distinct_colours(names)))
    assert all(got[n] != "#000000" for n in names if n != "uhn")
    assert all(_style.model_colour(n, known=names) == got[n] for n in reversed(names))


@settings(max_examples=25, deadline=None)
@given(values=st.lists(st.floats(0, 1), min_size=2, max_size=12), groups=st.integers(1, 3))
def test_bands_are_the_t_interval_clipped_to_the_rate_range(values, groups):
    df = pd.DataFrame({"g": [i % groups for i in range(len(values))], "success_rate": values,
                       "seed": range(len(values))})
    s = _style.stats(df, ["g"], "success_rate")
    for row in s.itertuples():
        v = df[df.g == row.g].success_rate
        half = float(t_halfwidth(v.std(ddof=1), len(v))) if len(v) > 1 else 0.0
        assert row.mean == pytest.approx(v.mean())
        assert row.lo == pytest.approx(max(v.mean() - half, 0.0)) and row.hi == pytest.approx(min(v.mean() + half, 1.0))
        assert 0.0 <= row.lo <= row.mean + 1e-12 <= row.hi + 2e-12 <= 1.0 + 2e-12


def test_log_ticks_are_plain_numbers_at_the_given_values():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([256, 16384], [1, 2])
    _style.log_ticks(ax, [256, 1024, 4096, 16384])
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["256", "1024", "4096", "16,384"]
    assert ax.xaxis.get_minor_ticks() == [] or all(not t.label1.get_text() for t in ax.xaxis.get_minor_ticks())
    plt.close(fig)


def _noise_rows(rng):
    rows = []
    for model in ("chn", "dam-softmax"):
        for kind, levels in (("gaussian", (0.1, 0.5, 1.0)), ("mask_rows", (0.2, 0.5, 0.8))):
            for level in levels:
                for seed in range(3):
                    rows.append({"model": model, "noise_kind": kind, "noise_level": level, "seed": seed,
                                 "nearest_rate": float(rng.choice([0.0, 1.0, rng.uniform()])),
                                 "n_memories": 20, "n_queries": 20})
    return pd.DataFrame(rows)


def test_f5_draws_every_model_in_its_colour_with_bands_inside_0_1():
    _style.style()
    df = _noise_rows(np.random.default_rng(0))
    fig, table, _ = figures.FIGURES["F5"].plot(df)
    assert (table.lo >= 0).all() and (table.hi <= 1).all()
    names = [t.get_text() for t in fig.legends[0].get_texts()]
    assert names == ["chn", "dam-softmax"]
    lines = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_label() in names]
    assert {ln.get_color() for ln in lines if ln.get_label() == "chn"} == {_style.model_colour("chn")}
    assert [ax.get_xlabel() for ax in fig.axes] == ["Gaussian noise σ", "masked bottom rows (fraction)"]


def test_f6_energy_panel_has_a_legend_and_models_are_told_apart():
    _style.style()
    rows = [{"model": m, "load": k / 50, "dim": 50, "n_memories": k, "noise_level": 0.1, "seed": s,
             "steps": 1.0, "energy_monotone_rate": 1.0, "converged_rate": 1.0,
             "energy_trace": [-1.0, -3.0, -3.5][: 2 + s % 2]}
            for m in ("dam", "dam-softmax") for k in (5, 10, 20) for s in range(3)]
    fig, table, _ = figures.FIGURES["F6"].plot(pd.DataFrame(rows))
    steps_ax, energy_ax = fig.axes
    assert energy_ax.get_legend() is not None and len(energy_ax.get_legend().get_texts()) == 4
    dam, soft = (ln for ln in steps_ax.get_lines() if ln.get_label() in ("dam", "dam-softmax"))
    assert dam.get_marker() != soft.get_marker() and dam.get_linestyle() != soft.get_linestyle()
    assert not np.allclose(dam.get_xdata(), soft.get_xdata())  # dodged
    assert (table.lo >= 0).all()


def test_f7_labels_its_ceiling_and_states_it():
    _style.style()
    rows = [{"precision": p, "n_memories": k, "seed": s, "tflops": 0.05 + 0.01 * s, "matmul_tflops": 0.1,
             "ceiling_fraction": (0.05 + 0.01 * s) / 0.1, "device": "cpu:cpu", "batch": 8, "dim": 16,
             "n_steps": 2, "repeats": 3, "queries_steps_per_s": 1.0}
            for p in ("fp32", "bf16") for k in (256, 1024, 4096) for s in range(3)]
    fig, table, note = figures.FIGURES["F7"].plot(pd.DataFrame(rows))
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "fp32 ceiling" in legend and "bf16 ceiling" in legend
    assert "softmax taken out" in note
    fig.canvas.draw()
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["256", "1024", "4096"]
