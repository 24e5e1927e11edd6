"""The `ambench` command: a thin layer over functions a notebook can call.

Bad input ends in one line on stderr naming the fix and exit status 2, before anything runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console()
if not console.is_terminal:  # logs and CI: wide enough that tables are not cut
    console = Console(width=200)
err_console = Console(stderr=True)

SHOWN_METRICS = ("success_rate", "nearest_rate", "threshold_rate", "wrong_bits", "capacity", "steps",
                 "energy_monotone_rate", "queries_steps_per_s", "tflops", "ceiling_fraction", "ratio_to_reference",
                 "accuracy")


class UserError(Exception):
    pass


def _print_rows(rows: list[dict], varying: list[str], title: str) -> None:
    table = Table(title=title)
    metric_cols = [m for m in SHOWN_METRICS if any(m in r for r in rows)]
    cols = ["model", "dataset", "seed", *varying, *metric_cols]
    for c in cols:
        table.add_column(c, justify="right" if c not in ("model", "dataset") else "left")
    for r in rows:
        table.add_row(*(f"{r[c]:.4g}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in cols))
    console.print(table)


def run_grid(experiment: str, models: list[str], datasets: list[str], seeds: list[int], sets: dict[str, list],
             out: Path, *, force: bool = False, quiet: bool = False) -> list[dict]:
    """Expand, skip stored cells, run the rest inline with a progress bar, consolidate."""
    from rich.progress import Progress

    from .report import consolidate
    from .sweep import Store, cell_key, expand, run_cell

    cells = expand(experiment, models, datasets, seeds, sets)
    store = Store(out)
    store.check_writable()
    rows = []
    with Progress(console=err_console, transient=True, disable=quiet) as bar:
        task = bar.add_task(f"{experiment}", total=len(cells))
        for cell in cells:
            key = cell_key(cell)
            if store.has(key) and not force:
                rows.append(store.rows_by_key([key])[0])
            else:
                bar.update(task, description=f"{experiment} {cell['model']} {cell['dataset']} seed={cell['seed']}")
                rows.append(run_cell(cell, store, progress=lambda m: bar.update(task, description=m)))
            bar.advance(task)
    consolidate(out)
    return rows


def cmd_run(args) -> int:
    from .sweep import parse_sets

    sets = parse_sets(args.set)
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        raise UserError(f"--seeds takes comma-separated integers (e.g. --seeds 0,1,2), got {args.seeds!r}") from None
    rows = run_grid(args.experiment, args.model.split(","), args.dataset.split(","), seeds, sets, Path(args.out),
                    force=args.force)
    varying = [k for k, v in sets.items()]
    _print_rows(rows, varying, f"{args.experiment} -> {args.out}")
    return 0


def cmd_models(args) -> int:
    from .models import MODELS

    table = Table(title="models")
    for c in ("name", "family", "patterns", "parameters (defaults)", "what"):
        table.add_column(c)
    for s in MODELS.values():
        params = ", ".join(f"{k}={v}" for k, v in s.params.items())
        table.add_row(s.name, s.family, "±1" if s.binary else "any", params, s.description)
    console.print(table)
    return 0


def cmd_datasets(args) -> int:
    from .data import CORRUPTIONS, DATASETS
    from .protocol import DATASET_PARAMS

    table = Table(title="datasets")
    table.add_column("name")
    table.add_column("source")
    for k, v in DATASETS.items():
        table.add_row(k, v)
    console.print(table)
    console.print("dataset parameters: " + ", ".join(f"{k}={v!r}" for k, v in DATASET_PARAMS.items()))
    console.print("corruptions (noise_kind): " + "; ".join(f"{k}: {v}" for k, v in CORRUPTIONS.items()))
    return 0


def cmd_experiments(args) -> int:
    from .sweep import experiment_names, load_experiment

    table = Table(title="experiments")
    for c in ("name", "parameters (defaults)", "what"):
        table.add_column(c)
    for name in experiment_names():
        mod = load_experiment(name)
        table.add_row(name, ", ".join(f"{k}={v}" for k, v in mod.PARAMS.items()), mod.DESCRIPTION)
    console.print(table)
    return 0


def cmd_demo(args) -> int:
    from .demo import demo

    demo(Path(args.out))
    return 0


def cmd_bench(args) -> int:
    from .bench import main as bench_main

    return bench_main(quick=args.quick, gate=args.gate, json_out=args.json)


def cmd_sweep(args) -> int:
    from .sweep.driver import sweep_command

    return sweep_command(args)


def cmd_status(args) -> int:
    from .sweep.driver import status_command

    return status_command(Path(args.results))


def cmd_figures(args) -> int:
    from .report.figures import figures_command

    return figures_command(only=args.only, results=Path(args.results), out=Path(args.out),
                           rerun_smoke=args.rerun_smoke)


def cmd_report(args) -> int:
    from .report import write_report

    paths = write_report(Path(args.results), Path(args.out) if args.out else None)
    for p in paths:
        console.print(f"wrote {p}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ambench", description="benchmarks for associative memories")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run one cell or a small grid and store it")
    r.add_argument("experiment")
    r.add_argument("--model", required=True, help="model name(s), comma-separated; see `ambench models`")
    r.add_argument("--dataset", required=True, help="dataset name(s), comma-separated; see `ambench datasets`")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE[,VALUE...]",
                   help="a parameter; a comma list makes a grid")
    r.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    r.add_argument("--out", default="results/adhoc", help="results folder (default results/adhoc)")
    r.add_argument("--force", action="store_true", help="re-run cells already stored")
    r.set_defaults(func=cmd_run)

    s = sub.add_parser("sweep", help="run a sweep file; safe to re-issue after any failure")
    s.add_argument("file")
    s.add_argument("--smoke", action="store_true", help="apply the file's smoke overrides")
    s.add_argument("--executor", choices=["inline", "local", "slurm"], default=None)
    s.add_argument("--profile", default=None, help="SLURM profile YAML (slurm/NAME.yaml)")
    s.add_argument("--dry-run", action="store_true", help="count cells and jobs; run nothing")
    s.add_argument("--force", action="store_true", help="re-run stored cells")
    s.add_argument("--wandb", choices=["online", "offline", "disabled"], default=None,
                   help="W&B mode (default: the file's, or WANDB_MODE, or disabled)")
    s.add_argument("--out", default=None, help="override the results folder")
    s.add_argument("--on-interrupt", choices=["ask", "cancel", "leave"], default="ask",
                   help="what Ctrl-C does to submitted SLURM jobs")
    s.add_argument("--no-wait", action="store_true", help="submit to SLURM and return")
    s.add_argument("--max-cells", type=int, default=None, help="refuse sweeps larger than N cells (default 100000)")
    s.set_defaults(func=cmd_sweep)

    st = sub.add_parser("status", help="done / running / failed / missing per sweep")
    st.add_argument("results")
    st.set_defaults(func=cmd_status)

    rp = sub.add_parser("report", help="aggregate over seeds: markdown, CSV and HTML")
    rp.add_argument("results")
    rp.add_argument("--out", default=None)
    rp.set_defaults(func=cmd_report)

    f = sub.add_parser("figures", help="redraw the registered paper figures from stored results")
    f.add_argument("--only", default=None, help="comma-separated figure names (F1..F8)")
    f.add_argument("--results", default="results", help="folder holding <sweep>/ and smoke/<sweep>/ results")
    f.add_argument("--out", default="results/figures")
    f.add_argument("--rerun-smoke", action="store_true", help="first re-run the figures' smoke sweeps")
    f.set_defaults(func=cmd_figures)

    b = sub.add_parser("bench", help="micro-benchmarks")
    b.add_argument("--quick", action="store_true")
    b.add_argument("--gate", default=None, help="baseline JSON: fail on a counter or ratio regression")
    b.add_argument("--json", default=None, help="write the measurements here")
    b.set_defaults(func=cmd_bench)

    d = sub.add_parser("demo", help="the main job: CHN vs DAM vs HAM, capacity and noise")
    d.add_argument("--out", default="results/demo")
    d.set_defaults(func=cmd_demo)

    for name, fn in (("models", cmd_models), ("datasets", cmd_datasets), ("experiments", cmd_experiments)):
        sub.add_parser(name, help=f"list {name} and their parameters").set_defaults(func=fn)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.func is not cmd_bench:  # benchmarks time cold compilation; everything else reuses it
        from .compile_cache import enable

        enable()
    from .data import DataUnavailable
    from .sweep import ConfigError

    try:
        return args.func(args)
    except (ConfigError, DataUnavailable, PermissionError, UserError, ValueError, FileNotFoundError) as err:
        err_console.print(f"error: {err}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted: finished cells are stored; re-issue the same command to continue")
        return 130


if __name__ == "__main__":
    sys.exit(main())
