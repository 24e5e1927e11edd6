"""CIFAR-10 / CIFAR-100 from their authors' python archives, on archives written here in the
published format: `cifar-10-batches-py/data_batch_1..5, test_batch, batches.meta` (or
`cifar-100-python/train, test, meta`), each a protocol-2 pickle of a dict with bytes keys whose
`data` is a (n, 3072) uint8 array of red, green and blue 32×32 planes, naming numpy's pre-2.0
module as the authors' files do; gzipped into `cifar-10-python.tar.gz`. Only the batch size is
smaller than theirs."""

import io
import pickle
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from ambench import data
from ambench.data import _cifar
from ambench.data._prepare import prepare

PER_BATCH = 3


@pytest.fixture(autouse=True)
def _fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AMBENCH_CACHE", str(tmp_path / "cache"))  # the parse cache of each test its own
    data.load_dataset.cache_clear()
    yield
    data.load_dataset.cache_clear()


def _pickle(obj) -> bytes:
    raw = pickle.dumps(obj, protocol=2)
    return raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")  # as in the published files


def write_cifar(root, name="cifar10", *, seed=0, tar=True):
    """Write `name`'s archive (or its unpacked folder) under `root`; return the images (HWC uint8)
    and labels of each split, and the path written."""
    archive = _cifar.ARCHIVES[name]
    rng = np.random.default_rng(seed)
    files, truth = {}, {}
    for split, batches in archive.splits.items():
        xs, ys = [], []
        for b in batches:
            n = PER_BATCH * (5 if name == "cifar100" and split == "train" else 1)
            hwc = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
            labels = [int(v) for v in rng.integers(0, archive.n_classes, n)]
            batch = {b"batch_label": f"{b} of {len(batches)}".encode(), archive.label_key.encode(): labels,
                     b"data": hwc.transpose(0, 3, 1, 2).reshape(n, 3072),  # R plane, G plane, B plane
                     b"filenames": [f"img_{i}.png".encode() for i in range(n)]}
            if name == "cifar100":
                batch[b"coarse_labels"] = [v // 5 for v in labels]
            files[b] = _pickle(batch)
            xs.append(hwc)
            ys.append(labels)
        truth[split] = (np.concatenate(xs), np.concatenate(ys))
    files[archive.meta] = _pickle({b"label_names": [f"class{i}".encode() for i in range(archive.n_classes)]}
                                  if name == "cifar10" else
                                  {b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
                                   b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]})
    root.mkdir(parents=True, exist_ok=True)
    if tar:
        path = root / archive.file
        with tarfile.open(path, "w:gz") as t:
            for n, raw in files.items():
                info = tarfile.TarInfo(f"{archive.folder}/{n}")
                info.size = len(raw)
                t.addfile(info, io.BytesIO(raw))
    else:
        path = root / archive.folder
        path.mkdir()
        for n, raw in files.items():
            (path / n).write_bytes(raw)
    return truth, path


def _expected(path):
    return path.stat().st_size, _cifar.md5(path)


def _as_stored(hwc, grayscale=False):
    """What the tfds route makes of (n, H, W, C) uint8 images: [0, 1], channel-first, flattened."""
    x = hwc.astype(np.float32) / 255.0
    if grayscale:
        x = (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    return np.transpose(x, (0, 3, 1, 2)).reshape(len(x), -1)


@pytest.mark.parametrize("tar", [True, False], ids=["archive", "folder"])
@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_the_python_archive_reads_as_the_tfds_route_would(name, tar, tmp_path):
    truth, _ = write_cifar(tmp_path, name, tar=tar)
    for split in ("train", "test"):
        ds = data.load_dataset(name, split=split, data_dir=str(tmp_path))
        hwc, labels = truth[split]
        assert ds.image_shape == (3, 32, 32) and ds.n_classes == _cifar.ARCHIVES[name].n_classes
        np.testing.assert_array_equal(ds.images, _as_stored(hwc))
        np.testing.assert_array_equal(ds.labels, labels)
        gray = data.load_dataset(name, split=split, data_dir=str(tmp_path), grayscale=True)
        assert gray.image_shape == (1, 32, 32)
        np.testing.assert_allclose(gray.images, _as_stored(hwc, grayscale=True), rtol=1e-6)


def test_the_parse_cache_gives_the_same_arrays_and_follows_an_edited_archive(tmp_path):
    write_cifar(tmp_path, seed=0)
    first = data.load_dataset.__wrapped__("cifar10", data_dir=str(tmp_path))
    again = data.load_dataset.__wrapped__("cifar10", data_dir=str(tmp_path))  # from the .npy cache
    np.testing.assert_array_equal(first.images, again.images)
    truth, path = write_cifar(tmp_path / "other", seed=1)
    path.replace(tmp_path / path.name)  # new content at the same path: a new fingerprint
    edited = data.load_dataset.__wrapped__("cifar10", data_dir=str(tmp_path))
    np.testing.assert_array_equal(edited.images, _as_stored(truth["train"][0]))


def test_prepare_checks_then_unpacks_and_reads_back(tmp_path):
    truth, archive = write_cifar(tmp_path / "download")
    out = tmp_path / "data"
    lines = prepare("cifar10", from_file=str(archive), data_dir=str(out), expected=_expected(archive),
                    progress=lambda m: None)
    assert lines == [f"cifar10 train: {5 * PER_BATCH} images of shape (3, 32, 32), 10 classes",
                     f"cifar10 test: {PER_BATCH} images of shape (3, 32, 32), 10 classes",
                     f"use it with --set data_dir={out}"]
    assert sorted(p.name for p in (out / "cifar-10-batches-py").iterdir()) == sorted(
        [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"])
    assert [p.name for p in out.iterdir()] == ["cifar-10-batches-py"]  # nothing else, no temporary left
    np.testing.assert_array_equal(data.load_dataset("cifar10", split="test", data_dir=str(out)).images,
                                  _as_stored(truth["test"][0]))


def test_a_wrong_md5_a_wrong_size_and_a_truncated_archive_are_one_line_errors(tmp_path):
    _, archive = write_cifar(tmp_path)
    size, md5 = _expected(archive)
    with pytest.raises(data.DataUnavailable, match=r"has md5 .* the published cifar-10-python.tar.gz has 0{32}"):
        prepare("cifar10", from_file=str(archive), data_dir=str(tmp_path / "a"), expected=(size, "0" * 32))
    with pytest.raises(data.DataUnavailable, match=r"has [\d,]+ bytes, the published .* has 170,498,071"):
        prepare("cifar10", from_file=str(archive), data_dir=str(tmp_path / "b"))  # the published size
    cut = tmp_path / "cut" / archive.name
    cut.parent.mkdir()
    cut.write_bytes(archive.read_bytes()[: size // 2])
    with pytest.raises(data.DataUnavailable, match="truncated or not a gzipped tar") as err:
        prepare("cifar10", from_file=str(cut), data_dir=str(tmp_path / "c"), expected=_expected(cut))
    assert "\n" not in str(err.value)
    assert not (tmp_path / "c" / "cifar-10-batches-py").exists()
    with pytest.raises(data.DataUnavailable, match="truncated or not a gzipped tar"):
        data.load_dataset("cifar10", data_dir=str(cut.parent))  # read in place: the same answer


def test_a_damaged_batch_is_named(tmp_path):
    write_cifar(tmp_path, tar=False)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(_pickle({b"data": np.zeros((2, 5), np.uint8),
                                                                            b"labels": [0, 1]}))
    with pytest.raises(data.DataUnavailable, match=r"data_batch_3: data is uint8 \(2, 5\), expected uint8"):
        data.load_dataset("cifar10", data_dir=str(tmp_path))
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(_pickle({b"data": np.zeros((2, 3072), np.uint8),
                                                                            b"labels": [0, 10]}))
    with pytest.raises(data.DataUnavailable, match=r"labels outside 0..9"):
        data.load_dataset.__wrapped__("cifar10", data_dir=str(tmp_path))


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    class Boom:
        def __reduce__(self):
            return (print, ("this must never print",))

    write_cifar(tmp_path, tar=False)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps({b"data": Boom()}, protocol=2))
    with pytest.raises(data.DataUnavailable, match=r"refuses to build (__builtin__|builtins).print"):
        data.load_dataset("cifar10", split="test", data_dir=str(tmp_path))


def test_settings_that_take_no_part_are_refused(tmp_path):
    _, archive = write_cifar(tmp_path)
    with pytest.raises(data.DataUnavailable, match="download=true is for the tfds route"):
        data.load_dataset("cifar10", data_dir=str(tmp_path), download=True)
    with pytest.raises(data.DataUnavailable, match="--from reads the python archive of cifar10 or cifar100"):
        prepare("mnist", from_file=str(archive), data_dir=str(tmp_path))
    with pytest.raises(data.DataUnavailable, match="give --data-dir DIR"):
        prepare("cifar10", from_file=str(archive))


def test_cells_check_the_archive_before_anything_runs(tmp_path):
    from ambench.sweep import ConfigError, check_available, resolve_cell

    write_cifar(tmp_path / "here")
    check_available([resolve_cell("capacity", "dam-softmax", "cifar10", 0,
                                  {"n_memories": 5, "data_dir": str(tmp_path / "here")})])
    missing = resolve_cell("capacity", "dam-softmax", "cifar10", 0, {"n_memories": 5, "data_dir": str(tmp_path / "no")})
    with pytest.raises(ConfigError, match=r"cifar10: no cifar-10-python.tar.gz .*`ambench data prepare cifar10 --from"):
        check_available([missing])


@pytest.mark.slow
def test_a_cifar10_capacity_cell_from_a_written_archive(tmp_path):
    write_cifar(tmp_path / "data")
    env = {"AMBENCH_CACHE": str(tmp_path / "cache"), "WANDB_MODE": "disabled", "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "ambench.cli", "run", "capacity", "--model", "dam-softmax",
                          "--dataset", "cifar10", "--set", f"data_dir={tmp_path / 'data'}", "--set", "n_memories=12",
                          "--set", "n_queries=12", "--set", "grayscale=true", "--out", str(tmp_path / "res")],
                         capture_output=True, text=True, timeout=300, env={**__import__("os").environ, **env},
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    import pandas as pd

    rows = pd.read_parquet(next((tmp_path / "res").rglob("results.parquet")))
    assert len(rows) == 1 and rows["dataset"].iloc[0] == "cifar10" and bool(rows["data.grayscale"].iloc[0])
    assert rows["pattern_dim"].iloc[0] == 1024 and rows["success_rate"].iloc[0] == 1.0  # uncorrupted stored images


def test_cli_prepare_from_a_file_with_the_published_checks_is_one_line(tmp_path):
    _, archive = write_cifar(tmp_path)
    run = subprocess.run([sys.executable, "-m", "ambench.cli", "data", "prepare", "cifar10", "--from", str(archive),
                          "--data-dir", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [run.stderr.strip()] and "the published cifar-10-python.tar.gz" in run.stderr
