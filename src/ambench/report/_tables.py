"""Long-format tables from a results folder, and their aggregate over seeds (pandas lives here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._facts import IDENTITY, is_provenance as is_provenance
from ..sweep import Store


def consolidate(root: str | Path) -> pd.DataFrame | None:
    """Rebuild <root>/results.parquet from the valid cell files (`Store.consolidate`, safe
    against concurrent rebuilds) and return it as a DataFrame, or None with no rows."""
    if not Store(root).consolidate():
        return None
    return pd.read_parquet(Path(root) / "results.parquet")


KINDS = ("experiment", "model", "data")


def _spaced(row: dict) -> dict:
    """A row in format 2; a format-1 row of components no longer here is kept as it is."""
    from ..sweep._cells import namespaced_row

    try:
        return namespaced_row(row, check=False)
    except Exception:  # noqa: BLE001 - an unknown component: the flat row still reports
        return row


def load_results(root: str | Path) -> pd.DataFrame:
    """Every stored row under `root` (a results folder or a folder of them), in one shape:
    `experiment, model, dataset, seed, cell_key`, then each component's parameters as
    `<kind>.<name>` columns (`experiment.n_memories`, `model.beta`, `data.noise_level`; missing
    where the parameter takes no part in that row's configuration, e.g. `model.beta` of chn or
    of dam with the power interaction), then metrics, `code_<kind>` and provenance. Rows stored
    in the older flat format are read into this shape. `flat_view` gives one column per name."""
    root = Path(root)
    from ..sweep._store import result_folders

    frames = [pd.DataFrame([_spaced(r) for r in Store(p).rows()]) for p in result_folders(root)]
    frames = [f for f in frames if len(f)]
    if not frames:
        raise FileNotFoundError(f"no stored results under {root}; run `ambench run` or `ambench sweep` first")
    df = pd.concat(frames, ignore_index=True).drop_duplicates("cell_key", keep="last")
    first = [c for c in IDENTITY if c in df]
    params = sorted((c for c in df.columns if _kind_of(c)), key=lambda c: (KINDS.index(_kind_of(c)), c))
    return df[first + params + [c for c in df.columns if c not in first and c not in params]].reset_index(drop=True)


def _kind_of(column) -> str | None:
    head = column.split(".", 1)[0] if isinstance(column, str) and "." in column else None
    return head if head in KINDS else None


def flat_view(df: pd.DataFrame) -> pd.DataFrame:
    """The same rows with `<kind>.<name>` columns renamed to `name` (`model.beta` -> `beta`),
    the shape the paper-figure code and quick pandas one-liners read. Names are unique within a
    cell; two kinds' columns of one name are merged when no row has both, else both stay namespaced."""
    by_name: dict[str, list[str]] = {}
    for c in df.columns:
        if _kind_of(c):
            by_name.setdefault(c.split(".", 1)[1], []).append(c)
    out = df.copy()
    for name, cols in by_name.items():
        sources = cols + ([name] if name in df.columns else [])
        if len(sources) > 1 and (df[sources].notna().sum(axis=1) > 1).any():
            continue  # the same name means different things in one row: keep the namespaced columns
        merged = df[sources[0]]
        for other in sources[1:]:
            merged = merged.combine_first(df[other])
        out = out.drop(columns=cols)
        out[name] = merged
    order = [c if c in out.columns else c.split(".", 1)[1] for c in df.columns]
    return out[list(dict.fromkeys(o for o in order if o in out.columns))]



def _registry_params() -> set[str]:
    """Parameter names the model, dataset and experiment components declare."""
    from ..sweep import parameter_names

    return parameter_names()


def _scalar(col: pd.Series) -> bool:
    return not col.map(lambda v: isinstance(v, (list, tuple, dict, np.ndarray))).any()


def config_columns(df: pd.DataFrame) -> list[str]:
    """Configuration parameters: the registries' parameter names first; a column they do not
    know is a parameter too when it holds strings or booleans (metrics are numbers), so an
    unknown setting still separates configurations. Identity and provenance (code_*) never are."""
    params = _registry_params()
    out = []
    for c in df.columns:
        if c in IDENTITY or is_provenance(c):
            continue
        if c in params or _kind_of(c) or (not pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])) and _scalar(df[c]):
            out.append(c)
    return out


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Numeric, non-boolean columns that are neither identity, provenance nor configuration."""
    config = set(config_columns(df))
    return [c for c in df.columns if c not in IDENTITY and not is_provenance(c) and c not in config
            and pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]


def t_halfwidth(std, n, *, level: float = 0.95):
    """Half-width of the Student-t interval for a mean over n seeds: t_{(1+level)/2, n-1}·sd/√n.
    With 2–5 seeds the normal 1.96 is far too narrow (t = 12.7 at n = 2); n < 2 gives NaN."""
    from scipy import stats

    std, n = np.asarray(std, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(n >= 2, stats.t.ppf((1 + level) / 2, np.maximum(n - 1, 1)), np.nan)
        return t * std / np.sqrt(n)


def aggregate(df: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation, 95% Student-t interval half-width and count over seeds, per
    configuration (experiment, model, dataset and every parameter that varies)."""
    config = config_columns(df)
    keys = ["experiment", "model", "dataset"] + [c for c in config if df[c].nunique(dropna=False) > 1]
    metrics = metric_columns(df)
    grouped = df.groupby(keys, dropna=False)[metrics]
    mean, std, count = grouped.mean(), grouped.std(ddof=1), grouped.count()
    ci95 = pd.DataFrame(t_halfwidth(std, count), index=std.index, columns=std.columns)
    out = pd.concat({"mean": mean, "std": std, "ci95": ci95, "n": count}, axis=1)
    out.columns = [f"{m}_{stat}" for stat, m in out.columns]
    ordered = [f"{m}_{s}" for m in metrics for s in ("mean", "std", "ci95", "n")]
    return out[ordered].reset_index()
