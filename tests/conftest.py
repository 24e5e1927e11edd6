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


@pytest.fixture
def cli():
    return run_cli
