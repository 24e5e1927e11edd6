import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AMBENCH = [sys.executable, "-m", "ambench.cli"]


def run_cli(*args, timeout=600, env=None, cwd=None):
    """Run the `ambench` command in a subprocess; returns the CompletedProcess."""
    full_env = {**os.environ, "WANDB_SILENT": "true", **(env or {})}
    return subprocess.run([*AMBENCH, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=full_env, cwd=cwd or ROOT)


@pytest.fixture(autouse=True, scope="session")
def _compilation_cache(tmp_path_factory):
    """Every `ambench` subprocess of the session shares one cache (compiled programs, parsed
    datasets), outside ~/.cache."""
    os.environ.setdefault("AMBENCH_CACHE", str(tmp_path_factory.mktemp("ambench-cache")))


@pytest.fixture
def cli():
    return run_cli


IN_CI = os.environ.get("CI", "").lower() == "true"


def require(available: bool, what: str, how: str) -> None:
    """A test that needs a system package or service: skipped with the reason outside CI,
    failed in CI (CI=true), whose .ci/run installs or starts it."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI must have {what}: {how}")
    pytest.skip(f"needs {what} ({how})")


# The slow tier, by measured duration (> ~5 s each on 2 cores): `make test-fast` leaves these out.
SLOW = {
    "test_chn_capacity_n200_is_near_0138_and_dam3_stores_5x_more", "test_classify_trains_the_conditional_ham_above_chance",
    "test_grouped_cells_equal_cell_by_cell", "test_masked_padding_changes_nothing",
    "test_discrete_fast_sweeps_are_the_synapse_energys_own_minimisation", "test_chn_async_is_the_hebbian_rule_with_zero_diagonal",
    "test_incremental_async_sweep_equals_textbook_rule", "test_incremental_exponential_sweep_equals_textbook_rule",
    "test_event_driven_chn_sweep_equals_the_general_sweep", "test_sparsemax_equals_the_closed_form_and_entmax_is_a_distribution",
    "test_energy_never_rises_along_retrieval", "test_a_held_layer_is_a_constant_of_the_descent",
    "test_energy_never_increases_along_the_integrator", "test_differentiable_descent_equals_the_while_loop",
    "test_every_figure_from_committed_results_without_running_anything", "test_radius_is_where_retrieval_stops",
    "test_second_process_reads_the_cache_and_agrees", "test_editing_an_experiment_file_is_seen_by_status_and_rerun_outdated_reruns_exactly_those",
    "test_killed_run_reissued_computes_only_the_missing_cells", "test_run_stores_a_grid_and_skips_it_on_reissue",
    "test_concurrent_consolidation_never_tears_the_table",
    "test_sigkill_of_the_driver_at_random_moments_then_reissue_stores_each_cell_once",
}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.originalname in SLOW or item.name in SLOW:
            item.add_marker(pytest.mark.slow)
