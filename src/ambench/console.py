"""Tables for the terminal (rich): what `ambench run` and the demo print."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ._facts import IDENTITY, is_provenance

console = Console()
if not console.is_terminal:  # logs and CI: wide enough that tables are not cut
    console = Console(width=200)
err_console = Console(stderr=True)



def shown_metrics(rows: list[dict], experiment: str) -> list[str]:
    """The experiment's main metric first, then what it lists in `shown_metrics` (default: every
    scalar metric it returned), so a new experiment's metrics print with no whitelist here."""
    from .sweep import EXPERIMENTS, cell_from_row

    spec, first = EXPERIMENTS[experiment], rows[0]
    params = set(cell_from_row(first))
    scalar = [k for k, v in first.items() if k not in params and k not in IDENTITY and not is_provenance(k)
              and isinstance(v, (int, float))]
    declared = spec.shown_metrics
    names = [spec.main_metric, *(declared if declared is not None else scalar)]
    return [m for m in dict.fromkeys(names) if any(m in r for r in rows)]


def print_rows(rows: list[dict], varying: list[str], title: str, *, stored: list[bool] | None = None) -> None:
    """One line per cell: identity, the parameters that vary, the experiment's metrics, and
    whether the row was read from the store rather than computed now."""
    if not rows:
        console.print(f"{title}: no cells")
        return
    table = Table(title=title)
    metric_cols = shown_metrics(rows, rows[0]["experiment"])
    cols = ["model", "dataset", "seed", *[v for v in varying if v not in ("model", "dataset", "seed")], *metric_cols]
    for c in cols:
        table.add_column(c, justify="left" if c in ("model", "dataset") else "right", min_width=min(len(c), 22))
    if stored is not None:
        table.add_column("from", justify="left")
    def value(r, c):  # `model.beta` names the column of `beta`: parameter names are unique in a cell
        kind, _, name = c.partition(".")
        v = r.get(name if name and kind in ("experiment", "model", "data") else c, "")
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    for i, r in enumerate(rows):
        cells = [value(r, c) for c in cols]
        table.add_row(*cells, *(["store" if stored[i] else "run"] if stored is not None else []))
    console.print(table)
