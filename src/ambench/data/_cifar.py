"""CIFAR-10 and CIFAR-100 from their authors' python archives, without TensorFlow.

The files researchers keep on a cluster's shared disk are `cifar-10-python.tar.gz` and
`cifar-100-python.tar.gz` (or the folders they unpack to, `cifar-10-batches-py/` and
`cifar-100-python/`): pickled dicts whose `data` is a (10000, 3072) uint8 array, each row the
red, green and blue 32×32 planes in turn (channel-first, as ambench stores images), with
`labels` (CIFAR-10) or `fine_labels` (CIFAR-100). This module reads either form, checks what it
reads (shapes, dtypes, label range) and checks a whole archive against its published size and
md5 before `ambench data prepare` unpacks it.

The batches are pickles: they are read with an unpickler that builds only numpy arrays, lists,
dicts, strings and numbers, so a hostile file cannot run code.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._sources import DataUnavailable


@dataclass(frozen=True)
class Archive:
    """What the authors publish for one dataset (file names, size, md5, batch names, label key)."""

    file: str
    folder: str
    size: int
    md5: str
    splits: dict[str, tuple[str, ...]]
    meta: str
    label_key: str
    n_classes: int


ARCHIVES = {
    "cifar10": Archive("cifar-10-python.tar.gz", "cifar-10-batches-py", 170_498_071, "c58f30108f718f92721af3b95e74349a",
                       {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
                       "batches.meta", "labels", 10),
    "cifar100": Archive("cifar-100-python.tar.gz", "cifar-100-python", 169_001_437, "eb9058c3a382ffc7106e4002c42a8d85",
                        {"train": ("train",), "test": ("test",)}, "meta", "fine_labels", 100),
}
IMAGE_SHAPE = (3, 32, 32)


class _ArraysOnly(pickle.Unpickler):
    """Builds numpy arrays and plain containers; refuses every other global a pickle names."""

    _ALLOWED = {("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}  # encode: bytes at protocol 2

    def find_class(self, module, name):
        if module == "numpy.core.multiarray":  # the authors' files name numpy's pre-2.0 module
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        if (module.replace("numpy.core", "numpy._core"), name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refuses to build {module}.{name}")


def _unpickle(raw: bytes, where: str) -> dict:
    try:
        obj = _ArraysOnly(io.BytesIO(raw), encoding="bytes").load()
    except Exception as err:  # noqa: BLE001 - any unreadable pickle is the same answer
        raise DataUnavailable(f"{where} is not a readable CIFAR batch ({type(err).__name__}: {err}); "
                              "download the archive again") from None
    if not isinstance(obj, dict):
        raise DataUnavailable(f"{where} is not a CIFAR batch (a {type(obj).__name__}, not a dict)")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _batch(raw: bytes, where: str, archive: Archive) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 3072) uint8, labels (n,) int64) of one batch, checked."""
    batch = _unpickle(raw, where)
    if "data" not in batch or archive.label_key not in batch:
        raise DataUnavailable(f"{where} lacks 'data' or {archive.label_key!r}: not a {archive.folder} batch")
    x = np.asarray(batch["data"])
    y = np.asarray(batch[archive.label_key])
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != int(np.prod(IMAGE_SHAPE)):
        raise DataUnavailable(f"{where}: data is {x.dtype} {x.shape}, expected uint8 (n, 3072)")
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer) or (len(y) and not
                                                                          0 <= y.min() <= y.max() < archive.n_classes):
        raise DataUnavailable(f"{where}: {len(y)} labels for {len(x)} images, or labels outside "
                              f"0..{archive.n_classes - 1}")
    return x, y.astype(np.int64)


def locate(name: str, data_dir: str | Path) -> Path | None:
    """The unpacked folder or the archive of `name` under `data_dir` (or `data_dir` itself), else None."""
    archive = ARCHIVES[name]
    root = Path(data_dir).expanduser()
    for folder in (root / archive.folder, root):
        if folder.is_dir() and all((folder / b).is_file() for split in archive.splits.values() for b in split):
            return folder
    for file in (root / archive.file, root):
        if file.is_file() and file.name.endswith((".tar.gz", ".tgz")):
            return file
    return None


def _members(path: Path, archive: Archive, names: tuple[str, ...]) -> dict[str, bytes]:
    """The raw bytes of the batch files `names`, from a folder or from the archive."""
    if path.is_dir():
        return {n: (path / n).read_bytes() for n in names}
    wanted = {f"{archive.folder}/{n}": n for n in names}
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    found[wanted[member.name]] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise DataUnavailable(f"{path} is truncated or not a gzipped tar ({type(err).__name__}): "
                              f"download {archive.file} again") from None
    missing = [n for n in names if n not in found]
    if missing:
        raise DataUnavailable(f"{path} lacks {', '.join(f'{archive.folder}/{m}' for m in missing)}: "
                              f"not the published {archive.file}")
    return found


def load(name: str, path: Path, *, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Every image and label of `split`, read from the folder or archive `path` (see `locate`)."""
    archive = ARCHIVES[name]
    names = archive.splits[split]
    raw = _members(path, archive, names)
    parts = [_batch(raw[n], f"{path}/{n}" if path.is_dir() else f"{path}:{archive.folder}/{n}", archive) for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def fingerprint(path: Path) -> str:
    """Resolved path, size and modification time of what `load` reads: the parse cache's key."""
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    digest = hashlib.sha256(str(path.resolve()).encode())
    for f in files:
        st = f.stat()
        digest.update(f"{f.name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


def md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)  # the published checksums are md5
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def unpack(name: str, archive_file: str | Path, data_dir: str | Path, *,
           expected: tuple[int, str] | None = None) -> Path:
    """Check `archive_file` (published size and md5, or `expected` = (size, md5); every batch
    readable) and write its batches into `data_dir/<folder>`; returns that folder.

    Only the known batch files are written, each read and checked first, so nothing outside
    `data_dir` is touched whatever the archive holds; the folder appears whole or not at all."""
    archive = ARCHIVES[name]
    path = Path(archive_file).expanduser()
    if not path.is_file():
        raise DataUnavailable(f"{path}: no such file; give the downloaded {archive.file}")
    size, digest = expected or (archive.size, archive.md5)
    actual = path.stat().st_size
    if actual != size:
        raise DataUnavailable(f"{path} has {actual:,} bytes, the published {archive.file} has {size:,}: "
                              "truncated or another file; download it again")
    if (got := md5(path)) != digest:
        raise DataUnavailable(f"{path} has md5 {got}, the published {archive.file} has {digest}: "
                              "a damaged or different file; download it again")
    names = (*[b for split in archive.splits.values() for b in split], archive.meta)
    raw = _members(path, archive, names)
    for batches in archive.splits.values():
        for b in batches:
            _batch(raw[b], f"{path}:{archive.folder}/{b}", archive)
    _unpickle(raw[archive.meta], f"{path}:{archive.folder}/{archive.meta}")
    target = Path(data_dir).expanduser() / archive.folder
    if target.exists():
        raise DataUnavailable(f"{target} exists already: remove it, or use it as it is with --set data_dir={data_dir}")
    tmp = target.with_name(f".{archive.folder}.{os.getpid()}.tmp")
    tmp.mkdir(parents=True)
    for n, data in raw.items():
        (tmp / n).write_bytes(data)
    os.replace(tmp, target)
    return target
