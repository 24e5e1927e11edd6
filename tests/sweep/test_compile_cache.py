"""The compilation cache: a second process reuses the first one's programs, same results."""

import json

import pandas as pd
import pytest

from ambench import compile_cache


def test_cache_folder_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AMBENCH_COMPILATION_CACHE", "off")
    assert compile_cache.cache_dir() is None
    monkeypatch.setenv("AMBENCH_COMPILATION_CACHE", str(tmp_path / "c"))
    assert compile_cache.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("AMBENCH_COMPILATION_CACHE")
    monkeypatch.setenv("AMBENCH_CACHE", str(tmp_path / "root"))
    assert compile_cache.cache_dir().parent == tmp_path / "root"  # one folder per host below
    monkeypatch.delenv("AMBENCH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compile_cache.cache_dir().parent == tmp_path / "ambench"


@pytest.mark.slow
def test_second_process_reads_the_cache_and_agrees(cli, tmp_path):
    cache = tmp_path / "xla"
    args = ["run", "noise", "--model", "chn,dam-softmax", "--dataset", "random", "--set", "dim=40",
            "--set", "n_memories=4", "--set", "noise_kind=flip", "--set", "noise_level=0.1"]
    first = cli(*args, "--out", tmp_path / "a", env={"AMBENCH_COMPILATION_CACHE": str(cache)})
    assert first.returncode == 0, first.stderr
    entries = sorted(p.name for p in cache.iterdir())
    assert entries, "nothing was written to the compilation cache"
    second = cli(*args, "--out", tmp_path / "b", env={"AMBENCH_COMPILATION_CACHE": str(cache)})
    assert second.returncode == 0, second.stderr
    assert sorted(p.name for p in cache.iterdir()) == entries  # every program came from the cache
    metrics = ["success_rate", "steps", "wrong_bits", "nearest_rate"]
    a, b = (pd.read_parquet(tmp_path / d / "results.parquet").sort_values("model") for d in "ab")
    for m in metrics:
        if m in a:
            assert json.dumps(a[m].tolist()) == json.dumps(b[m].tolist())
    home = tmp_path / "home"
    off = cli(*args, "--out", tmp_path / "c", env={"AMBENCH_COMPILATION_CACHE": "off", "XDG_CACHE_HOME": str(home)})
    assert off.returncode == 0 and not (home / "ambench").exists()
