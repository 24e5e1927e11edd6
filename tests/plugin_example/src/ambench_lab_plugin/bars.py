"""A lab's dataset: every horizontal and vertical bar of an 8 × 8 image (16 images, 2 classes)."""

import sys

import numpy as np

from ambench.data import Dataset, ImageParams, data_spec, register


def bars() -> Dataset:
    images = np.zeros((16, 8, 8), np.float32)
    for i in range(8):
        images[i, i, :] = 1.0  # horizontal bar in row i
        images[8 + i, :, i] = 1.0  # vertical bar in column i
    return Dataset("lab-bars", images.reshape(16, 64), np.repeat([0, 1], 8), (1, 8, 8), 2)


register(data_spec("lab-bars", ImageParams, "a lab's 16 bar images (8 × 8, horizontal and vertical)",
                   module=sys.modules[__name__], images=lambda p: bars(), size=lambda p: 16, dim=lambda p: 64))
