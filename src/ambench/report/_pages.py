"""Reports: what varied, drawn and tabulated — markdown, CSV and one offline HTML page.

Each experiment's main metric is drawn against its x axis with one series per distinct
configuration of the other varying parameters (model included), averaged over seeds only,
with 95% Student-t bands clipped to the metric's range and the experiment's theory curves
when its module defines theory(rows). Images are embedded as data URIs: the page needs no
network and no other file.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from ._style import style as style  # noqa: E402
from ._tables import aggregate, load_results, metric_columns  # noqa: E402
from ._varying import (Layout, Varying,  # noqa: E402
                       experiment_spec, find_varying, fmt, plan_layout, repeated_seeds, seed_stats,
                       sorted_values)

DASHES = ["-", "--", ":", "-."]
MARKERS = ["o", "s", "^", "D"]
THEORY = ["--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 3))]
MAX_PANELS = 16


def save(fig, path: Path, *, close: bool = True) -> list[Path]:
    """PDF and PNG, with metadata that would make bytes differ between runs removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path.with_suffix(".pdf"), bbox_inches="tight", metadata={"CreationDate": None})
    fig.savefig(path.with_suffix(".png"), bbox_inches="tight", metadata={"Software": None})
    if close:
        plt.close(fig)
    return [path.with_suffix(".pdf"), path.with_suffix(".png")]


@dataclass
class Drawn:
    """One figure of an experiment: the PNG, how many series it draws and how many distinct
    configurations its rows hold (the two must agree), and what it shows."""
    png: Path
    series: int
    configurations: int
    title: str
    theory: list[str]
    notes: list[str] = field(default_factory=list)
    figure: object = None  # the matplotlib figure, kept open only with keep=True


def _is(col: pd.Series, v) -> pd.Series:
    return col.isna() if v is None or (isinstance(v, float) and math.isnan(v)) else col == v


def _select(df: pd.DataFrame, where: dict) -> pd.DataFrame:
    mask = np.ones(len(df), dtype=bool)
    for c, v in where.items():
        mask &= _is(df[c], v).to_numpy()
    return df[mask]


def _sort(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Rows in the natural order of each column's values (numbers numerically, n/a last)."""
    if not cols or df.empty:
        return df
    return df.iloc[np.lexsort([_ranks(df[c]) for c in reversed(cols)])]


def _isin(col: pd.Series, values: list) -> pd.Series:
    mask = pd.Series(False, index=col.index)
    for v in values:
        mask |= _is(col, v)
    return mask


def _ranks(col: pd.Series) -> np.ndarray:
    order = {fmt(v): i for i, v in enumerate(sorted_values(col))}
    return np.array([order[fmt(v)] for v in col])


def _label(dim: str, v) -> str:
    return f"{dim}={fmt(v)}" if dim != "model" and dim != "dataset" else fmt(v)


def _theory_curves(spec, rows: pd.DataFrame, notes: list[str]) -> dict:
    """The experiment's theory(rows) -> {label: (x, y)}; a failing hook is reported, not fatal."""
    if spec.theory is None:
        return {}
    try:
        curves = spec.theory(rows) or {}
        return {str(k): (np.asarray(x, float), np.asarray(y, float)) for k, (x, y) in curves.items()}
    except Exception as e:  # noqa: BLE001 — the data are still worth drawing
        notes.append(f"theory() failed: {type(e).__name__}: {e}")
        return {}


def _draw(spec, lay: Layout, rows: pd.DataFrame, stats: pd.DataFrame, cols: list,
          rvals: list, title: str, notes: list[str]):
    x, y = spec.x, spec.metric
    ncols = min(len(cols), lay.wrap) if lay.wrap else max(len(cols), 1)
    nrows = math.ceil(len(cols) / lay.wrap) if lay.wrap else max(len(rvals), 1)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.7 * nrows), squeeze=False,
                             sharey=spec.metric_range is not None)
    hues = sorted_values(rows[lay.hue]) if lay.hue else [None]
    styles = sorted_values(rows[lay.style]) if lay.style else [None]
    palette = sns.color_palette("colorblind", max(len(hues), 1))
    numeric = pd.api.types.is_numeric_dtype(rows[x]) and not pd.api.types.is_bool_dtype(rows[x])
    logx = bool(numeric and rows[x].min() > 0 and rows[x].max() / rows[x].min() >= 50)
    categories = [] if numeric else sorted_values(rows[x])  # a categorical x: evenly spaced, labelled
    position = {fmt(v): i for i, v in enumerate(categories)}
    theory_labels: list[str] = []
    panels = [(c, r) for r in (rvals or [None]) for c in (cols or [None])] if not lay.wrap else [(c, None) for c in cols]
    for i, ax in enumerate(axes.flat):
        if i >= len(panels):
            ax.set_visible(False)
            continue
        c, r = panels[i]
        where = {k: v for k, v in ((lay.col, c), (lay.row, r)) if k}
        pstats, prows = _select(stats, where), _select(rows, where)
        if pstats.empty:  # a combination the grid does not hold (e.g. a model without β)
            ax.set_visible(False)
            continue
        for hi, hv in enumerate(hues):
            for si, sv in enumerate(styles):
                s = _select(pstats, {k: v for k, v in ((lay.hue, hv), (lay.style, sv)) if k})
                if s.empty:
                    continue
                s = _sort(s, [x])
                xs = s[x].to_numpy(float) if numeric else np.array([position[fmt(v)] for v in s[x]], float)
                mean, ci = s["_mean"].to_numpy(float), s["_ci95"].to_numpy(float)
                color = palette[hi] if lay.hue else "C0"
                under = (len(hues) - 1 - hi) / max(len(hues) - 1, 1)  # earlier hues wider: equal lines stay visible
                ax.plot(xs, mean, DASHES[si % 4], color=color, marker=MARKERS[si % 4], ms=3.0 + 2.0 * under,
                        lw=1.1 + 1.3 * under, gid="series")
                band = np.isfinite(ci)
                if band.any():
                    lo, hi_ = mean - ci, mean + ci
                    if spec.metric_range:
                        lo, hi_ = np.clip(lo, *spec.metric_range), np.clip(hi_, *spec.metric_range)
                    ax.fill_between(xs, lo, hi_, where=band, color=color, alpha=0.15, lw=0)
        for k, (label, (tx, ty)) in enumerate(_theory_curves(spec, prows, notes).items()):
            ax.plot(tx, ty, linestyle=THEORY[k % len(THEORY)], color="0.35", lw=1.1, gid="theory", label=label)
            theory_labels += [label] if label not in theory_labels else []
        if logx:
            ax.set_xscale("log")
        if categories:
            ax.set_xticks(range(len(categories)), [fmt(v) for v in categories], rotation=30, fontsize=7)
        if spec.metric_range:
            lo, hi_ = spec.metric_range
            ax.set_ylim(lo - 0.04 * (hi_ - lo), hi_ + 0.04 * (hi_ - lo))
        ax.set_title(", ".join(_label(k, v) for k, v in where.items()), fontsize=8)
        ax.set_xlabel(x)
        ax.set_ylabel(y if i % ncols == 0 else "")
    handles = []
    if lay.hue:
        handles.append((lay.hue, [Line2D([], [], color=palette[i], lw=2, label=fmt(v)) for i, v in enumerate(hues)]))
    if lay.style:
        handles.append((lay.style, [Line2D([], [], color="0.3", ls=DASHES[i % 4], marker=MARKERS[i % 4], ms=3.5,
                                           label=fmt(v)) for i, v in enumerate(styles)]))
    if theory_labels:
        handles.append(("theory", [Line2D([], [], color="0.35", ls=THEORY[i % len(THEORY)], label=t)
                                   for i, t in enumerate(theory_labels)]))
    entries, headers = [], []
    for name, h in handles:  # one legend, a bold header line per channel
        headers.append(len(entries))
        entries += [Line2D([], [], color="none", label=name)] + h
    width, height = fig.get_size_inches()
    legend_w = 1.9 if entries else 0.0
    fig.set_size_inches(width + legend_w, height + 0.4)
    fig.suptitle(title, fontsize=9, x=(width / 2) / (width + legend_w), ha="center")
    fig.tight_layout(rect=(0, 0, width / (width + legend_w), 1))  # leaves room for the suptitle
    if entries:
        leg = fig.legend(handles=entries, loc="upper left", bbox_to_anchor=(width / (width + legend_w), 1 - 0.55 / (height + 0.4)),
                         fontsize=7, frameon=False, handlelength=2.6)
        for i in headers:
            leg.get_texts()[i].set_fontweight("bold")
    return fig, theory_labels


def experiment_figures(df: pd.DataFrame, experiment: str, path: Path, *, keep: bool = False) -> list[Drawn]:
    """The experiment's main metric vs its x axis, one series per distinct configuration of the
    other varying parameters; several figures (path-2, path-3, ...) past 4 × 4 panels or when a
    dimension has no visual channel left. Nothing when the x axis does not vary. keep=True
    leaves the matplotlib figures open (for inspection)."""
    sub = df[df.experiment == experiment]
    spec = experiment_spec(experiment, sub)
    if sub.empty or spec.metric is None or spec.x is None:
        return []
    var = find_varying(sub, spec.x)
    rows = sub[sub[spec.x].notna() & sub[spec.metric].notna()]
    if rows.empty:
        return []
    lay = plan_layout(rows, var.dims)
    stats = seed_stats(rows, var.dims + [spec.x], spec.metric)
    style()
    drawn, notes = [], []
    groups = _sort(rows[lay.figures].drop_duplicates(), lay.figures).to_dict("records") if lay.figures else [{}]
    for where in groups:
        part = _select(rows, where)
        cols = sorted_values(part[lay.col]) if lay.col else []
        rvals = sorted_values(part[lay.row]) if lay.row else []
        chunks = [cols[i:i + MAX_PANELS] for i in range(0, len(cols), MAX_PANELS)] if lay.wrap else [cols]
        for chunk in chunks:
            here = part[_isin(part[lay.col], chunk)] if lay.wrap else part
            pstats = _select(stats, where)
            pstats = pstats[_isin(pstats[lay.col], chunk)] if lay.wrap else pstats
            n = here[spec.metric].groupby([here[d] for d in var.dims + [spec.x]], dropna=False).count()
            lo, hi = int(n.min()), int(n.max())
            seeds = (f"n = {lo}" if lo == hi else f"n = {lo}–{hi}") + (" seeds" if hi != 1 else " seed")
            title = (f"{experiment}: {spec.metric} vs {spec.x}"
                     + "".join(f", {_label(k, v)}" for k, v in where.items())
                     + f"\nmean and 95% Student-t interval over seeds ({seeds})")
            fig, labels = _draw(spec, lay, here, pstats, chunk, rvals, title, notes)
            series = sum(1 for ax in fig.axes for line in ax.lines if line.get_gid() == "series")
            name = path if not drawn else path.with_name(f"{path.name}-{len(drawn) + 1}")
            png = save(fig, name, close=not keep)[1]
            drawn.append(Drawn(png, series, _distinct_configs(here, var.dims), title, labels,
                               figure=fig if keep else None))
    for d in drawn:
        d.notes = sorted(set(notes))
    return drawn


def _distinct_configs(rows: pd.DataFrame, dims: list[str]) -> int:
    return len(rows[dims].drop_duplicates()) if dims else 1


def experiment_figure(df: pd.DataFrame, experiment: str, path: Path) -> Path | None:
    """The first figure of experiment_figures (PDF and PNG at path), or None."""
    drawn = experiment_figures(df, experiment, path)
    return drawn[0].png if drawn else None


def _ci(mean, ci, n, *, show_n: bool) -> str:
    if not np.isfinite(mean):
        return ""
    text = f"{mean:.3g}" + (f" ± {ci:.2g}" if np.isfinite(ci) else "")
    return text + (f" (n={int(n)})" if show_n else "")


def main_table(sub: pd.DataFrame, spec, var: Varying) -> tuple[pd.DataFrame, str]:
    """The main metric, mean ± 95% t-interval, one row per configuration of the series
    dimensions and one column per x value; and a caption saying n."""
    keys = var.dims + ([spec.x] if spec.x else [])
    s = seed_stats(sub[sub[spec.metric].notna()], keys, spec.metric)
    same_n = s["_n"].nunique() == 1
    s["_cell"] = [_ci(m, c, n, show_n=not same_n) for m, c, n in zip(s["_mean"], s["_ci95"], s["_n"])]
    caption = (f"{spec.metric}: mean ± 95% Student-t half-width over seeds"
               + (f", n = {int(s['_n'].iloc[0])} seed{'s' if s['_n'].iloc[0] != 1 else ''} in every cell"
                  if same_n and len(s) else ", n per cell")
               + ("; no interval with a single seed" if (s["_n"] == 1).any() else ""))
    if not spec.x:
        return _sort(s, var.dims)[var.dims + ["_cell"]].rename(columns={"_cell": spec.metric}), caption
    xs = sorted_values(s[spec.x])
    table = _sort(s[var.dims].drop_duplicates(), var.dims) if var.dims else pd.DataFrame(index=[0])
    for v in xs:
        at = _select(s, {spec.x: v})
        cells = {tuple(fmt(r[d]) for d in var.dims): r["_cell"] for _, r in at.iterrows()}
        table[f"{spec.x}={fmt(v)}"] = [cells.get(tuple(fmt(r[d]) for d in var.dims), "")
                                       for _, r in table.iterrows()]
    return table.reset_index(drop=True), caption


def long_table(sub: pd.DataFrame, spec, var: Varying) -> pd.DataFrame:
    """Every configuration (all varying parameters), the main metric first, other metrics after:
    mean, sd, ci95 and n of each over seeds — the full table, as CSV."""
    keys = var.parameters
    metrics = [spec.metric] + [m for m in metric_columns(sub) if m != spec.metric and sub[m].notna().any()]
    parts = []
    for m in metrics:
        s = seed_stats(sub, keys, m).set_index(keys) if keys else seed_stats(sub, [], m)
        parts.append(s[["_mean", "_std", "_ci95", "_n"]].rename(columns=lambda c, m=m: f"{m}{c}"))
    out = pd.concat(parts, axis=1).reset_index() if keys else pd.concat(parts, axis=1)
    return _sort(out, keys)


def describe(sub: pd.DataFrame, spec, var: Varying) -> dict[str, str]:
    """The header lines: cells and seeds, what varies (with values), what follows, constants."""
    def values(c):
        v = sorted_values(sub[c])
        shown = ", ".join(fmt(a) for a in v) if len(v) <= 8 else f"{fmt(v[0])} … {fmt(v[-1])}"
        return f"{c} ({len(v)}: {shown})"

    seeds = sorted_values(sub["seed"]) if "seed" in sub else []
    lines = {"cells": f"{len(sub)} cells, {len(seeds)} seed{'s' if len(seeds) != 1 else ''} "
                      f"({', '.join(fmt(s) for s in seeds[:10])}{' …' if len(seeds) > 10 else ''}); "
                      f"main metric {spec.metric}" + (f" in [{fmt(spec.metric_range[0])}, {fmt(spec.metric_range[1])}]"
                                                      if spec.metric_range else "")}
    lines["varies"] = ("; ".join(([f"x: {values(var.x)}"] if var.x else []) + [values(d) for d in var.dims])
                       or "nothing (one configuration)")
    if var.follows:
        lines["follows"] = "; ".join(f"{d} follows {', '.join(by)}" for d, by in var.follows.items())
    for name, here in var.per_dataset.items():
        lines[f"within {name}"] = "varies: " + (", ".join(here) or "nothing")
    lines["constant"] = ", ".join(f"{k}={fmt(v)}" for k, v in var.constant.items()) or "nothing"
    repeats = repeated_seeds(sub, var.parameters)
    if repeats:
        lines["warning"] = (f"{repeats} rows repeat a configuration and seed (e.g. two code versions); "
                            "they are averaged as further samples")
    codes = [c for c in sub.columns if c.startswith("code_") or c == "experiment_code"]
    mixed = [f"{c} ({sub[c].nunique()})" for c in codes if sub[c].nunique() > 1]
    if mixed:
        lines["code versions"] = ", ".join(mixed)
    return lines


CSS = ("body{font-family:sans-serif;margin:2em;max-width:1400px}h2{border-top:1px solid #ccc;padding-top:.6em}"
       "dl.vary{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;font-size:13px}"
       "dl.vary dt{font-weight:bold}dl.vary dd{margin:0}dd.constant,dd.metrics{color:#555;font-size:12px}"
       ".scroll{overflow:auto;max-height:32em;max-width:100%;border:1px solid #ddd;margin:.5em 0}"
       "table{border-collapse:collapse;font-size:12px;white-space:nowrap}"
       "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f4f4f4}"
       "thead th{position:sticky;top:0}thead tr:nth-child(2) th{top:1.6em}tbody th,td:first-child{text-align:left;vertical-align:top}figure{margin:1em 0}figcaption{font-size:12px;color:#444}"
       "img{max-width:100%}caption{caption-side:top;text-align:left;font-size:12px;color:#444;padding:2px}")


def _html_table(df: pd.DataFrame, caption: str, *, index: list[str] = ()) -> str:
    """A table in a box that scrolls (wide tables stay inside the page); `index` columns become
    row headers, a repeated value spanning its rows."""
    if index:
        df = df.set_index(list(index))
    body = df.to_html(index=bool(index), na_rep="", float_format=lambda v: f"{v:.4g}", border=0, sparsify=True)
    i = body.index(">") + 1
    body = body[:i - 1] + f" data-rows='{len(df)}'>" + f"<caption>{html.escape(caption)}</caption>" + body[i:]
    return f"<div class='scroll'>{body}</div>"


def _section(df, experiment: str, out: Path) -> tuple[str, list[str], list[Path]]:
    sub = df[df.experiment == experiment]
    spec = experiment_spec(experiment, sub)
    if spec.metric is None:
        return f"<h2 id='{html.escape(experiment)}'>{html.escape(experiment)}</h2><p>no metric stored</p>", \
            [f"\n## {experiment}\n", "no metric stored\n"], []
    var = find_varying(sub, spec.x)
    drawn = experiment_figures(df, experiment, out / experiment)
    lines = describe(sub, spec, var)
    if not drawn:
        lines["figure"] = f"none: the x axis {spec.x or '(none declared)'} has one value"
    for note in sorted({n for d in drawn for n in getattr(d, "notes", [])}):
        lines.setdefault("theory", note)
    table, caption = main_table(sub, spec, var)
    full = long_table(sub, spec, var)
    csv = out / f"{experiment}.csv"
    full.to_csv(csv, index=False)
    means = [c for c in full.columns if c.endswith("_mean")]
    fixed = {c[:-5]: full[c].iloc[0] for c in means if c != f"{spec.metric}_mean" and full[c].nunique(dropna=False) == 1}
    if fixed:  # shown once in the header, not as a column of equal numbers
        lines["metrics constant here"] = ", ".join(f"{m}={fmt(v)}" for m, v in fixed.items())
    shown = full[var.parameters + [c for c in full.columns if c.endswith(("_mean", "_ci95"))
                                   and c.rsplit("_", 1)[0] not in fixed] + [f"{spec.metric}_n"]]
    e = html.escape
    header = "".join(f"<dt>{e(k)}</dt><dd class='{e(k.split()[0])}'>{e(v)}</dd>" for k, v in lines.items())
    figs = "".join(
        f"<figure data-series-count='{d.series}' data-configurations='{d.configurations}'>"
        f"<img alt='{e(d.title)}' src='data:image/png;base64,{base64.b64encode(d.png.read_bytes()).decode()}'>"
        f"<figcaption>{e(d.title)}: {d.series} series for {d.configurations} configurations"
        + (f"; theory: {e(', '.join(d.theory))}" if d.theory else "") + "</figcaption></figure>" for d in drawn)
    page = (f"<section id='{e(experiment)}' data-experiment='{e(experiment)}'><h2>{e(experiment)}</h2>"
            f"<dl class='vary'>{header}</dl>{figs}<h3>{e(spec.metric)}</h3>{_html_table(table, caption, index=var.dims if spec.x else [])}"
            f"<details><summary>every metric, every configuration ({len(full)} rows; "
            f"<a href='{e(csv.name)}'>{e(csv.name)}</a> has sd and n too)</summary>"
            f"{_html_table(shown, 'mean and 95% Student-t half-width over seeds')}</details></section>")
    md = [f"\n## {experiment}\n"] + [f"- **{k}**: {v}" for k, v in lines.items()] + [""]
    md += [f"![{experiment}]({d.png.name})\n" for d in drawn]
    md += [caption + "\n", table.to_markdown(index=False), "", f"Every metric: [{csv.name}]({csv.name})\n"]
    return page, md, [d.png for d in drawn] + [csv]


def write_report(root: Path, out: Path | None = None) -> list[Path]:
    """report.md, report.html (offline, images embedded), aggregate.csv, rows.csv and one CSV
    and figure set per experiment under out (default root/report)."""
    df = load_results(root)
    out = out or root / "report"
    out.mkdir(parents=True, exist_ok=True)
    aggregate(df).to_csv(out / "aggregate.csv", index=False)
    df.to_csv(out / "rows.csv", index=False)
    experiments = sorted(df.experiment.unique())
    intro = (f"{len(df)} cells in {len(experiments)} experiment{'s' if len(experiments) != 1 else ''} "
             f"({', '.join(experiments)}); datasets: {', '.join(sorted(map(str, df.dataset.unique())))}. "
             "Means over seeds only, with 95% Student-t intervals; one series per configuration.")
    sections, md, files = [], [f"# ambench report: {root}\n", intro + "\n"], []
    for experiment in experiments:
        page, lines, paths = _section(df, experiment, out)
        sections.append(page)
        md += lines
        files += paths
    (out / "report.md").write_text("\n".join(md))
    nav = " · ".join(f"<a href='#{html.escape(e)}'>{html.escape(e)}</a>" for e in experiments)
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>ambench report</title>"
            f"<style>{CSS}</style></head><body><h1>ambench report</h1>"
            f"<p>{html.escape(str(root))}: {html.escape(intro)}</p><p>{nav}</p>" + "".join(sections) + "</body></html>")
    (out / "report.html").write_text(page)
    return [out / "report.md", out / "aggregate.csv", out / "report.html"] + files
