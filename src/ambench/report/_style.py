"""The one look of the paper figures: palette, axis labels, sizes, bands and log ticks.

Every figure in `figures.py` draws with these helpers, so a model has the same colour in every
figure, an axis says in words what it measures (with the paper's symbol), and a figure is made
at a journal's single- or double-column width. Bands are 95% Student-t intervals over seeds
(`_varying.seed_stats`), clipped to the metric's range (`_varying.metric_range`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
import numpy as np
import pandas as pd
import seaborn as sns

from ._varying import metric_range, seed_stats

SINGLE = (3.4, 2.6)  # inches: one column of a two-column paper
DOUBLE = (7.0, 2.8)  # inches: the full text width

# Okabe & Ito (2008), safe for the common colour-vision deficiencies; black last.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
THEORY_COLOUR = "0.35"  # grey: theory and reference lines, always named in the legend

# Paul Tol's "muted" scheme (also colour-blind safe, none close to the palette above): the
# colours of models that MODEL_COLOURS does not name, before evenly spaced hues.
MORE_COLOURS = ("#332288", "#44AA99", "#882255", "#999933", "#AA4499", "#117733", "#CC6677", "#88CCEE", "#DDCC77")

# The override map: a fixed colour for the built-in models, whatever subset a figure draws.
MODEL_COLOURS = {
    "chn": PALETTE[0], "dam": PALETTE[1], "dam-softmax": PALETTE[2], "ham-conv": PALETTE[3],
    "ham-conditional": PALETTE[4], "chn-continuous": PALETTE[5], "uhn": PALETTE[7], "sparse-hopfield": PALETTE[6],
    "energy-transformer": "#882255",  # a ninth model: Paul Tol's wine, apart from the eight above for colour-blind eyes
}
NONNEGATIVE = {"steps", "capacity", "tflops", "matmul_tflops", "ceiling_fraction", "K_half", "queries_steps_per_s"}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
DASHES = ("-", "--", "-.", ":")

# Axis labels: the declarations' words and symbols (ambench.params.label), one vocabulary for the
# report, the paper figures and W&B.


def style() -> None:
    """The one style of every ambench figure (paper figures and report pages): deterministic
    output, small fonts that read at column width, the one palette."""
    sns.set_theme(context="paper", style="whitegrid", palette=list(PALETTE))
    plt.rcParams.update({
        "figure.dpi": 100, "savefig.dpi": 200, "svg.hashsalt": "ambench", "pdf.fonttype": 42,
        "font.size": 7, "axes.titlesize": 7.5, "axes.labelsize": 7, "xtick.labelsize": 6.5, "ytick.labelsize": 6.5,
        "legend.fontsize": 6, "legend.title_fontsize": 6.5, "figure.titlesize": 8, "lines.linewidth": 1.2,
        "lines.markersize": 3.5, "axes.prop_cycle": plt.cycler(color=list(PALETTE)), "grid.linewidth": 0.5,
    })


def label(column: str, *, noise_kind: str | None = None) -> str:
    """The axis label of a column: words with the symbol (noise levels say which noise)."""
    from ..params import label as declared

    return declared(column, noise_kind=noise_kind)


def model_colour(model: str, *, known: Iterable[str] | None = None) -> str:
    """The model's colour in every figure, by rule: the override map `MODEL_COLOURS` first;
    any other model (a plugin's, a new file) takes, in name order among the models that are not
    in the map (`known`, default: the registered ones, plus this one), the next of
    `MORE_COLOURS`, then evenly spaced hues. Distinct for any number of models, never a colour
    of the map (so never the black of uhn)."""
    if model in MODEL_COLOURS:
        return MODEL_COLOURS[model]
    if known is None:
        from ..models import MODELS

        known = MODELS
    others = sorted({m for m in known if m not in MODEL_COLOURS} | {model})
    i = others.index(model)
    free = [c for c in MORE_COLOURS if c not in MODEL_COLOURS.values()]
    if i < len(free):
        return free[i]
    return _hue(i - len(free), len(others) - len(free))


def _hue(i: int, n: int) -> str:
    """The i-th of n evenly spaced hues at a mid lightness (never grey, black or white)."""
    import colorsys

    r, g, b = colorsys.hls_to_rgb((0.05 + i / n) % 1.0, 0.45, 0.75)
    return f"#{round(r * 255):02X}{round(g * 255):02X}{round(b * 255):02X}"


SERIES_ORDER = (0, 1, 2, 3, 4, 7, 5, 6)  # black sixth, the pale yellow last


def colours(values: Iterable) -> dict:
    """Colours for the values of a categorical series (not models), from the one palette."""
    return {v: PALETTE[SERIES_ORDER[i % len(PALETTE)]] for i, v in enumerate(values)}


def size(kind: str = "single", *, height: float | None = None) -> tuple[float, float]:
    """SINGLE or DOUBLE width in inches, optionally taller (for several rows of panels)."""
    w, h = SINGLE if kind == "single" else DOUBLE
    return (w, height if height is not None else h)


def stats(df: pd.DataFrame, keys: Sequence[str], metric: str) -> pd.DataFrame:
    """Mean, sd, n and 95% t half-width of `metric` over seeds per `keys`, with the band's ends
    `lo`, `hi` clipped to the metric's range ([0, 1] for rates; steps and counts ≥ 0)."""
    out = seed_stats(df, list(keys), metric).rename(columns={"_mean": "mean", "_std": "sd", "_n": "n",
                                                             "_ci95": "ci95"})
    low, high = metric_range(metric) or ((0.0, np.inf) if metric in NONNEGATIVE else (-np.inf, np.inf))
    half = out["ci95"].fillna(0.0)
    out["lo"] = np.clip(out["mean"] - half, low, high)
    out["hi"] = np.clip(out["mean"] + half, low, high)
    return out.sort_values(list(keys)).reset_index(drop=True)



def line_band(ax, x, s: pd.DataFrame, *, color, label: str | None = None, marker="o", ls="-", dodge=0.0,
              logx: bool = False, **kw):
    """Mean line with its clipped t-band; `dodge` shifts x (a fraction of a decade on a log
    axis, else in x units) so that equal series stay visible side by side."""
    xs = np.asarray(x, float)
    xs = xs * 10 ** dodge if logx else xs + dodge
    (line,) = ax.plot(xs, s["mean"], ls=ls, marker=marker, color=color, label=label, **kw)
    if np.any(s["hi"] > s["lo"]):
        ax.fill_between(xs, s["lo"], s["hi"], color=color, alpha=0.18, lw=0)
    return line


def log_ticks(ax, values, *, axis: str = "x") -> None:
    """A log axis labelled at the given values only, in plain numbers (no colliding minor labels)."""
    values = sorted({float(v) for v in values})
    a = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    a.set_major_locator(ticker.FixedLocator(values))
    a.set_major_formatter(ticker.FixedFormatter([_plain(v) for v in values]))
    a.set_minor_locator(ticker.NullLocator())


def _plain(v: float) -> str:
    return f"{v:g}" if v < 10_000 else f"{v:,.0f}"


def rate_axis(ax) -> None:
    """A [0, 1] rate axis with a little room so that lines at 0 and 1 show."""
    ax.set_ylim(-0.03, 1.03)


def only_value(df, column: str):
    """The one value of `column` in a figure's rows: a setting the figure states in its text
    must not silently vary (else the text would be wrong for some of the drawn cells)."""
    values = df[column].dropna().unique()
    if len(values) != 1:
        raise ValueError(f"the figure states one {column}, but its rows have {sorted(values)}: split the sweep")
    return values[0]
