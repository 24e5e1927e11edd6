import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# Hypothesis draws new examples on every run (a developer's `make test` keeps exploring); `.ci/run`
# sets HYPOTHESIS_PROFILE=ci, whose examples are derived from each test's name, so that CI fails
# on a change and not on a newly drawn example. A failure found by exploring is a test to fix.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

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
