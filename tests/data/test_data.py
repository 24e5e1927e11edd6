"""Data sources and corruptions: one name one source, honest errors, deterministic noise."""

import gzip
import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

from conftest import require_fashion_mnist

from ambench import data



def test_random_patterns_are_seeded_pm1():
    a = data.random_patterns(5, 40, seed=3)
    assert a.shape == (5, 40) and set(np.unique(a)) == {-1.0, 1.0}
    np.testing.assert_array_equal(a, data.random_patterns(5, 40, seed=3))
    assert not np.array_equal(a, data.random_patterns(5, 40, seed=4))


def test_mnist_5k_is_the_real_embedded_subset():
    ds = data.load_dataset("mnist-5k")
    assert ds.images.shape == (5000, 784) and ds.image_shape == (1, 28, 28)
    assert 0.0 <= ds.images.min() and ds.images.max() == 1.0
    assert np.bincount(ds.labels).tolist() == [500] * 10


def _write_idx(path, array):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def test_idx_folder_loader(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (6, 28, 28)), rng.integers(0, 10, 6)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    ds = data.load_dataset("mnist-idx", data_dir=str(tmp_path))
    np.testing.assert_allclose(ds.images, images.reshape(6, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.labels, labels)


@pytest.mark.datasets
def test_full_fashion_mnist_from_debian_idx_files():
    require_fashion_mnist()
    ds = data.load_dataset("fashion_mnist-idx")
    assert ds.images.shape == (60000, 784) and np.bincount(ds.labels).tolist() == [6000] * 10
    assert data.load_dataset("fashion_mnist-idx", split="test").images.shape == (10000, 784)


def test_missing_idx_folder_says_how_to_get_it(tmp_path):
    with pytest.raises(data.DataUnavailable, match="data_dir"):
        data.load_dataset("mnist-idx", data_dir=str(tmp_path / "nowhere"))


@pytest.mark.parametrize("name, shape", [("mnist", (1, 28, 28)), ("cifar10", (3, 32, 32)), ("fashion_mnist", (1, 28, 28))])
def test_tfds_loading_code_with_tfds_mock_data(name, shape):
    with tfds.testing.mock_data(num_examples=12):
        ds = data.load_dataset.__wrapped__(name, split="train")
    assert ds.images.shape == (12, int(np.prod(shape))) and ds.image_shape == shape
    assert ds.images.dtype == np.float32 and 0 <= ds.images.min() and ds.images.max() <= 1


def test_tfds_cifar_grayscale_with_mock_data():
    with tfds.testing.mock_data(num_examples=4):
        ds = data.load_dataset.__wrapped__("cifar10", split="test", grayscale=True)
    assert ds.image_shape == (1, 32, 32) and ds.images.shape == (4, 1024)


def test_tfds_without_prepared_data_names_the_command(tmp_path):
    with pytest.raises(data.DataUnavailable, match=r"ambench data prepare mnist --data-dir DIR"):
        data.load_dataset.__wrapped__("mnist", data_dir=str(tmp_path), download=False)


def test_encodings():
    x = np.array([[0.0, 0.2, 0.7, 1.0]], np.float32)
    np.testing.assert_array_equal(data.encode(x, "binary"), [[-1, -1, 1, 1]])
    c = data.encode(x, "centered")
    assert abs(c.sum()) < 1e-6 and abs(np.linalg.norm(c) - 1) < 1e-6


def test_sampling_uses_disjoint_blocks_per_seed():
    ds = data.load_dataset("mnist-5k")
    a, _ = data.sample_block(ds, 100, seed=0)
    b, _ = data.sample_block(ds, 100, seed=1)
    assert len(set(a.tolist()) & set(b.tolist())) == 0
    _, labels = data.sample_block(ds, 50, seed=2, balanced=True)
    assert np.bincount(labels).tolist() == [5] * 10
    with pytest.raises(ValueError, match="larger than"):
        data.sample_block(ds, 5001, seed=0)


@pytest.mark.slow
def test_corruptions_are_deterministic_and_in_range():
    key = jax.random.PRNGKey(0)
    x = jnp.where(jax.random.bernoulli(key, 0.5, (100,)), 1.0, -1.0)
    flipped = data.corrupt(x, "flip", 0.2, key=key, low=-1, high=1)
    assert int(jnp.sum(flipped != x)) == 20
    np.testing.assert_array_equal(flipped, data.corrupt(x, "flip", 0.2, key=key, low=-1, high=1))
    img = jax.random.uniform(key, (1 * 4 * 5,))
    noisy = data.corrupt(img, "gaussian", 0.5, key=key)
    assert 0 <= float(noisy.min()) and float(noisy.max()) <= 1
    masked = data.corrupt(img, "mask_rows", 0.5, key=key, image_shape=(1, 4, 5)).reshape(4, 5)
    assert jnp.all(masked[2:] == 0) and jnp.array_equal(masked[:2], img.reshape(4, 5)[:2])
    assert float(jnp.mean(data.corrupt(img, "mask_pixels", 0.3, key=key) == 0)) == pytest.approx(0.3, abs=0.25)
    sp = data.corrupt(img, "salt_pepper", 1.0, key=key)
    assert set(np.unique(sp).tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("kind, level", [("flip", 1.5), ("mask_rows", -0.1), ("gaussian", -1.0), ("blur", 0.1)])
def test_bad_noise_levels_are_rejected(kind, level):
    with pytest.raises(ValueError, match="noise"):
        data.check_level(kind, level)


def test_parsed_datasets_are_kept_in_the_cache_folder(monkeypatch, tmp_path):
    from ambench.data._sources import _parsed_once

    monkeypatch.setenv("AMBENCH_CACHE", str(tmp_path))
    calls = []
    images, labels = np.arange(12.0).reshape(3, 4), np.array([0, 1, 2])

    def parse():
        calls.append(1)
        return images, labels

    for _ in range(2):
        x, y = _parsed_once("toy", parse)
        np.testing.assert_array_equal(x, images)
        np.testing.assert_array_equal(y, labels)
    assert len(calls) == 1 and sorted(p.name for p in (tmp_path / "data" / "toy").iterdir()) == ["images.npy", "labels.npy"]
    (tmp_path / "data" / "toy" / "labels.npy").write_bytes(b"garbage")  # a damaged cache is parsed again
    _parsed_once("toy", parse)
    assert len(calls) == 2


def test_download_without_tensorflow_names_what_to_install(monkeypatch):
    def missing(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'importlib_resources'", name="importlib_resources")

    monkeypatch.setattr(tfds, "data_source", missing)
    data.load_dataset.cache_clear()
    with pytest.raises(data.DataUnavailable, match="pip install tensorflow importlib_resources"):
        data.load_dataset("cifar10", download=True)


def test_unprepared_sources_are_refused_before_anything_runs_and_never_when_a_cell_is_only_resolved(tmp_path):
    from ambench.sweep import ConfigError, check_available, resolve_cell, run_grid

    cifar = resolve_cell("noise", "dam-softmax", "cifar10", 0, {"n_memories": 5, "data_dir": str(tmp_path)})
    idx = resolve_cell("noise", "dam-softmax", "mnist-idx", 0, {"n_memories": 5, "data_dir": str(tmp_path / "no")})
    with pytest.raises(ConfigError, match=r"cifar10: no cifar-10-python.tar.gz or cifar-10-batches-py/ in "
                                          r".*ambench data prepare cifar10 --from"):
        check_available([cifar])
    with pytest.raises(ConfigError, match="mnist-idx: no IDX folder"):
        check_available([idx])
    with pytest.raises(ConfigError, match="mnist-idx: no IDX folder"):  # what `ambench run` does first
        run_grid("noise", ["dam-softmax"], ["mnist-idx"], [0], {"n_memories": [5], "data_dir": [str(tmp_path / "no")]},
                 tmp_path / "r", quiet=True)
    assert not (tmp_path / "r").exists()  # refused before anything ran or was written


def test_sphere_patterns_have_the_norm_of_pm1_patterns_and_gaussian_directions():
    x = data.random_patterns(2000, 50, seed=1, encoding="sphere")
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), np.sqrt(50), rtol=1e-5)
    g = data.random_patterns(2000, 50, seed=1, encoding="gaussian")
    np.testing.assert_allclose(x, g * (np.sqrt(50) / np.linalg.norm(g, axis=1, keepdims=True)), rtol=1e-5)
    assert abs(x.mean()) < 0.05 and np.array_equal(x, data.random_patterns(2000, 50, seed=1, encoding="sphere"))
