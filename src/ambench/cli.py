"""The `ambench` command: a thin layer over functions a notebook can call.

Bad input ends in one line on stderr naming the fix and exit status 2, before anything runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.table import Table

from .console import console, err_console, print_rows


class UserError(Exception):
    pass


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise UserError(f"--seeds takes comma-separated integers (e.g. --seeds 0,1,2), got {text!r}") from None
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds {text}: a seed is repeated; each seed is one cell")
    return seeds


def parse_names(text: str, what: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not all(names) or len(set(names)) != len(names):
        raise UserError(f"--{what} {text!r}: give distinct comma-separated names")
    return names


def cmd_run(args) -> int:
    from .sweep import parse_sets, run_grid

    if not args.out:
        raise UserError("--out is empty: give a results folder (default results/adhoc)")
    from .sweep._safety import confine_results

    confine_results("--out", args.out)  # the sweep's rule: a relative path stays under the current folder
    sets = parse_sets(args.set)
    wandb = {"mode": args.wandb, "project": "ambench", "group": "run", "dir": args.out} if args.wandb else None
    rows, stored = run_grid(args.experiment, parse_names(args.model, "model"), parse_names(args.dataset, "dataset"),
                            parse_seeds(args.seeds), sets, Path(args.out), force=args.force, wandb_settings=wandb)
    print_rows(rows, [k for k, v in sets.items() if len(v) > 1], f"{args.experiment} -> {args.out}", stored=stored)
    return 0


def _params_table(title: str, components) -> Table:
    """One row per component and parameter, from the components' declarations."""
    from .params import param_rows

    table = Table(title=title)
    for c in ("name", "what", "parameter", "type", "default", "meaning"):
        table.add_column(c, overflow="fold")
    for comp in components:
        rows = param_rows(comp) or [("", "", "", "")]
        for i, (name, kind, default, doc) in enumerate(rows):
            table.add_row(comp.name if i == 0 else "", comp.doc if i == 0 else "", name, kind, default, doc)
        table.add_section()
    return table


def _listing(kind: str):
    from .data import DATASETS
    from .models import MODELS
    from .sweep import EXPERIMENTS

    return {"models": MODELS, "datasets": DATASETS, "experiments": EXPERIMENTS}[kind]


def markdown_tables() -> str:
    """The component tables of the documentation (docs/hooks.py), from the components' declarations."""
    from .params import param_rows

    out = []
    for kind in ("models", "datasets", "experiments"):
        out += [f"**{kind}**", "", "| name | what | parameter | type | default | meaning |", "|---|---|---|---|---|---|"]
        for comp in sorted(_listing(kind).values(), key=lambda c: c.name):
            rows = param_rows(comp) or [("", "", "", "")]
            for i, (name, typ, default, doc) in enumerate(rows):
                cells = [f"`{comp.name}`" if i == 0 else "", comp.doc if i == 0 else "", f"`{name}`" if name else "",
                         typ, f"`{default}`" if name else "", doc]
                out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        out.append("")
    return "\n".join(out)


def cmd_listing(args) -> int:
    if args.markdown:
        print(markdown_tables())
        return 0
    title = {"models": "models (±1 patterns: chn, chn-continuous, dam)"}.get(args.command, args.command)
    console.print(_params_table(title, _listing(args.command).values()))
    if args.command == "datasets":
        from .data import CORRUPTIONS

        console.print("corruptions (noise_kind): " + "; ".join(f"{k}: {v}" for k, v in CORRUPTIONS.items()))
    return 0


def cmd_demo(args) -> int:
    from .demo import demo

    demo(Path(args.out))
    return 0


def cmd_bench(args) -> int:
    from .bench import main as bench_main

    return bench_main(quick=args.quick, gate=args.gate, json_out=args.json, study=args.study,
                      study_overrides=args.set, smoke=args.smoke)


def cmd_sweep(args) -> int:
    import signal
    import threading

    from .sweep.driver import sweep_command

    def terminated(signum, frame):  # SIGTERM (a cluster's time limit, `kill`) ends a sweep as Ctrl-C does:
        raise KeyboardInterrupt  # the table is rebuilt from the stored cells before it exits

    if threading.current_thread() is not threading.main_thread():
        return sweep_command(args)
    before = signal.signal(signal.SIGTERM, terminated)
    try:
        return sweep_command(args)
    finally:
        signal.signal(signal.SIGTERM, before)


def cmd_migrate(args) -> int:
    from .sweep._migrate import migrate

    return migrate(Path(args.results))


def cmd_status(args) -> int:
    from .console import print_status

    return print_status(Path(args.results))


def cmd_figures(args) -> int:
    from .report.figures import figure_names, figures_command, registered, sweep_path

    if args.rerun_smoke:  # sweep, then figures: the report only reads the store
        from .sweep.driver import run_sweep

        for name in figure_names(args.only):
            fig = registered()[name]
            sweep = fig.sweep
            run_sweep(sweep_path(fig), smoke=True, executor="inline", out=Path(args.results) / "smoke" / sweep,
                      on_interrupt="leave")
    return figures_command(only=args.only, results=Path(args.results), out=Path(args.out))


def cmd_data_prepare(args) -> int:
    from .data._prepare import prepare

    if args.from_file and args.check:
        raise ValueError("--check reads back what is prepared; --from unpacks an archive: give one of them")
    for line in prepare(args.name, data_dir=args.data_dir, download=not args.check, from_file=args.from_file,
                        progress=lambda m: console.print(m, markup=False, highlight=False)):
        console.print(line, markup=False, highlight=False)
    return 0


def cmd_report(args) -> int:
    from .report import write_report
    from .report._pages import choice_from

    section = None
    if args.sweep:
        import yaml

        try:
            section = (yaml.safe_load(Path(args.sweep).read_text()) or {}).get("report")
        except (OSError, yaml.YAMLError) as err:
            raise ValueError(f"--sweep {args.sweep}: {err}; give a readable sweep file") from None
    choice = choice_from(section, x=args.x, y=args.y, hue=args.hue, style=args.style, col=args.col, row=args.row,
                         where=args.where)
    paths = write_report(Path(args.results), Path(args.out) if args.out else None, choice=choice)
    for p in paths:
        console.print(f"wrote {p}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ambench", description="benchmarks for associative memories")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run one cell or a small grid and store it")
    r.add_argument("experiment", help="experiment name; see `ambench experiments`")
    r.add_argument("--model", required=True, help="model name(s), comma-separated; see `ambench models`")
    r.add_argument("--dataset", required=True, help="dataset name(s), comma-separated; see `ambench datasets`")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE[,VALUE...]",
                   help="a parameter of the experiment, model or dataset (`ambench experiments|models|datasets`); "
                        "write model.KEY when a name is ambiguous; a comma list makes a grid")
    r.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    r.add_argument("--out", default="results/adhoc", help="results folder (default results/adhoc)")
    r.add_argument("--force", action="store_true", help="re-run cells already stored")
    r.add_argument("--wandb", choices=["online", "offline", "disabled"], default=None,
                   help="log the invocation to W&B as one run: a table of its cells and the main metric curve")
    r.set_defaults(func=cmd_run)

    s = sub.add_parser("sweep", help="run a sweep file; safe to re-issue after any failure")
    s.add_argument("file", help="a sweep file (YAML), e.g. figures/f1-chn-capacity/sweep.yaml")
    s.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="override the file's values, e.g. seeds=[0,1] grid.n_memories=[10,20] models=[chn]")
    s.add_argument("--smoke", action="store_true", help="apply the file's smoke overrides")
    s.add_argument("--executor", choices=["inline", "local", "slurm"], default=None,
                   help="where cells run: this process, local worker processes, or SLURM jobs "
                        "(default: the file's `executor:`, else inline)")
    s.add_argument("--profile", default=None, help="SLURM profile YAML (slurm/NAME.yaml)")
    s.add_argument("--dry-run", action="store_true", help="count cells and jobs; run nothing")
    s.add_argument("--force", action="store_true", help="re-run stored cells")
    s.add_argument("--rerun-outdated", action="store_true",
                   help="re-run the stored cells computed by code that has changed since (see `ambench status`)")
    s.add_argument("--wandb", choices=["online", "offline", "disabled"], default=None,
                   help="W&B mode (default: the file's, or WANDB_MODE, or disabled)")
    s.add_argument("--out", default=None, help="override the results folder")
    s.add_argument("--on-interrupt", choices=["ask", "cancel", "leave"], default="ask",
                   help="what Ctrl-C does to submitted SLURM jobs")
    s.add_argument("--no-wait", action="store_true", help="submit to SLURM and return")
    s.add_argument("--max-cells", type=int, default=None, help="refuse sweeps larger than N cells (default 100000)")
    s.set_defaults(func=cmd_sweep)

    mg = sub.add_parser("migrate", help="rewrite results folders of ambench 0.1 (flat cells) in the current format")
    mg.add_argument("results", help="a results folder written by ambench 0.1")
    mg.set_defaults(func=cmd_migrate)

    st = sub.add_parser("status", help="done / running / failed / missing per sweep")
    st.add_argument("results", help="a results folder (one sweep's, or a folder of sweeps' folders)")
    st.set_defaults(func=cmd_status)

    rp = sub.add_parser("report", help="aggregate over seeds: markdown, CSV and HTML")
    rp.add_argument("results", help="a results folder (holding cells/)")
    rp.add_argument("--out", default=None, help="where to write the report (default RESULTS/report)")
    for name, text in (("x", "x axis (default: the experiment's declared one)"),
                       ("y", "metric on the y axis (default: the main metric)"),
                       ("hue", "colour channel (default: series, the model with its own parameters)"),
                       ("style", "line style channel"), ("col", "facet columns"), ("row", "facet rows")):
        rp.add_argument(f"--{name}", default=None, help=text)
    rp.add_argument("--where", action="append", default=None, help="keep rows with key=value (repeatable), "
                    "e.g. --where dataset=mnist-5k")
    rp.add_argument("--sweep", default=None, help="a sweep file whose `report:` section sets the choices above")
    rp.set_defaults(func=cmd_report)

    f = sub.add_parser("figures", help="redraw the registered paper figures from stored results")
    f.add_argument("--only", default=None, help="comma-separated figure names (F1..F12, F4b: the folders of figures/, and plugin figures)")
    f.add_argument("--results", default="results", help="folder holding <sweep>/ and smoke/<sweep>/ results (default: results, from the current folder)")
    f.add_argument("--out", default="results/figures", help="where to write the figures and their tables "
                   "(default results/figures)")
    f.add_argument("--rerun-smoke", action="store_true", help="first re-run the figures' smoke sweeps")
    f.set_defaults(func=cmd_figures)

    b = sub.add_parser("bench", help="micro-benchmarks")
    b.add_argument("--quick", action="store_true",
                   help="the short CI sizes (seconds, not minutes) that `--gate` compares with the baseline")
    b.add_argument("--gate", default=None, help="baseline JSON: fail on a counter or ratio regression")
    b.add_argument("--json", default=None, help="write the measurements here")
    b.add_argument("--study", default=None, metavar="NAME",
                   help="time a shipped sweep NAME (figures/NAME/sweep.yaml or sweeps/NAME.yaml) end to end "
                        "(cold and warm) and its arithmetic vs the matmul rate")
    b.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="--study: override the sweep file's values, e.g. seeds=[0]")
    b.add_argument("--smoke", action="store_true", help="--study: the sweep file's smoke overrides")
    b.set_defaults(func=cmd_bench)

    d = sub.add_parser("demo", help="a first look: CHN vs DAM vs HAM, capacity and noise, four figures (about a minute)")
    d.add_argument("--out", default="results/demo", help="results folder of the demo (default results/demo)")
    d.set_defaults(func=cmd_demo)

    da = sub.add_parser("data", help="prepare a dataset where its source reads it")
    dsub = da.add_subparsers(dest="data_command", required=True)
    dp = dsub.add_parser("prepare", help="cifar10/cifar100 --from their python archive: check and unpack; "
                                         "tfds sources: download and build (needs network and TensorFlow); "
                                         "others: check the files; then read every split back")
    dp.add_argument("name", help="a dataset name (see `ambench datasets`)")
    dp.add_argument("--from", dest="from_file", default=None, metavar="FILE",
                    help="cifar10/cifar100: the downloaded cifar-10-python.tar.gz / cifar-100-python.tar.gz "
                         "(size, md5 and every batch checked, then unpacked into --data-dir)")
    dp.add_argument("--data-dir", default=None, help="where to put (CIFAR archive, tfds) or find (IDX) the files")
    dp.add_argument("--check", action="store_true", help="only read back what is prepared; download nothing")
    dp.set_defaults(func=cmd_data_prepare)

    for name in ("models", "datasets", "experiments"):
        ls = sub.add_parser(name, help=f"list {name} and their declared parameters")
        ls.add_argument("--markdown", action="store_true",
                        help="print the markdown tables of every component (the documentation's components page)")
        ls.set_defaults(func=cmd_listing)
    return p


def _parse(argv: list[str] | None) -> argparse.Namespace:
    """Arguments; for `sweep`, KEY=VALUE overrides may stand anywhere after the file."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command == "sweep" and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:  # Ctrl-C at any moment, imports included, ends in one line and status 130
        return _dispatch(args)
    except KeyboardInterrupt as err:  # a sweep's own message counts the stored cells
        err_console.print(str(err) or "interrupted: finished cells are stored; re-issue the same command to continue",
                          markup=False, highlight=False, soft_wrap=True)
        _exit_if_abandoned(130)
        return 130


def _dispatch(args) -> int:
    if args.func not in (cmd_bench, cmd_status):  # benchmarks time cold compilation; status compiles nothing
        from .compile_cache import enable

        enable()
    from .params import ConfigError

    errors = (ConfigError, PermissionError, UserError, ValueError, FileNotFoundError)
    if args.func is not cmd_status:  # status imports no component (nor JAX) when it can help it
        from .data import DataUnavailable

        errors += (DataUnavailable,)
    try:
        return args.func(args)
    except errors as err:
        err_console.print(f"error: {err}", markup=False, highlight=False, soft_wrap=True)
        return 2


def _exit_if_abandoned(code: int) -> None:
    """After Ctrl-C, a cell thread may still be inside an XLA computation that Python cannot
    interrupt; end the process now (output flushed, cells stored atomically) instead of
    waiting for it at interpreter exit."""
    driver = sys.modules.get("ambench.sweep.driver")
    if driver is not None and not all(done.is_set() for done in driver.ABANDONED):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
