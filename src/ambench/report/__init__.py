"""Reports and figures from stored results: the only place that knows pandas and seaborn."""

from ._pages import Choice as Choice, experiment_figure as experiment_figure, save as save, style as style, write_report as write_report
from ._style import SINGLE as SINGLE, label as label, model_colour as model_colour, size as size
from ._tables import (aggregate as aggregate, consolidate as consolidate, flat_view as flat_view,
                      load_results as load_results)
