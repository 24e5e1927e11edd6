"""Tables for the terminal (rich): what `ambench run`, `status` and the demo print. The sweep
package computes, this module shows (it imports `sweep`, never the reverse)."""

from __future__ import annotations

from pathlib import Path

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
              and k.split(".", 1)[0] not in ("experiment", "model", "data")
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

    def value(r, c):  # stored rows hold `<kind>.<name>`; a column may be `beta`, `model.beta` or `dam-softmax.beta`
        head, _, name = c.partition(".")
        if name and head not in ("experiment", "model", "data"):  # one model's (or dataset's) parameter
            if head not in (r.get("model"), r.get("dataset")):
                return ""
            c = name
        elif name:
            c = name
        v = next((r[k] for k in (c, f"experiment.{c}", f"model.{c}", f"data.{c}") if k in r), "")
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    cells = [[value(r, c) for c in cols] for r in rows]
    widths = [max(len(c), *(len(line[j]) for line in cells)) + 3 for j, c in enumerate(cols)]
    room = console.width - 1 - (8 if stored is not None else 0)
    keep = len(cols)  # whole columns, never a clipped name: past the terminal's width the last metrics go
    while keep > len(cols) - len(metric_cols) + 1 and sum(widths[:keep]) > room:
        keep -= 1
    for j, c in enumerate(cols[:keep]):
        table.add_column(c, justify="left" if c in ("model", "dataset") else "right", no_wrap=True,
                         min_width=widths[j] - 3)
    if stored is not None:
        table.add_column("from", justify="left", no_wrap=True)
    for i, line in enumerate(cells):
        table.add_row(*line[:keep], *(["store" if stored[i] else "run"] if stored is not None else []))
    console.print(table)
    if keep < len(cols):
        console.print(f"not shown for width ({console.width} columns): {', '.join(cols[keep:])}; "
                      "every metric is in the stored rows (`ambench report`)", soft_wrap=True)


def print_status(root: Path) -> int:
    """`ambench status`: the table of `sweep_status(root)` and a line per thing to act on."""
    from .sweep._status import sweep_status

    rows = sweep_status(root)
    table = Table(title=f"status of {root}")
    cols = ("results", "sweep", "cells", "done", "outdated", "running", "stale", "failed", "missing", "quarantined",
            "jobs_in_queue")
    for c in cols:
        table.add_column(c.replace("_", " "), justify="left" if c in ("results", "sweep") else "right")
    for r in rows:
        table.add_row(*("-" if r[c] is None else str(r[c]) for c in cols))
    console.print(table)
    if any(r["jobs_in_queue"] is None for r in rows):
        print("jobs in queue: - where SLURM's squeue gave no answer (not installed here, or not responding); "
              "the other counts come from the results folder alone")
    for r in rows:
        if r["outdated"]:
            print(f"{r['sweep']}: {r['outdated']} of {r['done']} done cells were computed by code that has changed "
                  f"since (column outdated); `ambench sweep FILE --rerun-outdated` re-runs exactly those")
        for key, error in list(r["failures"].items())[:5]:
            print(f"failed {r['sweep']}/{key}: {error.splitlines()[0] if error else '?'}")
        if r["quarantined"]:
            print(f"{r['results']}: {r['quarantined']} invalid cell file(s) in quarantine/ (reasons in *.reason.txt); "
                  "re-issue the sweep to run those cells again")
        if r["stale"]:
            print(f"{r['results']}: {r['stale']} cell(s) started by a process or job that is gone; "
                  "re-issue the sweep to run them")
    return 0
