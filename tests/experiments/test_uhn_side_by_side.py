"""bench/uhn_side_by_side.py asks ambench for exactly the settings it gives the authors' code, and
its agreement rule separates a real disagreement from noise."""

import importlib.util
from pathlib import Path

import pytest

from ambench.sweep._spec import load_sweep

ROOT = Path(__file__).resolve().parents[2]


def _driver():
    spec = importlib.util.spec_from_file_location("uhn_side_by_side", ROOT / "bench" / "uhn_side_by_side.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("extra", [[], ["--ks", "2,100", "--noise-k", "100", "--sigmas", "0.1,0.5"],
                                   ["--ks", "5", "--noise-k", "20", "--sigmas", "0.5"]])
def test_sweep_cells_are_the_reference_settings(tmp_path, extra):
    d = _driver()
    args = d.argparse.Namespace(**{"seeds": [0, 3], "similarities": ["dot", "manhattan"], "separations": ["max", "log"],
                                   "ks": d.KS, "sigmas": d.SIGMAS, "noise_k": 100, "threshold": 60.0})
    for flag, value in zip(extra[::2], extra[1::2]):
        name = flag[2:].replace("-", "_")
        setattr(args, name, int(value) if name == "noise_k" else d._csv(float if name == "sigmas" else int)(value))
    (tmp_path / "s.yaml").write_text(d.sweep_yaml(args))
    cells = load_sweep(tmp_path / "s.yaml").cells
    got = sorted((c["similarity"], c["separation"], c["n_memories"], c["noise_kind"], round(c["noise_level"], 6),
                  c["seed"]) for c in cells)
    want = sorted(d.key(s) for s in d.settings(args))
    assert got == want
    assert all(c["criterion"] == "threshold" and c["threshold"] == 60.0 and c["n_queries"] >= c["n_memories"]
               for c in cells)


def test_agreement_rule():
    d = _driver()
    base = {"similarity": "dot", "separation": "max", "n_memories": 100, "noise_level": 0.5, "seed": 0}
    ref = [base | {"noise_kind": "mask_rows", "rate": 0.75}, base | {"noise_kind": "gaussian-abs", "rate": 0.5}]
    same = [r | {"scored": 100} for r in ref]
    assert d.agreement(ref, same) | {"deterministic_differing": []} == {
        "deterministic": 1, "deterministic_identical": 1, "noisy": 1, "noisy_within_2se": 1, "deterministic_differing": []}
    off = [same[0] | {"rate": 0.76}, same[1] | {"rate": 0.5 + 2.1 * (2 * 0.25 / 100) ** 0.5}]
    res = d.agreement(ref, off)
    assert (res["deterministic_identical"], res["noisy_within_2se"]) == (0, 0)
    with pytest.raises(RuntimeError, match="scored"):
        d.agreement(ref, [same[0] | {"scored": 64}, same[1]])
