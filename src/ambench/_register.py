"""The one way to add a component: `register_model`, `register_dataset`, `register_experiment`,
`register_figure`, called at the top level of the module that defines it (built-ins and other
installed packages alike).

Each returns the registered spec. The component's code version (`spec.version`, stored with
every cell it computes) is derived from the calling module automatically: the normalised code of
that module and of the ambench (or plugin) modules it uses (`ambench._source`), so a changed
model shows its stored results as outdated and a docstring edit does not. This module imports
neither JAX nor the registries until a function is called.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._source import caller_module, module_version
from .params import Params

if TYPE_CHECKING:
    from ._experiment import Experiment, Metric
    from .data import DataSpec, Dataset
    from .models import ModelSpec
    from .report.figures import Figure


def register_model(name: str, *, params: type[Params], doc: str, build: Callable[..., Any],
                   family: Literal["CHN", "DAM", "HAM"] = "DAM", binary: bool = False, maskable: bool = False,
                   check: Callable[[Any], None] | None = None) -> ModelSpec:
    """Register a model: `ambench models` lists it and a cell's `model: NAME` builds it.

    Args:
        name: the name in sweep files and on the command line.
        params: its `Params` class (types, defaults, ranges, choices: the only validation).
        doc: one line saying what it is.
        build: `build(params, patterns, *, labels, image_shape, key, mask) -> AbstractMemory`.
        family: CHN, DAM or HAM (how listings group it).
        binary: it stores ±1 patterns (data sources then default to a binary encoding).
        maskable: it accepts zero-padded memories with a mask (several K in one compiled call).
        check: `check(cell)` raises ValueError naming the fix for a cell it cannot run.

    Example:
        ```python
        class ClippedParams(ambench.Params):
            beta: float = ambench.Field(4.0, gt=0, description="inverse temperature")

        def build(p, patterns, *, labels, image_shape, key, mask):
            return ClippedDAM(patterns, beta=p.beta, mask=mask)

        ambench.register_model("clipped-dam", params=ClippedParams, doc="softmax DAM, clipped read-out",
                               build=build, maskable=True)
        ```
    """
    from .models._registry import MODELS, ModelSpec

    version = module_version(caller_module())
    return MODELS.register(ModelSpec("model", name, params, doc, version, family=family, binary=binary,
                                     build=build, maskable=maskable, check=check))


def register_dataset(name: str, *, params: type[Params], doc: str, images: Callable[[Any], Dataset] | None = None,
                     size: Callable[[Any], int | None] | None = None, dim: Callable[[Any], int | None] | None = None,
                     check: Callable[[Any], None] | None = None) -> DataSpec:
    """Register a pattern source: `ambench datasets` lists it and a cell's `dataset: NAME` reads it.

    Args:
        name: the name in sweep files and on the command line.
        params: its `Params` class (e.g. `ambench.data.ImageParams` for an image source).
        doc: one line saying what it is and where it comes from.
        images: `images(params) -> Dataset` for an image source; None for generated patterns.
        size, dim: `(params) -> int | None`, the number of images and the pattern dimension when
            known before loading (so a too-large K is refused before anything runs).
        check: `check(cell)` raises ValueError naming the fix (e.g. a missing folder).
    """
    from .data._sources import DATASETS, DataSpec

    version = module_version(caller_module())
    return DATASETS.register(DataSpec("data", name, params, doc, version, images=images, size=size or _none,
                                      dim=dim or _none, check=check))


def _none(params) -> None:
    return None


def register_experiment(name: str, *, params: type[Params], doc: str, run: Callable[..., dict[str, Any]],
                        main_metric: str, x_axis: str, metrics: Sequence[Metric] = (),
                        run_many: Callable[..., list[dict[str, Any]]] | None = None,
                        groupable: Callable[[Any], bool] | None = None, check: Callable[[Any], None] | None = None,
                        theory: Callable[[Any], Any] | None = None, report_axes: Callable[[Any], Any] | None = None,
                        metric_range: tuple[float, float] | None = None,
                        shown_metrics: Sequence[str] | None = None) -> Experiment:
    """Register an experiment (the fields are those of `ambench.Experiment`, documented there).

    Call it at the end of the experiment's file, which lives in the experiments folder or in an
    installed package that names the module in the `ambench.experiments` entry-point group.
    Its version covers the file and the ambench code it uses, except models and energy (each
    model's own version covers those).
    """
    from ._experiment import EXPERIMENTS, Experiment, _check_metrics

    module = caller_module()
    version = module_version(module, exclude=("ambench.models", "ambench.energy"))
    declared = _check_metrics(metrics)
    if declared and main_metric not in {m.name for m in declared}:
        raise ValueError(f"experiment {name}: main_metric {main_metric!r} is not among its declared metrics")
    hooks = {} if groupable is None else {"groupable": groupable}
    return EXPERIMENTS.register(Experiment(
        "experiment", name, params, doc, version, main_metric=main_metric, x_axis=x_axis, run=run,
        run_many=run_many, **hooks, check=check, theory=theory, report_axes=report_axes,
        metric_range=metric_range, shown_metrics=None if shown_metrics is None else tuple(shown_metrics),
        metrics=declared, module=module))


def register_figure(name: str, *, sweep: str, title: str, plot: Callable[..., Any],
                    sweep_file: str | Path | None = None) -> Figure:
    """Register a paper figure: `ambench figures --only NAME` draws it from stored results only.

    Args:
        name: the figure's name (F1, or a lab's own).
        sweep: the sweep whose results it reads (RESULTS/<sweep>/, RESULTS/smoke/<sweep>/).
        title: a few words for listings.
        plot: `plot(df) -> (matplotlib Figure, table or None, note)`.
        sweep_file: the sweep file, when it is not sweeps/<sweep>.yaml (a plugin ships its own).
    """
    from .report.figures import FIGURES, Figure

    return FIGURES.register(Figure(name, sweep, title, plot, None if sweep_file is None else Path(sweep_file)))

