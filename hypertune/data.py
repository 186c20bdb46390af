"""MNIST-shaped data: loading, checking, the train/validation/test split and preprocessing.

Sources, in order: ``--data PATH``, the ``HYPERTUNE_DATA`` environment variable, then Keras's own
``mnist.load_data()`` (downloaded once, then cached by Keras). A path is an ``.npz`` with Keras's
keys (``x_train, y_train, x_test, y_test``) or a folder holding the four MNIST IDX files, gzipped
or not. Validation data is held out of the end of the training set; the test set is only ever
used for final evaluation.
"""

from __future__ import annotations

import functools
import gzip
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hypertune.errors import DataError

ENV_VAR = "HYPERTUNE_DATA"
NUM_CLASSES = 10
KEYS = ("x_train", "y_train", "x_test", "y_test")
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class DataRef:
    """What a trial needs to find its data again, in this process or another one."""

    path: str | None = None
    val_size: int = 10_000

    @classmethod
    def resolve(cls, path: str | None, val_size: int = 10_000) -> DataRef:
        """Pick the source (argument, then environment, then Keras) and make the path absolute."""
        chosen = path or os.environ.get(ENV_VAR) or None
        return cls(str(Path(chosen).expanduser().resolve()) if chosen else None, val_size)

    def describe(self) -> str:
        return self.path or "keras.datasets.mnist"


@dataclass(frozen=True)
class Split:
    """Preprocessed arrays: images as float32 rows in [0, 1], labels one-hot float32."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    @property
    def input_dim(self) -> int:
        return int(self.x_train.shape[1])


def load_split(ref: DataRef) -> Split:
    """Load, check, split and preprocess; cached per process, so a study converts data once."""
    stamp = _stamp(ref.path) if ref.path else None
    return _load_split(ref, stamp)


@functools.lru_cache(maxsize=2)
def _load_split(ref: DataRef, stamp: tuple[int, int] | None) -> Split:
    arrays = load_arrays(ref.path)
    x_train, y_train = arrays["x_train"], arrays["y_train"]
    if not 1 <= ref.val_size < len(x_train):
        raise DataError(
            f"--val-size must be between 1 and {len(x_train) - 1} (the training set holds "
            f"{len(x_train)} images), but got {ref.val_size}"
        )
    cut = len(x_train) - ref.val_size
    return Split(
        x_train=scale(x_train[:cut]),
        y_train=one_hot(y_train[:cut]),
        x_val=scale(x_train[cut:]),
        y_val=one_hot(y_train[cut:]),
        x_test=scale(arrays["x_test"]),
        y_test=one_hot(arrays["y_test"]),
        source=ref.describe(),
    )


def scale(images: np.ndarray) -> np.ndarray:
    """Flatten images to rows and scale uint8 pixels to [0, 1] as float32."""
    rows = images.reshape(len(images), -1)
    if rows.dtype == np.uint8:
        return np.asarray(rows, dtype=np.float32) / np.float32(255.0)
    return np.asarray(rows, dtype=np.float32)


def one_hot(labels: np.ndarray) -> np.ndarray:
    """Class indices to one-hot float32 rows (what ``keras.utils.to_categorical`` gives)."""
    return np.eye(NUM_CLASSES, dtype=np.float32)[labels.astype(np.int64)]


def load_mnist(path: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)`` as raw arrays, like ``mnist.load_data()`` flattened.

    For Hyperas-style ``data()`` functions: it honours ``HYPERTUNE_DATA`` and never downloads
    when that is set.
    """
    arrays = load_arrays(DataRef.resolve(path).path)
    return arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]


def load_arrays(path: str | None) -> dict[str, np.ndarray]:
    """The four checked arrays from ``path``, or from Keras's cached download when None."""
    if path is None:
        arrays = _from_keras()
        where = "keras.datasets.mnist"
    else:
        source = Path(path)
        if not source.exists():
            raise DataError(
                f"no data at {path}: give an .npz file or a folder of MNIST IDX files "
                f"(--data or {ENV_VAR})"
            )
        arrays = _from_folder(source) if source.is_dir() else _from_npz(source)
        where = path
    check_arrays(arrays, where)
    return arrays


def check_arrays(arrays: dict[str, np.ndarray], where: str) -> None:
    """Raise DataError unless the arrays look like MNIST: images, labels 0-9, matching lengths."""
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim not in (2, 3) or x.shape[0] == 0 or x[0].size == 0:
            raise DataError(
                f"{where}: x_{part} must hold images shaped (N, 28, 28) or (N, 784), but has "
                f"shape {x.shape}"
            )
        if x.dtype != np.uint8 and not np.issubdtype(x.dtype, np.floating):
            raise DataError(
                f"{where}: x_{part} must be uint8 pixels (0-255) or floats in [0, 1], but has "
                f"dtype {x.dtype}"
            )
        if np.issubdtype(x.dtype, np.floating) and not (x.min() >= 0 and x.max() <= 1):
            raise DataError(
                f"{where}: float pixels in x_{part} must lie in [0, 1], but range from "
                f"{x.min()} to {x.max()}"
            )
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise DataError(
                f"{where}: y_{part} must be a 1-D array of integer labels, but has shape "
                f"{y.shape} and dtype {y.dtype}"
            )
        if len(y) != len(x):
            raise DataError(
                f"{where}: x_{part} holds {len(x)} images but y_{part} holds {len(y)} labels"
            )
        if y.min() < 0 or y.max() >= NUM_CLASSES:
            raise DataError(
                f"{where}: labels in y_{part} must lie in 0-{NUM_CLASSES - 1}, but range from "
                f"{y.min()} to {y.max()}"
            )
    if arrays["x_train"][0].size != arrays["x_test"][0].size:
        raise DataError(
            f"{where}: training images have shape {arrays['x_train'].shape[1:]} but test images "
            f"have {arrays['x_test'].shape[1:]}"
        )


def _stamp(path: str) -> tuple[int, int]:
    try:
        status = os.stat(path)
    except OSError:
        return (0, 0)
    return (status.st_mtime_ns, status.st_size)


def _from_keras() -> dict[str, np.ndarray]:
    from keras.datasets import mnist

    try:
        (x_train, y_train), (x_test, y_test) = mnist.load_data()
    except Exception as error:
        raise DataError(
            f"could not download MNIST through Keras ({error}); point --data or {ENV_VAR} at an "
            ".npz or a folder of IDX files"
        ) from None
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _from_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataError(
                f"{path} holds one array, not an .npz archive; save x_train, y_train, x_test "
                "and y_test together with numpy.savez"
            )
        with loaded as archive:
            missing = [k for k in KEYS if k not in archive.files]
            if missing:
                raise DataError(
                    f"{path} lacks the key(s) {', '.join(missing)}; an .npz needs x_train, "
                    f"y_train, x_test and y_test (it has: {', '.join(archive.files) or 'none'})"
                )
            return {k: archive[k] for k in KEYS}
    except DataError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise DataError(
            f"{path} is not a readable .npz archive ({error}); give an .npz with x_train, "
            "y_train, x_test, y_test or a folder of MNIST IDX files"
        ) from None


def _from_folder(folder: Path) -> dict[str, np.ndarray]:
    arrays = {}
    for key, stem in IDX_FILES.items():
        candidates = [
            stem,
            stem + ".gz",
            stem.replace("-idx", ".idx"),
            stem.replace("-idx", ".idx") + ".gz",
        ]
        found = next((folder / c for c in candidates if (folder / c).is_file()), None)
        if found is None:
            raise DataError(
                f"{folder} has no {stem}[.gz]; a data folder needs the four MNIST IDX files "
                f"({', '.join(IDX_FILES.values())})"
            )
        arrays[key] = read_idx(found)
    return arrays


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (gzipped or not) into an array, checking its header against its size."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DataError(f"cannot read {path}: {error}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DataError(f"{path} is not an IDX file (its first bytes are not an IDX header)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path} is not an IDX file (bad header)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype: np.dtype[Any] = np.dtype(_IDX_TYPES[raw[2]])  # type: ignore[call-overload]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path} is truncated or padded: its header promises shape {shape} "
            f"({expected} bytes) but {len(raw) - header} bytes follow"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )
