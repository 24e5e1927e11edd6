"""`ambench data prepare`: tfds' own builder under tfds' mock data, and the messages without it."""

import subprocess
import sys

import pytest
import tensorflow_datasets as tfds

from ambench import data
from ambench.data._prepare import prepare


@pytest.fixture(autouse=True)
def _fresh_cache():
    data.load_dataset.cache_clear()
    yield
    data.load_dataset.cache_clear()


@pytest.mark.parametrize("name, shape", [("mnist", (1, 28, 28)), ("cifar10", (3, 32, 32))])
def test_prepare_builds_then_reads_every_split_back(name, shape, tmp_path, monkeypatch):
    built = []
    with tfds.testing.mock_data(num_examples=6):  # download_and_prepare is tfds' no-op here
        real_builder, real_prepare = tfds.builder, tfds.core.DatasetBuilder.download_and_prepare
        monkeypatch.setattr(tfds, "builder", lambda n, **kw: (built.append((n, kw)), real_builder(n, **kw))[1])
        monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare",
                            lambda self, *a, **k: (built.append("prepared"), real_prepare(self, *a, **k))[1])
        lines = prepare(name, data_dir=str(tmp_path), progress=lambda m: None)
    assert built == [(name, {"data_dir": str(tmp_path), "file_format": "array_record"}), "prepared"]
    assert lines[:2] == [f"{name} {s}: 6 images of shape {shape}, 10 classes"
                         for s in ("train", "test")]
    assert lines[-1] == f"use it with --set data_dir={tmp_path}"


def test_prepare_without_the_builders_modules_names_the_packages(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "importlib_resources", None)  # as on a machine without it
    with pytest.raises(data.DataUnavailable) as err:
        prepare("mnist", data_dir=str(tmp_path), progress=lambda m: None)
    msg = str(err.value)
    assert "pip install tensorflow importlib_resources" in msg
    assert "ambench data prepare mnist --data-dir DIR" in msg


def test_check_only_reports_an_unprepared_folder_with_the_command(tmp_path):
    with pytest.raises(data.DataUnavailable, match="ambench data prepare cifar10 --from cifar-10-python.tar.gz --data-dir DIR"):
        prepare("cifar10", data_dir=str(tmp_path), download=False)


def test_non_tfds_sources(tmp_path):
    assert "nothing to prepare" in prepare("random")[0]
    assert prepare("mnist-5k") == ["mnist-5k train: 5000 images of shape (1, 28, 28), 10 classes"]
    with pytest.raises(data.DataUnavailable, match="drop --data-dir"):
        prepare("mnist-5k", data_dir=str(tmp_path))
    with pytest.raises(data.DataUnavailable, match="give --data-dir"):
        prepare("mnist-idx")
    with pytest.raises(data.DataUnavailable, match="no IDX folder"):
        prepare("mnist-idx", data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(data.DataUnavailable, match="unknown dataset 'nope'"):
        prepare("nope")


def test_cli_data_prepare_check_says_what_to_do(tmp_path):
    run = subprocess.run([sys.executable, "-m", "ambench.cli", "data", "prepare", "cifar10", "--data-dir",
                          str(tmp_path), "--check"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "error: cifar10: no cifar-10-python.tar.gz" in run.stderr and "ambench data prepare cifar10" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr  # no absl warning before it
