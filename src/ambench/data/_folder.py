"""`image-folder`: a lab's own images, one class per subfolder (ImageFolder layout).

PNG and JPEG files under `path/<class>/` are read with Pillow, resized to `size`×`size`, taken
as luminance (or RGB) and scaled to [0, 1]; classes are the sorted subfolder names. Files
straight under `path` form one class of their own.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ..params import Field
from ._sources import Dataset, DataUnavailable, ImageParams, register_dataset

SUFFIXES = {".png", ".jpg", ".jpeg"}


class FolderParams(ImageParams):
    path: str = Field("", description="folder of images, one subfolder per class (required)")
    size: int = Field(28, ge=1, le=1024, description="images are resized to size x size pixels")
    grayscale: bool = Field(True, description="luminance (D = size²) instead of RGB (D = 3·size²)")


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


@functools.lru_cache(maxsize=4)
def load_folder(path: str, size: int, grayscale: bool) -> Dataset:
    from PIL import Image

    files = image_files(path)
    classes = sorted({c for c, _ in files})
    images = []
    for _, file in files:
        with Image.open(file) as im:
            im = im.convert("L" if grayscale else "RGB").resize((size, size), Image.BILINEAR)
            a = np.asarray(im, np.float32) / 255.0
        images.append(a[None] if grayscale else np.transpose(a, (2, 0, 1)))
    x = np.stack(images).reshape(len(images), -1)
    y = np.array([classes.index(c) for c, _ in files], np.int64)
    return Dataset(f"image-folder:{path}", x, y, (1 if grayscale else 3, size, size), len(classes))


def _check(cell) -> None:
    if not cell.data.params.path:
        raise ValueError("dataset image-folder needs --set path=FOLDER (one subfolder of PNG/JPEG files per class)")


def _available(cell) -> None:
    p = cell.data.params
    if not Path(p.path).is_dir():
        raise ValueError(f"image-folder: {p.path} is not a folder; give --set path=FOLDER")
    n = len(image_files(p.path))
    if not n:
        raise ValueError(f"image-folder: no .png/.jpg/.jpeg files in {p.path} or its subfolders")
    k = cell.get("n_memories")
    if k is not None and k > n:  # the size is known only by listing the folder: not when a cell is resolved
        raise ValueError(f"n_memories={k} is larger than image-folder ({n} images); use at most {n}")


def _images(p) -> Dataset:
    if not p.path or not Path(p.path).is_dir():
        raise DataUnavailable(f"image-folder: {p.path!r} is not a folder; give --set path=FOLDER")
    return load_folder(str(Path(p.path).resolve()), p.size, p.grayscale)


register_dataset("image-folder", params=FolderParams,
                 doc="your own PNG/JPEG images, one subfolder per class, resized to size²", images=_images,
                 dim=lambda p: p.size * p.size * (1 if p.grayscale else 3), check=_check, available=_available)
