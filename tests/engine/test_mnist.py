"""MNIST IDX and binarized-MNIST .amat readers: real shared data when present, synthetic files otherwise."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from engine.data.folder import shared_data_dir
from engine.data.mnist import load_binarized_mnist, load_mnist, read_amat, read_idx
from engine.errors import ConfigError, DataError

SHARED = shared_data_dir()
needs_shared = pytest.mark.skipif(
    SHARED is None or not (SHARED / "mnist").is_dir(), reason="shared MNIST data not present"
)


# --------------------------------------------------------------------------- helpers


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """IDX encoding of a uint8 array: 00 00 <type> <ndim>, big-endian dims, payload."""
    header = struct.pack(">HBB", 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write(path: Path, data: bytes, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def make_mnist(root: Path, n_images: int = 5, n_labels: int = 5, gz: bool = True, labels=None) -> None:
    folder = root / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n_images, 28, 28), dtype=np.uint8)
    labels = np.arange(n_labels, dtype=np.uint8) % 10 if labels is None else np.asarray(labels, np.uint8)
    suffix = ".gz" if gz else ""
    write(folder / f"t10k-images-idx3-ubyte{suffix}", idx_bytes(images), gz)
    write(folder / f"t10k-labels-idx1-ubyte{suffix}", idx_bytes(labels), gz)


def amat_bytes(values: np.ndarray) -> bytes:
    return b"".join(b" ".join(b"%d" % v for v in row) + b"\n" for row in values)


# --------------------------------------------------------------------------- real data


@needs_shared
def test_real_mnist_train_and_test():
    images, labels = load_mnist(SHARED, "train")
    assert images.shape == (60000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (60000,) and labels.dtype == np.uint8
    images, labels = load_mnist(SHARED, "test")
    assert images.shape == (10000, 28, 28)
    counts = np.bincount(labels, minlength=10).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.skipif(
    SHARED is None or not (SHARED / "binarized_mnist").is_dir(), reason="shared binarized MNIST not present"
)
def test_real_binarized_test_split():
    x = load_binarized_mnist(SHARED, "test")
    assert x.shape == (10000, 784) and x.dtype == np.uint8
    assert set(np.unique(x).tolist()) == {0, 1}


# --------------------------------------------------------------------------- IDX synthetic


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_raw_and_gzip(tmp_path, gz):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write(tmp_path / "images.bin", idx_bytes(array), gz)  # name says nothing about gzip
    out = read_idx(path)
    np.testing.assert_array_equal(out, array)
    assert out.dtype == np.uint8 and out.flags.writeable


def test_read_idx_labels_1d(tmp_path):
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    out = read_idx(write(tmp_path / "labels-idx1-ubyte", idx_bytes(labels)), ndim=1)
    assert out.shape == (5,)
    np.testing.assert_array_equal(out, labels)


def test_read_idx_wrong_magic(tmp_path):
    path = write(tmp_path / "weird-idx3-ubyte", b"\x12\x34\x08\x03" + bytes(12))
    with pytest.raises(DataError, match="weird-idx3-ubyte.*not an IDX file"):
        read_idx(path)


def test_read_idx_wrong_dtype_code(tmp_path):
    array = np.zeros((2, 2), np.uint8)
    path = write(tmp_path / "floats-idx2", idx_bytes(array, type_code=0x0D))
    with pytest.raises(DataError, match="floats-idx2.*0x0d"):
        read_idx(path)


def test_read_idx_wrong_ndim(tmp_path):
    path = write(tmp_path / "labels-idx1-ubyte", idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(DataError, match="labels-idx1-ubyte declares 1 dimensions"):
        read_idx(path, ndim=3)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_truncated_payload(tmp_path, gz):
    data = idx_bytes(np.ones((10, 28, 28), np.uint8))
    path = write(tmp_path / "t10k-images-idx3-ubyte.gz", data[:-100], gz)
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz is truncated: expected 7840 pixel bytes, found 7740"):
        read_idx(path, ndim=3)


def test_read_idx_truncated_header(tmp_path):
    path = write(tmp_path / "short-idx3", b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(DataError, match="short-idx3.*truncated"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_trailing_garbage(tmp_path, gz):
    data = idx_bytes(np.ones((3, 4), np.uint8)) + b"junk"
    path = write(tmp_path / "extra-idx2", data, gz)
    with pytest.raises(DataError, match="extra-idx2 has 4 unexpected bytes"):
        read_idx(path)


def test_read_idx_truncated_gzip(tmp_path):
    compressed = gzip.compress(idx_bytes(np.arange(4000, dtype=np.uint32).astype(np.uint8).reshape(40, 100)))
    path = write(tmp_path / "cut-idx2-ubyte.gz", compressed[: len(compressed) // 2])
    with pytest.raises(DataError, match="cut-idx2-ubyte.gz is a truncated or corrupt gzip file"):
        read_idx(path)


def test_read_idx_bad_gzip_crc(tmp_path):
    compressed = bytearray(gzip.compress(idx_bytes(np.ones((5, 5), np.uint8))))
    compressed[-8] ^= 0xFF  # CRC32 field of the gzip trailer
    path = write(tmp_path / "crc-idx2.gz", bytes(compressed))
    with pytest.raises(DataError, match="crc-idx2.gz"):
        read_idx(path)


def test_read_idx_huge_declared_size_in_gzip(tmp_path):
    header = struct.pack(">HBB", 0, 8, 3) + struct.pack(">3I", 2**31, 28, 28)
    path = write(tmp_path / "liar-idx3.gz", header + bytes(10), gz=True)
    with pytest.raises(DataError, match="liar-idx3.gz is corrupt"):
        read_idx(path)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here")


# --------------------------------------------------------------------------- load_mnist synthetic


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_synthetic(tmp_path, gz):
    make_mnist(tmp_path, gz=gz)
    images, labels = load_mnist(tmp_path, "test")
    assert images.shape == (5, 28, 28) and labels.tolist() == [0, 1, 2, 3, 4]


def test_load_mnist_count_mismatch(tmp_path):
    make_mnist(tmp_path, n_images=5, n_labels=4)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz holds 5 images but t10k-labels-idx1-ubyte.gz holds 4"):
        load_mnist(tmp_path, "test")


def test_load_mnist_label_out_of_range(tmp_path):
    make_mnist(tmp_path, n_images=3, labels=[1, 12, 3])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz contains label 12"):
        load_mnist(tmp_path, "test")


def test_load_mnist_missing_file_says_how_to_fetch(tmp_path):
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.*python -m engine download mnist"):
        load_mnist(tmp_path, "test")


def test_load_mnist_bad_split(tmp_path):
    with pytest.raises(ConfigError, match="split"):
        load_mnist(tmp_path, "valid")


# --------------------------------------------------------------------------- .amat synthetic


@pytest.mark.parametrize("gz", [False, True])
def test_read_amat_raw_and_gzip(tmp_path, gz):
    values = np.random.default_rng(1).integers(0, 2, size=(3, 784), dtype=np.uint8)
    path = write(tmp_path / "binarized_mnist_test.amat", amat_bytes(values), gz)
    out = read_amat(path)
    assert out.dtype == np.uint8 and out.shape == (3, 784)
    np.testing.assert_array_equal(out, values)


def test_read_amat_missing_final_newline_is_accepted(tmp_path):
    values = np.ones((2, 784), np.uint8)
    path = write(tmp_path / "x.amat", amat_bytes(values)[:-1])
    np.testing.assert_array_equal(read_amat(path), values)


def test_read_amat_bad_token(tmp_path):
    data = bytearray(amat_bytes(np.zeros((3, 784), np.uint8)))
    data[1568 + 10] = ord("7")  # line 2, value 6
    path = write(tmp_path / "bad_token.amat", bytes(data))
    with pytest.raises(DataError, match="bad_token.amat line 2 holds '7'"):
        read_amat(path)


def test_read_amat_short_line(tmp_path):
    lines = amat_bytes(np.zeros((3, 784), np.uint8)).split(b"\n")
    lines[1] = lines[1][:-2]  # drop one value from line 2
    path = write(tmp_path / "short.amat", b"\n".join(lines))
    with pytest.raises(DataError, match="short.amat line 2 has 783 values"):
        read_amat(path)


def test_read_amat_truncated_last_line(tmp_path):
    data = amat_bytes(np.zeros((3, 784), np.uint8))
    path = write(tmp_path / "cut.amat", data[:-500])
    with pytest.raises(DataError, match="cut.amat is truncated: its last line"):
        read_amat(path)


def test_read_amat_truncated_gzip(tmp_path):
    values = np.random.default_rng(2).integers(0, 2, size=(20, 784), dtype=np.uint8)
    compressed = gzip.compress(amat_bytes(values))
    path = write(tmp_path / "binarized_mnist_valid.amat.gz", compressed[: len(compressed) - 30])
    with pytest.raises(DataError, match="binarized_mnist_valid.amat.gz is a truncated or corrupt gzip"):
        read_amat(path)


def test_read_amat_empty(tmp_path):
    with pytest.raises(DataError, match="empty.amat is empty"):
        read_amat(write(tmp_path / "empty.amat", b""))


def test_load_binarized_mnist_synthetic_and_missing(tmp_path):
    folder = tmp_path / "binarized_mnist"
    folder.mkdir()
    values = np.eye(2, 784, dtype=np.uint8)
    write(folder / "binarized_mnist_valid.amat.gz", amat_bytes(values), gz=True)
    np.testing.assert_array_equal(load_binarized_mnist(tmp_path, "valid"), values)
    with pytest.raises(DataError, match="binarized_mnist_train.amat"):
        load_binarized_mnist(tmp_path, "train")
    with pytest.raises(ConfigError):
        load_binarized_mnist(tmp_path, "dev")
