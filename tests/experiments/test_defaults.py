"""Physics at the defaults: every registered model, at its declared defaults, on random patterns
and on mnist-5k with every corruption, never raises its energy (the README's claim, checked)."""

import pytest

from ambench.data import CORRUPTIONS
from ambench.models import MODELS
from ambench.protocol import measure_retrieval
from ambench.sweep import resolve_cell

LEVEL = {"none": 0.0, "flip": 0.2, "gaussian": 0.3, "gaussian-abs": 0.3}


def _cells(model):
    spec = MODELS[model]
    for dataset in ("random", "mnist-5k"):
        if dataset == "random" and model == "energy-transformer":
            continue  # trained on 28x28 images: random patterns are refused before any cell runs
        for kind in CORRUPTIONS:
            if kind == "flip" and not (spec.binary or dataset == "random"):
                continue  # flips are for ±1 data
            params = {"n_memories": 30, "n_queries": 10, "noise_kind": kind, "noise_level": LEVEL.get(kind, 0.5)}
            if dataset == "random":
                params["dim"] = 64
                if kind.startswith("gaussian") and not spec.binary:
                    params["encoding"] = "gaussian"
            yield resolve_cell("noise", model, dataset, 0, params)


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_descends_its_energy_at_its_defaults(model):
    for cell in _cells(model):
        out = measure_retrieval(cell)
        where = f"{model} on {cell['dataset']} with {cell['noise_kind']}"
        assert out["diverged_rate"] == 0, where
        # None: a single-shot model (uhn) defines no energy; every other model must descend it
        assert out["energy_monotone_rate"] in (1.0, None), (where, out["energy_monotone_rate"])
        assert (out["energy_monotone_rate"] is None) == (model == "uhn"), where


@pytest.mark.parametrize("model", [pytest.param(m, marks=pytest.mark.slow) if m == "energy-transformer" else m
                                   for m in sorted(MODELS)])  # its first use trains it (minutes)
@pytest.mark.slow
def test_every_model_retrieves_an_uncorrupted_stored_pattern(model):
    """With no corruption and a light load every model returns the pattern it started from (a model with no
    energy trace, such as uhn, is not counted as diverged for it)."""
    dataset = "mnist-5k" if model == "energy-transformer" else "random"
    cell = next(c for c in _cells(model) if c["noise_kind"] == "none" and c["dataset"] == dataset)
    cell = cell.replace(n_memories=5, **({"separation": "max"} if model == "uhn" else {}))  # K/N < 0.138
    out = measure_retrieval(cell)
    assert out["diverged_rate"] == 0 and out["nearest_rate"] == 1.0, (model, out)
