import os
import shutil
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


NEEDS = ("slurm", "browser", "datasets", "docs")  # the markers of tests that need something installed or started
_current: list = [None]  # the test being set up or run (pytest_runtest_setup)


def pytest_runtest_setup(item):
    _current[0] = item


def require(available: bool, what: str, how: str) -> None:
    """A test that needs a system package, a browser, a data set's files or a service: skipped
    with the reason outside CI, failed in CI (CI=true), whose .ci/run installs or starts it.
    Such a test must carry the marker of what it needs (NEEDS: `slurm`, `browser`, `datasets`),
    so that .ci/run's second pass selects exactly these; one without is failed here."""
    item = _current[0]
    if item is not None and not any(item.get_closest_marker(m) for m in NEEDS):
        pytest.fail(f"{item.nodeid} calls require({what!r}) but carries none of the markers {', '.join(NEEDS)}: "
                    "add @pytest.mark.<one of them> so that .ci/run's second pass runs it")
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI must have {what}: {how}")
    pytest.skip(f"needs {what} ({how})")


FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist


def require_chromium() -> str:
    """Debian's headless Chromium (marker `browser`): its path."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    require(found is not None, "Debian's chromium (a headless browser)", "apt-get install chromium; .ci/run installs it")
    return found


def require_fashion_mnist() -> Path:
    """The Fashion-MNIST IDX files of Debian's package (marker `datasets`): their folder."""
    require(FASHION_MNIST.is_dir(), "Debian's dataset-fashion-mnist",
            "apt-get install dataset-fashion-mnist; .ci/run installs it")
    return FASHION_MNIST


def slurm_cluster_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    return out.returncode == 0 and any(s in out.stdout for s in ("idle", "mixed", "allocated"))


def require_slurm() -> None:
    """A running single-node SLURM cluster (marker `slurm`)."""
    require(slurm_cluster_up(), "a local SLURM cluster", "run `make cluster-up` (as root); .ci/run starts it")


# The slow tier, by measured duration (>= 2.5 s each on 2 cores): `make test-fast` leaves these out.
SLOW = {
    "test_force_and_rerun_outdated_rerun_stored_cells_with_the_local_executor",
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
    "test_bad_input_is_one_line_with_the_fix",
    "test_sigint_ends_a_sweep_within_seconds_even_inside_a_long_computation",
    "test_status_imports_no_jax_once_versions_are_cached", "test_cached_component_versions_are_the_registries_and_need_no_jax",
    "test_energy_never_increases_at_the_default_step",
    "test_one_sweep_exponential_dam_scores_the_state_after_the_sweep",
    "test_the_cell_scores_the_state_after_five_updates", "test_max_steps_5_with_tol_0_is_exactly_five_updates",
    "test_clamped_units_do_not_move",
    "test_batched_sweep_stores_the_same_rows_as_cell_by_cell",
    "test_event_driven_chn_retrieval_equals_the_general_path",
    "test_softmax_update_is_one_euler_step_of_the_energy_descent",
    "test_every_model_retrieves_an_uncorrupted_stored_pattern",
    "test_html_report_renders_tables_and_images_in_headless_chromium",
    "test_conditional_ham_classifies_and_generates_its_memories",
    "test_too_many_values_for_a_channel_go_to_facets_then_figures",
    "test_listings",
    "test_changed_model_code_shows_its_cells_as_outdated",
    "test_report_aggregates_over_seeds",
    "test_mnist_noise_l2_at_least_dot_and_both_beat_chn",
    "test_damaged_cell_files_are_quarantined_reported_and_run_again",
    "test_training_lowers_the_classification_loss",
    "test_descend_compiles_once_and_batches",
    "test_union_of_grids_and_local_executor",
    "test_discrete_energy_never_rises_along_the_fixed_point_loop",
    "test_khalf_random_starts_end_on_a_memory_at_tiny_k_and_almost_never_at_huge_k",
    "test_unknown_figure_is_a_one_line_error",
    "test_missing_results_name_the_sweep_to_run",
    "test_html_report_offline_series_match_configurations_in_headless_chromium",
    "test_stored_patterns_are_fixed_points_below_capacity",
    "test_more_than_16_panels_are_split_into_several_figures",
    "test_basins_shrink_with_load_and_stay_in_range",
    "test_corruptions_are_deterministic_and_in_range",
    "test_chunked_online_softmax_equals_the_full_softmax",
}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.originalname in SLOW or item.name in SLOW:
            item.add_marker(pytest.mark.slow)
