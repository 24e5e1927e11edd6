"""Reports and figures from stored results: the only place that knows pandas and seaborn.

The paper figures live in figures/ (one folder each: figure.py and sweep.yaml); what they share
is public here: the style (colours, sizes, bands), the crossings, fits and theory curves."""

from ._capacity import (UHN_DATASETS as UHN_DATASETS, UHN_SEPARATIONS as UHN_SEPARATIONS,
                        bootstrap_crossing as bootstrap_crossing, bootstrap_mean_crossing as bootstrap_mean_crossing,
                        chn_theory as chn_theory, double_factorial as double_factorial,
                        exp_capacity_alpha as exp_capacity_alpha, fit_growth as fit_growth,
                        interpolate_crossing as interpolate_crossing, khalf_table as khalf_table,
                        krotov_hopfield_capacity as krotov_hopfield_capacity, rate_function as rate_function)
from ._pages import Choice as Choice, experiment_figure as experiment_figure, save as save, style as style, write_report as write_report
from ._style import (DASHES as DASHES, MARKERS as MARKERS, PALETTE as PALETTE, SINGLE as SINGLE,
                     THEORY_COLOUR as THEORY_COLOUR, colours as colours, label as label, line_band as line_band,
                     log_ticks as log_ticks, model_colour as model_colour, only_value as only_value,
                     rate_axis as rate_axis, size as size, stats as stats)
from ..params import dataset_label as dataset_label
from ._tables import (aggregate as aggregate, consolidate as consolidate, flat_view as flat_view,
                      load_results as load_results)
