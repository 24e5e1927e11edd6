"""The image-folder dataset (one file, src/ambench/data/_folder.py), on images the test writes."""

import numpy as np
import pytest
from PIL import Image

from ambench.protocol import measure_retrieval
from ambench.sweep import ConfigError, check_available, resolve_cell


def _write_images(root, n_per_class=6, side=20):
    rng = np.random.default_rng(0)
    for c, name in enumerate(("circles", "squares")):
        (root / name).mkdir(parents=True)
        for i in range(n_per_class):
            a = (rng.random((side, side)) * 255).astype(np.uint8)
            a[:, : side // 2] = 255 * c  # a class-dependent half
            Image.fromarray(a).save(root / name / f"{i}.{'png' if i % 2 else 'jpg'}")
    return root


def test_images_are_read_resized_scaled_and_labelled(tmp_path):
    root = _write_images(tmp_path / "imgs")
    cell = resolve_cell("noise", "dam-softmax", "image-folder", 0, {"path": str(root), "size": 10, "n_memories": 12,
                                                                    "noise_level": 0.1, "n_queries": 12, "beta": 50.0})
    ds = cell.data.component.images(cell.data.params)
    assert ds.images.shape == (12, 100) and ds.image_shape == (1, 10, 10) and ds.n_classes == 2
    assert ds.images.min() >= 0 and ds.images.max() <= 1
    np.testing.assert_array_equal(np.bincount(ds.labels), [6, 6])
    assert np.all(ds.images[ds.labels == 1].reshape(-1, 10, 10)[:, :, :4] > 0.95)  # the white half survives
    out = measure_retrieval(cell)
    assert out["pattern_dim"] == 100 and 0 <= out["success_rate"] <= 1


def test_folder_errors_name_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="needs --set path=FOLDER"):
        resolve_cell("noise", "dam-softmax", "image-folder", 0, {})
    (tmp_path / "empty").mkdir()
    empty = resolve_cell("noise", "dam-softmax", "image-folder", 0, {"path": str(tmp_path / "empty")})  # no files read
    with pytest.raises(ConfigError, match="no .png/.jpg"):
        check_available([empty])
    gone = resolve_cell("noise", "dam-softmax", "image-folder", 0, {"path": str(tmp_path / "gone")})
    with pytest.raises(ConfigError, match="is not a folder; give --set path=FOLDER"):
        check_available([gone])
    root = _write_images(tmp_path / "imgs", n_per_class=2)
    too_many = resolve_cell("noise", "dam-softmax", "image-folder", 0, {"path": str(root), "n_memories": 5})
    with pytest.raises(ConfigError, match="larger than image-folder \\(4 images\\)"):
        check_available([too_many])
