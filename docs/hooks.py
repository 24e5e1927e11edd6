"""mkdocs hooks: the reference pages are generated from the code at every build, so they cannot
drift from it. The command line comes from the argparse parser, the components from their
declared `Params` (the tables `ambench models|datasets|experiments --markdown` prints), the
metrics from `ambench.metrics` and the experiments' declarations. Each paper figure's page gets
its committed image and its sweep file, found through the figure registry."""

from __future__ import annotations

import argparse
import inspect
import os
import re
import sys
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:  # document the checkout being built, whatever is installed
    sys.path.insert(0, str(ROOT / "src"))

FIGURE_MARK = re.compile(r"^<!-- figure (\S+) -->$", re.MULTILINE)


def _cell(text: object) -> str:
    """Text for one table cell: `|` escaped outside code spans (inside them the table reader
    keeps it, and an escape would show)."""
    parts = str(text).replace("\n", " ").split("`")
    return "`".join(part if i % 2 else part.replace("|", "\\|") for i, part in enumerate(parts))


# ---------------------------------------------------------------- command line
def _arguments(parser: argparse.ArgumentParser) -> list[str]:
    rows = ["| argument | values | default | meaning |", "|---|---|---|---|"]
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        name = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.metavar or action.dest}`"
        if action.choices:
            values = " \\| ".join(f"`{c}`" for c in action.choices)
        elif action.nargs == 0:
            values = "flag"
        else:
            values = f"`{action.metavar}`" if action.metavar else ("integer" if action.type is int else "text")
        if not action.option_strings:
            values += " (repeatable)" if action.nargs == "*" else ""
            default = "required"
        elif action.required:
            default = "required"
        elif action.default in (None, False, [], argparse.SUPPRESS):
            default = ""
        else:
            default = f"`{action.default}`"
        rows.append(f"| {name} | {values} | {default} | {_cell(action.help or '')} |")
    return rows if len(rows) > 2 else []


def _subcommands(parser: argparse.ArgumentParser, prog: str, level: int) -> list[str]:
    out: list[str] = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, sub in action.choices.items():
            out += [f"{'#' * level} `{prog} {name}`", "", _cell(helps.get(name) or ""), "",
                    "```text", sub.format_usage().strip().removeprefix("usage: "), "```", ""]
            out += _arguments(sub) + [""]
            out += _subcommands(sub, f"{prog} {name}", level + 1)
    return out


def cli_page() -> str:
    from ambench.cli import build_parser

    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # usage lines wrapped alike on every machine
    try:
        parser = build_parser()
        lines = ["# Command line", "",
                 ("Generated at build time from the parser in `src/ambench/cli.py` (`ambench.cli.build_parser`): "
                 "every subcommand and every option, with the text `--help` prints."), "",
                 ("Bad input (an unknown name, a value outside its declared range, an unwritable folder) ends in one "
                 "line on stderr that names the fix, with exit status 2, before anything runs. Ctrl-C ends any "
                 "command in one line with exit status 130; finished cells are kept."), "",
                 ("A `--set` value is read as YAML reads it (`3`, `0.5`, `true`, `abc`) and a comma list makes a "
                 "grid. Refused, each in one line: `--set seed=…` (seeds are `--seeds`), a key given twice, a "
                 "repeated value or seed, NaN or ±inf, a key no component of the cell declares, a key two of them "
                 "declare (write `model.KEY=…`), K larger than the dataset, a value outside its declared range, an "
                 "energy that would overflow float32 (such as `dam` with N^n·K ≥ 2^127), and stored patterns above "
                 "half the machine's memory. The printed table shows the experiment's main metric first and marks "
                 "each row `run` (computed now) or `store` (read from the results folder)."), ""]
        lines += _subcommands(parser, "ambench", 2)
    finally:
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
    return "\n".join(lines)


# ---------------------------------------------------------------- components
def components_page() -> str:
    from ambench.cli import markdown_tables
    from ambench.data import CORRUPTIONS

    tables = re.sub(r"^\*\*(\w+)\*\*$", lambda m: f"## {m[1].capitalize()}", markdown_tables(), flags=re.MULTILINE)
    corruptions = ["## Corruptions", "", "The values of `noise_kind` (experiments that corrupt their queries):", "",
                   "| noise_kind | what |", "|---|---|"]
    corruptions += [f"| `{k}` | {_cell(v)} |" for k, v in CORRUPTIONS.items()]
    return "\n".join([
        "# Models, datasets, experiments", "",
        ("Generated at build time from each component's declared `Params` (the tables that "
        "`ambench models|datasets|experiments --markdown` prints). A parameter marked \"only with …\" takes part "
        "only with that setting of another parameter of the same component; giving it otherwise is an error."), "",
        ("A bare `--set key=value` goes to the one component that declares `key`; write `model.KEY=…` when two "
        "components declare it. `seed` is never a parameter: seeds are `--seeds` or `seeds:`."), "",
        tables, "", *corruptions, ""])


# ---------------------------------------------------------------- metrics
def metrics_page() -> str:
    from ambench import metrics
    from ambench.sweep import EXPERIMENTS

    lines = ["# Metrics", "",
             "Generated at build time from `src/ambench/metrics.py` and the experiments' declarations.", "",
             inspect.getdoc(metrics) or "", "",
             "## Success criteria", "",
             ("An experiment's `criterion` parameter picks which per-query outcome becomes its `success_rate`; "
             "the other rates are stored beside it."), "",
             "| criterion | stored as |", "|---|---|"]
    lines += [f"| `{name}` | `{column}` |" for name, column in metrics.CRITERIA.items()]
    lines += ["", "## Main metric and x axis of each experiment", "",
              "What `ambench run` prints first and what reports draw against the x axis.", "",
              "| experiment | main metric | x axis |", "|---|---|---|"]
    lines += [f"| `{e.name}` | `{e.main_metric}` | `{e.x_axis}` |" for e in sorted(EXPERIMENTS.values(), key=lambda e: e.name)]
    lines += ["", "## Scoring", ""]
    for name in ("Scorer", "summarise"):
        obj = getattr(metrics, name)
        lines += [f"### `{name}`", "", inspect.getdoc(obj) or "", ""]
    lines += ["## Per-query measurements", ""]
    for name, fn in inspect.getmembers(metrics, inspect.isfunction):
        if fn.__module__ != metrics.__name__ or name.startswith("_") or name == "summarise":
            continue
        params = ", ".join(p for p in inspect.signature(fn).parameters)
        lines += [f"### `{name}({params})`", "", inspect.getdoc(fn) or "", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- hooks
GENERATED = {"reference/cli.md": cli_page, "reference/components.md": components_page,
             "reference/metrics.md": metrics_page}


def _figures():
    from ambench.report.figures import FIGURES, sweep_path

    return {fig.name: (fig, sweep_path(fig)) for fig in FIGURES.values()}


def on_files(files, config):
    for uri, page in GENERATED.items():
        files.append(File.generated(config, uri, content=page()))
    for name, (fig, _) in _figures().items():
        png = ROOT / "results" / "figures" / f"{name}-{fig.sweep}.png"
        if png.is_file():  # a missing image is reported by the page that shows it (strict build)
            files.append(File.generated(config, f"figures/img/{name}.png", abs_src_path=str(png)))
    return files


def _figure_block(name: str) -> str:
    figures = _figures()
    if name not in figures:
        raise ValueError(f"docs: no registered figure {name!r}; registered: {', '.join(figures)}")
    fig, sweep = figures[name]
    shown = sweep.relative_to(ROOT) if sweep.is_relative_to(ROOT) else sweep.name
    body = "\n".join("    " + line for line in ["```yaml", *sweep.read_text().splitlines(), "```"])
    return (f"![{name}: {fig.title}](img/{name}.png)\n\n"
            f"The committed figure, drawn by `ambench figures --only {name}` from `results/{fig.sweep}/` "
            f"(or `results/smoke/{fig.sweep}/` when the full results are incomplete); its table is "
            f"`results/figures/{name}-{fig.sweep}.csv`.\n\n"
            f'??? note "The sweep file: `{shown}`"\n\n{body}\n')


def on_page_markdown(markdown, page, config, files):
    return FIGURE_MARK.sub(lambda m: _figure_block(m[1]), markdown)
