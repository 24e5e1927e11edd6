"""`image-folder`: a lab's own images, one class per subfolder (ImageFolder layout).

PNG and JPEG files under `path/<class>/` are read with Pillow, resized to `size`×`size`, taken
as luminance (or RGB) and scaled to [0, 1]; classes are the sorted subfolder names. Files
straight under `path` form one class of their own. A cell names the folder by its resolved
path and a fingerprint of the files it reads (class, name and a SHA-256 of each file's bytes,
hashed again only when a file's mtime or size changes): the same folder spelt differently is
one cell, and changed images make new cells instead of reusing results of the old ones.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

from ..params import Field
from ._sources import Dataset, DataUnavailable, ImageParams, register_dataset

SUFFIXES = {".png", ".jpg", ".jpeg"}


class FolderParams(ImageParams):
    path: str = Field("", description="folder of images, one subfolder per class (required)")
    size: int = Field(28, ge=1, le=1024, description="images are resized to size x size pixels")
    grayscale: bool = Field(True, description="luminance (D = size²) instead of RGB (D = 3·size²)")
    fingerprint: str = Field("", description=("content hash of the images read, set by ambench; give it only to "
                                              "insist on exactly those images"))


def image_files(path: str) -> list[tuple[str, Path]]:
    """(class, file) pairs in a fixed order: the order every seed's block is drawn from. Listed
    once per folder state (its subfolders' modification times), not once per cell resolved."""
    root = Path(path)
    stamp = tuple(p.stat().st_mtime_ns for p in [root, *sorted(q for q in root.iterdir() if q.is_dir())])
    return _listing(str(root), stamp)


@functools.lru_cache(maxsize=16)
def _listing(path: str, stamp: tuple) -> list[tuple[str, Path]]:
    root = Path(path)
    files = [("", p) for p in sorted(root.iterdir()) if p.suffix.lower() in SUFFIXES]
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        files += [(sub.name, p) for p in sorted(sub.rglob("*")) if p.suffix.lower() in SUFFIXES]
    return files


@functools.lru_cache(maxsize=100_000)
def _file_hash(path: str, stamp: tuple) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(path: str) -> str:
    """A hash of the files `path` contributes: each one's class, name and content."""
    root = Path(path)
    digest = hashlib.sha256()
    for cls, file in image_files(path):
        st = file.stat()
        digest.update(f"{cls}\0{file.relative_to(root)}\0{_file_hash(str(file), (st.st_ino, st.st_mtime_ns, st.st_size))}\n"
                      .encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:16]


def _identify(p: FolderParams) -> FolderParams:
    """The folder named by its resolved path and the fingerprint of its files. A stored row
    already names both: it is taken as it is, and no file is read (status, report and figures
    rebuild cells without the data); whether the images are still those is asked only before a
    cell is computed (`_available`)."""
    if not p.path:
        return p  # `_check` says what is wrong
    resolved = str(Path(p.path).resolve())  # names the folder; reads no file
    if p.fingerprint or not Path(resolved).is_dir():
        return p.model_copy(update={"path": resolved})  # a stored identity, or `_available` says what is wrong
    try:
        now = fingerprint(resolved)
    except OSError as err:
        raise ValueError(f"image-folder: cannot read {err.filename or resolved} ({err.strerror}); fix its permissions "
                         "or remove it") from None
    return p.model_copy(update={"path": resolved, "fingerprint": now})


def _read(file: Path, size: int, grayscale: bool) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as im:
            im = im.convert("L" if grayscale else "RGB").resize((size, size), Image.BILINEAR)
            a = np.asarray(im, np.float32) / 255.0
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:  # corrupt, empty, truncated, not an image
        raise ValueError(f"image-folder: {file} is not a readable PNG/JPEG image ({str(err).splitlines()[0] if str(err) else type(err).__name__}); "
                         "replace or remove it") from None
    return a[None] if grayscale else np.transpose(a, (2, 0, 1))


@functools.lru_cache(maxsize=4)
def load_folder(path: str, size: int, grayscale: bool, fingerprint: str = "") -> Dataset:
    """The images of `path` (`fingerprint` keys the cache: changed files are read again)."""
    files = image_files(path)
    classes = sorted({c for c, _ in files})
    images = [_read(file, size, grayscale) for _, file in files]
    x = np.stack(images).reshape(len(images), -1)
    y = np.array([classes.index(c) for c, _ in files], np.int64)
    return Dataset(f"image-folder:{path}", x, y, (1 if grayscale else 3, size, size), len(classes))


@functools.lru_cache(maxsize=16)
def _verify(path: str, fingerprint: str) -> None:
    """Every file opens as an image (header and pixel data), checked once per folder content."""
    from PIL import Image, UnidentifiedImageError

    for _, file in image_files(path):
        try:
            with Image.open(file) as im:
                im.verify()
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:
            raise ValueError(f"image-folder: {file} is not a readable PNG/JPEG image "
                             f"({str(err).splitlines()[0] if str(err) else type(err).__name__}); replace or remove it") from None


def _check(cell) -> None:
    if not cell.data.params.path:
        raise ValueError("dataset image-folder needs --set path=FOLDER (one subfolder of PNG/JPEG files per class)")


def _available(cell) -> None:
    """Before a cell is computed: the folder, its images, enough of them, each readable, and
    still the images of the cell's fingerprint."""
    p = cell.data.params
    if not Path(p.path).is_dir():
        raise ValueError(f"image-folder: {p.path} is not a folder; give --set path=FOLDER")
    n = len(image_files(p.path))
    if not n:
        raise ValueError(f"image-folder: no .png/.jpg/.jpeg files in {p.path} or its subfolders")
    k = cell.get("n_memories")
    if k is not None and k > n:  # the size is known only by listing the folder: not when a cell is resolved
        raise ValueError(f"n_memories={k} is larger than image-folder ({n} images); use at most {n}")
    resolved = str(Path(p.path).resolve())
    if p.fingerprint and (now := fingerprint(resolved)) != p.fingerprint:
        raise ValueError(f"image-folder: the images in {resolved} are not those of fingerprint {p.fingerprint} (now "
                         f"{now}); leave fingerprint unset to measure the images there now")
    _verify(resolved, p.fingerprint)


def _images(p) -> Dataset:
    if not p.path or not Path(p.path).is_dir():
        raise DataUnavailable(f"image-folder: {p.path!r} is not a folder; give --set path=FOLDER")
    path = str(Path(p.path).resolve())
    if p.fingerprint and fingerprint(path) != p.fingerprint:
        raise DataUnavailable(f"image-folder: the images in {path} changed since this cell was planned "
                              f"(fingerprint {p.fingerprint}); run it again to measure the images there now")
    return load_folder(path, p.size, p.grayscale, p.fingerprint)


register_dataset("image-folder", params=FolderParams,
                 doc="your own PNG/JPEG images, one subfolder per class, resized to size²", images=_images,
                 dim=lambda p: p.size * p.size * (1 if p.grayscale else 3), check=_check, available=_available,
                 identify=_identify)
