"""A lab's dataset: every horizontal and vertical bar of an 8 × 8 image (16 images, 2 classes).

An image source returns an `ambench.data.Dataset` and takes `ambench.data.ImageParams` (the
encodings every image source offers); `size` and `dim` let ambench refuse a too-large K before
anything runs.
"""

import numpy as np

import ambench
from ambench.data import Dataset, ImageParams


def bars(params: ImageParams) -> Dataset:
    images = np.zeros((16, 8, 8), np.float32)
    for i in range(8):
        images[i, i, :] = 1.0  # horizontal bar in row i
        images[8 + i, :, i] = 1.0  # vertical bar in column i
    return Dataset("lab-bars", images.reshape(16, 64), np.repeat([0, 1], 8), (1, 8, 8), 2)


ambench.register_dataset("lab-bars", params=ImageParams, doc="a lab's 16 bar images (8 × 8, horizontal and vertical)",
                         images=bars, size=lambda p: 16, dim=lambda p: 64)
