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
from dataclasses import dataclass, field, fields
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from ..params import label as _word_label  # noqa: E402
from ..params import value_label  # noqa: E402
from ._style import style as style  # noqa: E402
from ._tables import aggregate, flat_view, load_results, metric_columns  # noqa: E402
from ._varying import (CHANNELS, MAX_LINES, Layout, Spec, Varying,  # noqa: E402
                       experiment_spec, find_varying, fmt, plan_layout, repeated_seeds, seed_stats,
                       sorted_values)

DASHES = ["-", "--", ":", "-."]
MARKERS = ["o", "s", "^", "D"]
THEORY = ["--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 3))]
MAX_PANELS = 16


def literal_text(fig) -> None:
    """Titles, axis labels, legends and free text are drawn as they read, never parsed as
    mathtext: they hold names from the store (models, folders, parameters), and a `$...$` in
    one must not stop the report. (ambench's own labels hold no math; tick labels, which the
    axis formatters write as math on log axes, are left alone.)"""
    texts = list(fig.texts) + ([fig._suptitle] if getattr(fig, "_suptitle", None) is not None else [])
    for leg in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]:
        texts += list(leg.get_texts()) + [leg.get_title()]
    for ax in fig.axes:
        texts += [ax.title, getattr(ax, "_left_title", None), getattr(ax, "_right_title", None),
                  ax.xaxis.label, ax.yaxis.label, *ax.texts]
    for t in texts:
        if t is not None:
            t.set_parse_math(False)


def save(fig, path: Path, *, close: bool = True) -> list[Path]:
    """PDF and PNG, with metadata that would make bytes differ between runs removed."""
    literal_text(fig)
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
    panels: list[dict] = field(default_factory=list)  # per panel: fixed settings, series drawn


@dataclass(frozen=True)
class Choice:
    """The reader's picture: axes, channels and a row filter (`ambench report --x … --hue …
    --where dataset=mnist-5k`); None leaves a choice to the planner."""
    x: str | None = None
    y: str | None = None
    hue: str | None = None
    style: str | None = None
    col: str | None = None
    row: str | None = None
    where: tuple[tuple[str, str], ...] = ()


def choice_from(mapping: dict | None, **given) -> Choice:
    """A Choice from a sweep file's `report:` section ({x, y, hue, style, col, row, where:
    {dataset: mnist-5k}}) with command-line values (`where` as ["k=v", ...]) taking precedence."""
    mapping = dict(mapping or {})
    keys = [f.name for f in fields(Choice)]  # the sweep file's ReportBlock declares the same (a test ties them)
    unknown = set(mapping) - set(keys)
    if unknown:
        raise ValueError(f"report: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(keys)}")
    where = dict(mapping.get("where") or {})
    for text in given.pop("where", None) or []:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--where {text!r}: write --where key=value (e.g. --where dataset=mnist-5k)")
        where[key.strip()] = value.strip()
    values = {k: given.get(k) or mapping.get(k) for k in keys if k != "where"}
    return Choice(**{k: str(v) if v is not None else None for k, v in values.items()},
                  where=tuple((k, ",".join(map(str, v)) if isinstance(v, list) else str(v)) for k, v in where.items()))


SERIES = "series"  # the model with the parameters only it has: "dam-softmax, β = 10"


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


_CONTEXT: dict = {}  # the figure being drawn: its one noise_kind, which names what noise_level means,
# and its one model and one dataset (`components`), whose own declared labels name their parameters


def _label(dim: str, v) -> str:
    return fmt(v) if dim in ("model", "dataset", SERIES) else value_label(dim, fmt(v), **_CONTEXT)


def axis_label(name: str) -> str:
    """What an axis or legend header says: the declared words and symbol."""
    return "model" if name == SERIES else _word_label(name, **_CONTEXT)


def _same_curve(a, b) -> bool:
    return len(a[0]) == len(b[0]) and np.allclose(a[0], b[0]) and np.allclose(a[1], b[1], atol=1e-9, equal_nan=True)


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


def _plain(v):
    v = v.item() if isinstance(v, np.generic) else v
    return None if isinstance(v, float) and math.isnan(v) else v


def _draw(spec, lay: Layout, rows: pd.DataFrame, stats: pd.DataFrame, cols: list,
          rvals: list, title: str, notes: list[str], fixed_where: dict | None = None):
    x, y = spec.x, spec.metric
    fixed_where = fixed_where or {}
    panels_out: list[dict] = []
    coincide: dict[str, set] = {}
    coinciding: list[str] = []  # "panel: a = b", said in the legend
    pairs_in: dict[tuple, list] = {}  # (first, later) -> the panels where they coincide
    both_in: dict[tuple, int] = {}  # (first, later) -> the panels where both are drawn
    ncols = min(len(cols), lay.wrap) if lay.wrap else max(len(cols), 1)
    nrows = math.ceil(len(cols) / lay.wrap) if lay.wrap else max(len(rvals), 1)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.7 * nrows), squeeze=False,
                             sharey=spec.metric_range is not None)
    hues = [v for v in lay.order.get(lay.hue, sorted_values(rows[lay.hue])) if v in set(rows[lay.hue])] \
        if lay.hue else [None]
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
        curves = []
        for hi, hv in enumerate(hues):
            for si, sv in enumerate(styles):
                s = _select(pstats, {k: v for k, v in ((lay.hue, hv), (lay.style, sv)) if k})
                if s.empty:
                    continue
                s = _sort(s, [x])
                xs = s[x].to_numpy(float) if numeric else np.array([position[fmt(v)] for v in s[x]], float)
                name = ", ".join(_label(k, v) for k, v in ((lay.hue, hv), (lay.style, sv)) if k) or y
                curves.append((hi, si, name, xs, s))
        info, seen = [], []
        for hi, si, name, xs, s in curves:
            mean, ci = s["_mean"].to_numpy(float), s["_ci95"].to_numpy(float)
            same = [other for other, oxs, omean in seen if _same_curve((xs, mean), (oxs, omean))]
            seen.append((name, xs, mean))
            color = palette[hi] if lay.hue else "C0"
            under = (len(hues) - 1 - hi) / max(len(hues) - 1, 1)  # earlier hues wider: equal lines stay visible
            shown = xs
            if same:  # drawn over an equal curve: offset a little along x, hollow markers, and said so
                shift = 0.012 * len(same)
                shown = xs * (1 + shift) if logx else xs + shift * (np.nanmax(xs) - np.nanmin(xs) or 1)
            ax.plot(shown, mean, DASHES[si % 4], color=color, marker=MARKERS[si % 4], ms=3.0 + 2.0 * under,
                    lw=1.1 + 1.3 * under, gid="series", mfc="white" if same else color)
            band = np.isfinite(ci)
            if band.any():
                lo, hi_ = mean - ci, mean + ci
                if spec.metric_range:
                    lo, hi_ = np.clip(lo, *spec.metric_range), np.clip(hi_, *spec.metric_range)
                ax.fill_between(shown, lo, hi_, where=band, color=color, alpha=0.15, lw=0)
            info.append({"label": name, "points": int(len(xs)), "seeds": sorted({int(v) for v in s["_n"]}),
                         "coincides_with": same})
            for other in same:
                coincide.setdefault(name, set()).add(other)
                pairs_in.setdefault((other, name), []).append(", ".join(_label(k, v) for k, v in where.items()))
        names_here = [c[2] for c in curves]
        for a_i, a in enumerate(names_here):
            for b in names_here[a_i + 1:]:
                both_in[(a, b)] = both_in.get((a, b), 0) + 1
        groups: list[list[str]] = []  # curves equal to each other in this panel, in drawing order
        for c in info:
            for g in groups:
                if set(c["coincides_with"]) & set(g):
                    g.append(c["label"])
                    break
            else:
                if c["coincides_with"]:
                    groups.append(list(dict.fromkeys(c["coincides_with"] + [c["label"]])))
        panel = ", ".join(_label(k, v) for k, v in where.items()) or "everywhere"
        coinciding += [f"{panel}: " + " = ".join(g) for g in groups]
        panels_out.append({"fixed": {k: _plain(v) for k, v in {**fixed_where, **where}.items()}, "series": info})
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
        kinds = prows["noise_kind"].dropna().unique() if "noise_kind" in prows and "noise_kind" not in _CONTEXT else []
        ax.set_xlabel(_word_label(x, noise_kind=str(kinds[0]), components=_CONTEXT.get("components", ()))
                      if len(kinds) == 1 else axis_label(x))
        ax.set_ylabel(axis_label(y) if i % ncols == 0 else "")
    handles = []
    if lay.hue:
        def note(v):  # "= dam-softmax": equal to another series in every panel holding both
            name = _label(lay.hue, v)
            others = {a for (a, b), where in pairs_in.items() if b == name and len(where) == both_in.get((a, b))} \
                if not lay.style else set()
            return _label(lay.hue, v) + (f"  (= {', '.join(sorted(others))})" if others else "")
        handles.append((axis_label(lay.hue), [Line2D([], [], color=palette[i], lw=2, label=note(v))
                                              for i, v in enumerate(hues)]))
    if lay.style:
        handles.append((axis_label(lay.style), [Line2D([], [], color="0.3", ls=DASHES[i % 4], marker=MARKERS[i % 4],
                                                       ms=3.5, label=_label(lay.style, v))
                                                for i, v in enumerate(styles)]))
    if coinciding:
        handles.append(("coincide (later offset, hollow markers)",
                        [Line2D([], [], color="none", label=t) for t in coinciding]))
    if theory_labels:
        handles.append(("theory", [Line2D([], [], color="0.35", ls=THEORY[i % len(THEORY)], label=t)
                                   for i, t in enumerate(theory_labels)]))
    entries, headers = [], []
    for name, h in handles:  # one legend, a bold header line per channel
        headers.append(len(entries))
        entries += [Line2D([], [], color="none", label=name)] + h
    width, height = fig.get_size_inches()
    longest = max((len(e.get_label()) for e in entries), default=0)
    legend_w = max(1.9, 0.3 + 0.062 * longest) if entries else 0.0
    fig.set_size_inches(width + legend_w, height + 0.4)
    fig.suptitle(title, fontsize=9, x=(width / 2) / (width + legend_w), ha="center")
    fig.tight_layout(rect=(0, 0, width / (width + legend_w), 1))  # leaves room for the suptitle
    if entries:
        leg = fig.legend(handles=entries, loc="upper left", bbox_to_anchor=(width / (width + legend_w), 1 - 0.55 / (height + 0.4)),
                         fontsize=7, frameon=False, handlelength=2.6)
        for i in headers:
            leg.get_texts()[i].set_fontweight("bold")
    pairs = [f"“{a}” = “{b}” ({'every panel' if len(w) == both_in.get((a, b)) else ' and '.join(w)})"
             for (a, b), w in pairs_in.items()]
    if pairs:
        notes.append("coinciding series (the later drawn offset along x, hollow markers): " + "; ".join(pairs))
    return fig, theory_labels, panels_out


def _check_column(rows: pd.DataFrame, name: str, what: str, allowed: list[str]) -> str:
    name = name.split(".", 1)[1] if name.split(".", 1)[0] in ("experiment", "model", "data") and "." in name else name
    if name not in rows and name not in (SERIES, "none"):
        raise ValueError(f"--{what} {name}: no such column here; choose one of {', '.join(allowed) or 'none'}")
    return name


def _flat_key(key: str) -> str:
    """`model.beta` -> `beta`: the flat view's column for a `<kind>.<name>` key."""
    kind, dot, name = key.partition(".")
    return name if dot and kind in ("experiment", "model", "data") else key


def _where(df: pd.DataFrame, where) -> pd.DataFrame:
    """Rows whose column equals the value (compared as text: `dataset=mnist-5k`, `noise_level=0.3`)."""
    for key, value in where:
        key = _flat_key(key)
        if key not in df:
            raise ValueError(f"--where {key}={value}: no column {key!r}; e.g. --where dataset=mnist-5k")
        wanted = {v.strip() for v in str(value).split(",")}
        df = df[df[key].map(lambda v, wanted=wanted: fmt(v) in wanted or str(v) in wanted)]
    return df


def _where_some(df: pd.DataFrame, where) -> pd.DataFrame:
    """`_where`, refusing a filter that leaves no cell (naming the values the column holds)."""
    for i in range(len(where)):
        kept = _where(df, where[: i + 1])
        if kept.empty:
            key, value = where[i]
            column = _flat_key(key)
            held = sorted({fmt(v) for v in _where(df, where[:i])[column].dropna()})
            raise ValueError(f"--where {key}={value}: no cell{' left' if i else ''} has it; "
                             f"{column} here: {', '.join(held[:12]) or 'no value'}")
    return _where(df, where)


def own_parameters(rows: pd.DataFrame, dims: list[str]) -> list[str]:
    """The varying parameters that only some models have (missing for the others' rows): they
    vary within those models' series, never as a facet that separates the other models."""
    if "model" not in rows or rows["model"].nunique() < 2:
        return []
    out = []
    for d in dims:
        if d in ("model", "dataset"):
            continue
        missing = rows[d].isna().groupby(rows["model"]).all()
        if missing.any() and not missing.all():
            out.append(d)
    return out


def _series(rows: pd.DataFrame, own: list[str]) -> tuple[pd.Series, list[str]]:
    """One label per row, "dam-softmax, β = 10" (the model and its own varying parameters), and
    the labels in order (models as they sort, then each parameter's values in natural order)."""
    def name(r):  # the model's own parameters in its own words (its declared labels)
        return ", ".join([fmt(r["model"])] + [value_label(d, fmt(r[d]), noise_kind=_CONTEXT.get("noise_kind"),
                                                          components=(r["model"],))
                                              for d in own if not pd.isna(r[d])])

    labels = rows.apply(name, axis=1)
    order = [name(r) for _, r in _sort(rows[["model"] + own].drop_duplicates(), ["model"] + own).iterrows()]
    return labels, list(dict.fromkeys(order))


def experiment_figures(df: pd.DataFrame, experiment: str, path: Path, *, keep: bool = False,
                       choice: Choice | None = None) -> list[Drawn]:
    """The comparison: the experiment's main metric vs its x axis, one panel per combination of
    the settings that vary for every model, the models as hue; a parameter only some models
    have varies within those models' series ("dam-softmax, β = 10"). One series per distinct
    configuration, never averaged over a swept parameter. Past 4 × 4 panels, 12 series a panel
    or a dimension with no channel left, several figures (path-2, path-3, ...), said in the
    notes. `choice` sets axes, channels and a filter. Nothing when the x axis does not vary.
    keep=True leaves the matplotlib figures open (for inspection). Reads either table shape."""
    choice = choice or Choice()
    df = flat_view(df)
    sub = _where(df[df.experiment == experiment], choice.where)
    kinds = sub["noise_kind"].dropna().unique() if "noise_kind" in sub else []
    _CONTEXT.clear()
    if len(kinds) == 1:
        _CONTEXT["noise_kind"] = str(kinds[0])
    spec = experiment_spec(experiment, sub)
    if choice.x or choice.y:
        x = _check_column(sub, choice.x, "x", list(sub.columns)) if choice.x else spec.x
        y = _check_column(sub, choice.y, "y", metric_columns(sub)) if choice.y else spec.metric
        spec = Spec(experiment, y, x, spec.metric_range if y == spec.metric else None, spec.theory)
    if sub.empty or spec.metric is None or spec.x is None:
        return []
    var = find_varying(sub, spec.x)
    rows = sub[sub[spec.x].notna() & sub[spec.metric].notna()]
    if rows.empty:
        return []
    fixed = {c: getattr(choice, c) for c in CHANNELS if getattr(choice, c)}
    fixed = {c: _check_column(rows, v, c, var.dims + [SERIES]) for c, v in fixed.items()}
    fixed = {c: (None if v == "none" else v) for c, v in fixed.items()}
    own = own_parameters(rows, var.dims)
    order = {}
    dims = list(var.dims)
    notes: list[str] = []
    if "model" in dims and (not fixed or SERIES in fixed.values() or not ({"model", *own} & set(fixed.values()))):
        labels, order[SERIES] = _series(rows, own)
        rows = rows.assign(**{SERIES: labels})
        dims = [SERIES] + [d for d in dims if d != "model" and d not in own]
        if SERIES not in fixed.values():
            # the comparison: the settings that vary for every model are panels, not line styles
            fixed = {"style": None, **fixed} if "style" not in fixed else fixed
            if len(order[SERIES]) > MAX_LINES:  # too many lines for one panel: one figure per model
                fixed = {"hue": SERIES, **fixed}
                dims = ["model"] + dims
                rows = rows.assign(model=rows["model"])
                notes.append(f"{len(order[SERIES])} series are more than {MAX_LINES} a panel: one figure per model")
            else:
                fixed = {"hue": SERIES, **fixed}
    for d in {v for v in fixed.values() if v} - set(dims):
        if d not in rows or rows[d].nunique(dropna=False) < 2:  # e.g. fixed by --where: that channel stays empty
            notes.append(f"{axis_label(d)} does not vary here: no channel shows it")
            fixed = {c: (None if v == d else v) for c, v in fixed.items()}
            continue
        dims.append(d)
    lay = plan_layout(rows, dims, fixed)
    if "model" in lay.figures and notes:
        lay.figures = ["model"] + [f for f in lay.figures if f != "model"]
    lay.order = order
    series_keys = [d for d in dims if d in rows]
    stats = seed_stats(rows, series_keys + [spec.x], spec.metric)
    style()
    drawn = []
    groups = _sort(rows[lay.figures].drop_duplicates(), lay.figures).to_dict("records") if lay.figures else [{}]
    if len(groups) > 1:
        notes.append(f"{len(groups)} figures, one per {', '.join(axis_label(f) for f in lay.figures)}: "
                     "more panels or series than one figure shows readably")
    for where in groups:
        part = _select(rows, where)
        _CONTEXT["components"] = tuple(str(part[c].iloc[0]) for c in ("model", "dataset")
                                       if c in part and part[c].nunique() == 1)
        cols = sorted_values(part[lay.col]) if lay.col else []
        rvals = sorted_values(part[lay.row]) if lay.row else []
        chunks = [cols[i:i + MAX_PANELS] for i in range(0, len(cols), MAX_PANELS)] if lay.wrap else [cols]
        for chunk in chunks:
            here = part[_isin(part[lay.col], chunk)] if lay.wrap else part
            pstats = _select(stats, where)
            pstats = pstats[_isin(pstats[lay.col], chunk)] if lay.wrap else pstats
            n = here[spec.metric].groupby([here[d] for d in series_keys + [spec.x]], dropna=False).count()
            lo, hi = int(n.min()), int(n.max())
            seeds = (f"n = {lo}" if lo == hi else f"n = {lo}–{hi}") + (" seeds" if hi != 1 else " seed")
            title = (f"{experiment}: {axis_label(spec.metric)} vs {axis_label(spec.x)}"
                     + "".join(f", {_label(k, v)}" for k, v in where.items())
                     + f"\nmean and 95% Student-t interval over seeds ({seeds})")
            fig, labels, panels = _draw(spec, lay, here, pstats, chunk, rvals, title, notes, where)
            series = sum(1 for ax in fig.axes for line in ax.lines if line.get_gid() == "series")
            name = path if not drawn else path.with_name(f"{path.name}-{len(drawn) + 1}")
            png = save(fig, name, close=not keep)[1]
            drawn.append(Drawn(png, series, _distinct_configs(here, var.dims), title, labels,
                               figure=fig if keep else None, panels=panels))
    for d in drawn:
        d.notes = sorted(set(notes))
    return drawn


def _distinct_configs(rows: pd.DataFrame, dims: list[str]) -> int:
    return len(rows[dims].drop_duplicates()) if dims else 1


def experiment_figure(df: pd.DataFrame, experiment: str, path: Path, *, choice: Choice | None = None) -> Path | None:
    """The first figure of experiment_figures (PDF and PNG at path), or None."""
    drawn = experiment_figures(df, experiment, path, choice=choice)
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
    own = _own_settings(sub, [d for d in var.follows if sub[d].isna().any()])
    follows = {d: by for d, by in var.follows.items() if not any(d in names for names in own.values())}
    if follows:
        lines["follows"] = "; ".join(f"{d} follows {', '.join(by)}" for d, by in follows.items())
    if own:  # a model's or dataset's own settings, fixed for it: said once per component, not as "follows"
        lines["own settings"] = "; ".join(f"{name}: " + ", ".join(f"{d}={fmt(v)}" for d, v in values.items())
                                          for name, values in own.items() if values)
    for name, here in var.per_dataset.items():
        owned = {d for values in own.values() for d in values}
        lines[f"within {name}"] = "varies: " + (", ".join(d for d in here if d not in owned) or "nothing")
    lines["constant"] = ", ".join(f"{k}={fmt(v)}" for k, v in var.constant.items()) or "nothing"
    repeats = repeated_seeds(sub, var.parameters)
    if repeats:
        lines["warning"] = (f"{repeats} rows repeat a configuration and seed (e.g. two code versions); "
                            "they are averaged as further samples")
    codes = [c for c in sub.columns if c.startswith("code_") or c == "experiment_code"]
    owner = {"code_model": "model", "code_data": "dataset", "code_experiment": "experiment"}
    # each model has its own code: versions are mixed only when one component's rows hold several
    mixed = [f"{c} ({int(n)})" for c in codes
             if (n := (sub.groupby(owner[c])[c].nunique().max() if c in owner and owner[c] in sub
                       else sub[c].nunique())) > 1]
    if mixed:
        lines["code versions"] = ", ".join(mixed)
    return lines


def _own_settings(sub: pd.DataFrame, columns: list[str]) -> dict[str, dict]:
    """{model or dataset: {parameter: value}} for the columns that belong to one component (a
    model's or a dataset's declared parameter) and hold one value for its rows."""
    try:
        from ..data import DATASETS
        from ..models import MODELS
    except ImportError:  # pragma: no cover
        return {}
    out: dict[str, dict] = {}
    for column, registry in (("model", MODELS), ("dataset", DATASETS)):
        for name, part in sub.groupby(column):
            declared = registry[name].params.model_fields if name in registry else {}
            values = {d: part[d].dropna().iloc[0] for d in columns
                      if d in declared and part[d].notna().any() and part[d].nunique() == 1}
            if values:
                out[str(name)] = values
    return out


CSS = ("body{font-family:sans-serif;margin:2em;max-width:1400px}h2{border-top:1px solid #ccc;padding-top:.6em}"
       "dl.vary{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;font-size:13px}"
       "dl.vary dt{font-weight:bold}dl.vary dd{margin:0}dd.constant,dd.metrics{color:#555;font-size:12px}"
       ".scroll{overflow:auto;max-height:32em;max-width:100%;border:1px solid #ddd;margin:.5em 0}"
       "table{border-collapse:collapse;font-size:12px;white-space:nowrap}"
       "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f4f4f4}"
       "thead th{position:sticky;top:0}thead tr:nth-child(2) th{top:1.6em}tbody th,td:first-child{text-align:left;vertical-align:top}figure{margin:1em 0}figcaption{font-size:12px;color:#444}"
       "img{max-width:100%}caption{caption-side:top;text-align:left;font-size:12px;color:#444;padding:2px}"
       ".metrics thead th{white-space:normal;max-width:9em;vertical-align:bottom}")


def _html_table(df: pd.DataFrame, caption: str, *, index: list[str] = ()) -> str:
    """A table in a box that scrolls (wide tables stay inside the page); `index` columns become
    row headers, a repeated value spanning its rows."""
    if index:  # a parameter that takes no part in a row's configuration shows as —, not NaN
        df = df.assign(**{c: df[c].map(lambda v: "—" if v is None or (isinstance(v, float) and math.isnan(v)) else v)
                          for c in index}).set_index(list(index))
    body = df.to_html(index=bool(index), na_rep="", float_format=lambda v: f"{v:.4g}", border=0, sparsify=True)
    i = body.index(">") + 1
    body = body[:i - 1] + f" data-rows='{len(df)}'>" + f"<caption>{html.escape(caption)}</caption>" + body[i:]
    return f"<div class='scroll'>{body}</div>"


METRICS_PER_TABLE = 4  # the every-metric table is split so that it fits the page instead of scrolling


def metric_tables(full: pd.DataFrame, parameters: list[str], metrics: list[str]) -> str:
    """Every metric of every configuration as narrow tables: the varying parameters (not those
    that follow them, said in the header) as row headers, one column per metric holding "mean ± 95% half-width", at most
    METRICS_PER_TABLE metrics a table (each table repeats the parameters), headers in words
    that wrap (the column name in the title); n as a column only where it differs by cell."""
    e = html.escape
    ns = full[[f"{m}_n" for m in metrics]].stack() if metrics else pd.Series(dtype=float)
    ns = ns[ns > 0]  # a metric a configuration does not define counts no seeds there
    same_n = ns.nunique() <= 1
    groups = [metrics[i:i + METRICS_PER_TABLE] for i in range(0, len(metrics), METRICS_PER_TABLE)] or [[]]
    out = []
    for i, group in enumerate(groups):
        table = pd.DataFrame({m: [_ci(mu, ci, n, show_n=not same_n) for mu, ci, n in
                                  zip(full[f"{m}_mean"], full[f"{m}_ci95"], full[f"{m}_n"])] for m in group},
                             index=full.index)
        table = pd.concat([full[parameters], table], axis=1) if parameters else table
        caption = ("mean ± 95% Student-t half-width over seeds"
                   + (f", n = {int(ns.iloc[0])} in every cell" if same_n and len(ns) else ", n per cell")
                   + (f" (metrics {i * METRICS_PER_TABLE + 1}–{i * METRICS_PER_TABLE + len(group)} of {len(metrics)})"
                      if len(groups) > 1 else ""))
        body = _html_table(table, caption, index=parameters)
        for m in group:  # a header in words, free to wrap; the column's name as its title
            body = body.replace(f"<th>{e(m)}</th>", f"<th title='{e(m)}'>{e(_word_label(m))}</th>", 1)
        out.append(body.replace("<div class='scroll'>", f"<div class='scroll metrics' data-metrics='{len(group)}'>", 1))
    return "".join(out)


def _section(df, experiment: str, out: Path, choice: Choice | None = None,
             index: dict | None = None) -> tuple[str, list[str], list[Path]]:
    sub = _where(df[df.experiment == experiment], (choice or Choice()).where)
    spec = experiment_spec(experiment, sub)
    if spec.metric is None:
        return f"<h2 id='{html.escape(experiment)}'>{html.escape(experiment)}</h2><p>no metric stored</p>", \
            [f"\n## {experiment}\n", "no metric stored\n"], []
    var = find_varying(sub, spec.x)
    drawn = experiment_figures(df, experiment, out / experiment, choice=choice)
    if index is not None:
        index[experiment] = [{"png": d.png.name, "title": d.title, "series": d.series, "panels": d.panels,
                              "notes": d.notes} for d in drawn]
    lines = describe(sub, spec, var)
    if not drawn:
        lines["figure"] = f"none: the x axis {spec.x or '(none declared)'} has one value"
    for note in sorted({n for d in drawn for n in getattr(d, "notes", [])}):
        key = "theory" if note.startswith("theory") else "coincide" if note.startswith("coinciding") else "figures"
        lines[key] = f"{lines[key]}; {note}" if key in lines else note
    table, caption = main_table(sub, spec, var)
    full = long_table(sub, spec, var)
    csv = out / f"{experiment}.csv"
    full.to_csv(csv, index=False)
    means = [c for c in full.columns if c.endswith("_mean")]
    fixed = {c[:-5]: full[c].iloc[0] for c in means if c != f"{spec.metric}_mean" and full[c].nunique(dropna=False) == 1}
    if fixed:  # shown once in the header, not as a column of equal numbers
        lines["metrics constant here"] = ", ".join(f"{m}={fmt(v)}" for m, v in fixed.items())
    metrics = [c[:-5] for c in means if c[:-5] not in fixed]
    e = html.escape
    header = "".join(f"<dt>{e(k)}</dt><dd class='{e(k.split()[0])}'>{e(v)}</dd>" for k, v in lines.items())
    figs = "".join(
        f"<figure data-series-count='{d.series}' data-configurations='{d.configurations}' "
        f"data-panels='{len(d.panels)}' data-png='{e(d.png.name)}'>"
        f"<img alt='{e(d.title)}' src='data:image/png;base64,{base64.b64encode(d.png.read_bytes()).decode()}'>"
        f"<figcaption>{e(d.title)}: {d.series} series for {d.configurations} configurations"
        + (f"; theory: {e(', '.join(d.theory))}" if d.theory else "") + "</figcaption></figure>" for d in drawn)
    page = (f"<section id='{e(experiment)}' data-experiment='{e(experiment)}'><h2>{e(experiment)}</h2>"
            f"<dl class='vary'>{header}</dl>{figs}<h3>{e(spec.metric)}</h3>{_html_table(table, caption, index=var.dims if spec.x else [])}"
            f"<details><summary>every metric, every configuration ({len(full)} rows; "
            f"<a href='{e(csv.name)}'>{e(csv.name)}</a> has sd and n too)</summary>"
            f"{metric_tables(full, var.dims + ([var.x] if var.x else []), metrics)}</details></section>")
    md = [f"\n## {experiment}\n"] + [f"- **{k}**: {v}" for k, v in lines.items()] + [""]
    md += [f"![{experiment}]({d.png.name})\n" for d in drawn]
    md += [caption + "\n", table.to_markdown(index=False), "", f"Every metric: [{csv.name}]({csv.name})\n"]
    return page, md, [d.png for d in drawn] + [csv]


def write_report(root: Path, out: Path | None = None, *, choice: Choice | None = None) -> list[Path]:
    """report.md, report.html (offline, images embedded), aggregate.csv, rows.csv (the table
    `load_results` gives: `<kind>.<name>` parameter columns), index.json (per figure: its panels
    with their fixed settings, the series in each with label, points and seeds) and one CSV and
    figure set per experiment under out (default root/report). `choice`: the reader's picture."""
    spaced = load_results(root)
    df = flat_view(spaced)
    if choice is not None and choice.where:  # the reader's subset, in every file of the report
        df = _where_some(df, choice.where)
        spaced = spaced[spaced.cell_key.isin(df.cell_key)]
    out = out or root / "report"
    out.mkdir(parents=True, exist_ok=True)
    links = sorted(p.name for p in out.iterdir() if p.is_symlink())
    if links:  # a report file is written in place: through a link it would land anywhere
        raise PermissionError(f"{out} holds symbolic links ({', '.join(links[:3])}); ambench never writes through a "
                              "link: remove them or choose another --out")
    aggregate(df).to_csv(out / "aggregate.csv", index=False)
    spaced.to_csv(out / "rows.csv", index=False)
    index: dict = {}
    experiments = sorted(df.experiment.unique())
    intro = (f"{len(df)} cells in {len(experiments)} experiment{'s' if len(experiments) != 1 else ''} "
             f"({', '.join(experiments)}); datasets: {', '.join(sorted(map(str, df.dataset.unique())))}. "
             "Means over seeds only, with 95% Student-t intervals; one series per configuration.")
    sections, md, files = [], [f"# ambench report: {root}\n", intro + "\n"], []
    for experiment in experiments:
        page, lines, paths = _section(df, experiment, out, choice, index)
        sections.append(page)
        md += lines
        files += paths
    (out / "report.md").write_text("\n".join(md))
    nav = " · ".join(f"<a href='#{html.escape(e)}'>{html.escape(e)}</a>" for e in experiments)
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>ambench report</title>"
            f"<style>{CSS}</style></head><body><h1>ambench report</h1>"
            f"<p>{html.escape(str(root))}: {html.escape(intro)}</p><p>{nav}</p>" + "".join(sections) + "</body></html>")
    (out / "report.html").write_text(page)
    import json

    (out / "index.json").write_text(json.dumps({"results": str(root), "experiments": index}, indent=1,
                                               ensure_ascii=False, default=str) + "\n")
    return [out / "report.md", out / "aggregate.csv", out / "report.html", out / "index.json"] + files
