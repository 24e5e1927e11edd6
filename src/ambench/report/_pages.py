"""Reports: the aggregate as markdown, CSV and a static HTML page with figures embedded."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from ._tables import aggregate, config_columns, load_results  # noqa: E402

MAIN_METRIC = {"capacity": "success_rate", "noise": "success_rate", "convergence": "steps",
               "throughput": "tflops", "classify": "accuracy"}
X_AXIS = {"capacity": "n_memories", "noise": "noise_level", "convergence": "n_memories",
          "throughput": "n_memories", "classify": "n_memories"}


def style() -> None:
    """The fixed style every ambench figure uses (deterministic output)."""
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "svg.hashsalt": "ambench",
                         "pdf.fonttype": 42})


def save(fig, path: Path) -> list[Path]:
    """PDF and PNG, with metadata that would make bytes differ between runs removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path.with_suffix(".pdf"), bbox_inches="tight", metadata={"CreationDate": None})
    fig.savefig(path.with_suffix(".png"), bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return [path.with_suffix(".pdf"), path.with_suffix(".png")]


def experiment_figure(df, experiment: str, path: Path) -> Path | None:
    """One panel per dataset: the experiment's main metric vs its main axis, a line per model."""
    sub = df[df.experiment == experiment]
    x, y = X_AXIS.get(experiment), MAIN_METRIC.get(experiment)
    if sub.empty or x not in sub or y not in sub or sub[x].nunique() < 2:
        return None
    style()
    hue = "model" if "noise_kind" not in sub or sub["noise_kind"].nunique() == 1 else sub["model"] + " / " + sub["noise_kind"]
    g = sns.relplot(data=sub.assign(series=hue), x=x, y=y, hue="series", col="dataset", kind="line",
                    marker="o", errorbar="sd", height=3, aspect=1.2, facet_kws={"sharex": False})
    g.figure.suptitle(f"{experiment}: {y} vs {x} (mean ± sd over seeds)", y=1.03)
    return save(g.figure, path)[1]


def write_report(root: Path, out: Path | None = None) -> list[Path]:
    df = load_results(root)
    out = out or root / "report"
    out.mkdir(parents=True, exist_ok=True)
    agg = aggregate(df)
    agg.to_csv(out / "aggregate.csv", index=False)
    df.to_csv(out / "rows.csv", index=False)
    sections, md = [], [f"# ambench report: {root}\n", f"{len(df)} cells; mean, sd, 95% interval and n over seeds.\n"]
    for experiment, part in agg.groupby("experiment"):
        cols = [c for c in part.columns if part[c].notna().any()]
        md += [f"\n## {experiment}\n", part[cols].to_markdown(index=False, floatfmt=".4g"), ""]
        fig = experiment_figure(df, experiment, out / f"{experiment}")
        img = ""
        if fig is not None:
            data = base64.b64encode(fig.read_bytes()).decode()
            img = f'<img alt="{experiment} figure" src="data:image/png;base64,{data}">'
            md.append(f"![{experiment}]({fig.name})\n")
        sections.append(f"<h2>{html.escape(experiment)}</h2>{img}"
                        + part[cols].to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep=""))
    (out / "report.md").write_text("\n".join(md))
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>ambench report</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}"
            "td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:100%}</style></head><body>"
            f"<h1>ambench report</h1><p>{html.escape(str(root))}: {len(df)} cells, "
            f"configs vary in {html.escape(', '.join(config_columns(df)))}</p>" + "".join(sections) + "</body></html>")
    (out / "report.html").write_text(page)
    return [out / "report.md", out / "aggregate.csv", out / "report.html"]
