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
