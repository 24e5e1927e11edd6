"""Long-format tables from a results folder, and their aggregate over seeds (pandas lives here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..sweep import Store

IDENTITY = ["experiment", "model", "dataset", "seed", "cell_key"]
PROVENANCE = ["ambench_version", "git_commit", "jax_version", "device", "wall_s", "experiment_code", "code_experiment",
              "code_model", "code_data"]


def consolidate(root: str | Path) -> pd.DataFrame | None:
    """Rebuild <root>/results.parquet from the valid cell files (`Store.consolidate`, safe
    against concurrent rebuilds) and return it as a DataFrame, or None with no rows."""
    if not Store(root).consolidate():
        return None
    return pd.read_parquet(Path(root) / "results.parquet")


def load_results(root: str | Path) -> pd.DataFrame:
    """Every stored row under `root` (a results folder or a folder of them)."""
    root = Path(root)
    frames = [pd.DataFrame(Store(p.parent).rows()) for p in sorted(root.glob("**/cells")) if p.is_dir()]
    frames = [f for f in frames if len(f)]
    if not frames:
        raise FileNotFoundError(f"no stored results under {root}; run `ambench run` or `ambench sweep` first")
    return pd.concat(frames, ignore_index=True).drop_duplicates("cell_key", keep="last")


def metric_columns(df: pd.DataFrame) -> list[str]:
    known = set(IDENTITY) | set(PROVENANCE)
    return [c for c in df.columns if c not in known and pd.api.types.is_numeric_dtype(df[c])
            and not pd.api.types.is_bool_dtype(df[c]) and c not in config_columns(df)]


def config_columns(df: pd.DataFrame) -> list[str]:
    from ..sweep import parameter_names

    params = parameter_names()
    return [c for c in df.columns if c in params]


def aggregate(df: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation, 95% interval half-width (normal approx.) and count over seeds."""
    keys = ["experiment", "model", "dataset"] + [c for c in config_columns(df) if df[c].nunique(dropna=False) > 1]
    metrics = metric_columns(df)
    grouped = df.groupby(keys, dropna=False)[metrics]
    mean, std, count = grouped.mean(), grouped.std(ddof=1), grouped.count()
    ci95 = 1.96 * std / np.sqrt(count.clip(lower=1))
    out = pd.concat({"mean": mean, "std": std, "ci95": ci95, "n": count}, axis=1)
    out.columns = [f"{m}_{stat}" for stat, m in out.columns]
    ordered = [f"{m}_{s}" for m in metrics for s in ("mean", "std", "ci95", "n")]
    return out[ordered].reset_index()
