"""Loading MNIST from an .npz or a folder of IDX files, the split, preprocessing, bad input.

Every bad input is checked twice: as the library's DataError, and as a user meets it through
``hypertune train``, one ``Error:`` line, exit code 2 and nothing logged to MLflow.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from hypertune.data import DataRef, load_arrays, load_mnist, load_split
from hypertune.errors import DataError

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
KEYS = ("x_train", "y_train", "x_test", "y_test")
N_TRAIN, N_TEST = 300, 100
#: The four files as MNIST's own site names them.
IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

Arrays = dict[str, np.ndarray]


@pytest.fixture(scope="module")
def arrays(mnist_path: Path) -> Arrays:
    """The first 300 training and 100 test images of real MNIST, as Keras gives them."""
    with np.load(mnist_path) as full:
        return {
            "x_train": full["x_train"][:N_TRAIN],
            "y_train": full["y_train"][:N_TRAIN],
            "x_test": full["x_test"][:N_TEST],
            "y_test": full["y_test"][:N_TEST],
        }


def write_npz(path: Path, arrays: Arrays, **changes: np.ndarray | None) -> Path:
    """``arrays`` saved as an npz, with some replaced, or left out where the change is None."""
    merged = {**arrays, **changes}
    np.savez(path, **{k: v for k, v in merged.items() if v is not None})
    return path


def idx_bytes(array: np.ndarray) -> bytes:
    """One uint8 array in the IDX format: zeros, type 0x08, rank, big-endian sizes, data."""
    header = bytes([0, 0, 0x08, array.ndim])
    sizes = b"".join(size.to_bytes(4, "big") for size in array.shape)
    return header + sizes + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx_folder(folder: Path, arrays: Arrays, suffix: str = "", dotted: bool = False) -> Path:
    """The four IDX files, gzipped for ``suffix=".gz"``; ``dotted`` names ``*.idx3-ubyte``."""
    folder.mkdir()
    for key, name in IDX_NAMES.items():
        name = name.replace("-idx", ".idx") if dotted else name
        payload = idx_bytes(arrays[key])
        (folder / (name + suffix)).write_bytes(
            gzip.compress(payload) if suffix == ".gz" else payload
        )
    return folder


# -- good data --------------------------------------------------------------------------------


def test_npz_gives_back_the_arrays_it_holds(arrays: Arrays, tmp_path: Path) -> None:
    loaded = load_arrays(str(write_npz(tmp_path / "mnist.npz", arrays)))

    assert set(loaded) == set(KEYS)
    for key in KEYS:
        assert loaded[key].dtype == np.uint8
        np.testing.assert_array_equal(loaded[key], arrays[key])


def test_full_mnist_npz_has_keras_shapes(mnist_path: Path) -> None:
    loaded = load_arrays(str(mnist_path))

    assert loaded["x_train"].shape == (60_000, 28, 28)
    assert loaded["y_train"].shape == (60_000,)
    assert loaded["x_test"].shape == (10_000, 28, 28)
    assert set(np.unique(loaded["y_test"])) == set(range(10))


@pytest.mark.parametrize(
    ("suffix", "dotted"), [("", False), (".gz", False), (".gz", True)], ids=["raw", "gz", "dotted"]
)
def test_idx_folder_gives_the_same_arrays_as_the_npz(
    arrays: Arrays, tmp_path: Path, suffix: str, dotted: bool
) -> None:
    folder = write_idx_folder(tmp_path / "idx", arrays, suffix, dotted)

    loaded = load_arrays(str(folder))

    for key in KEYS:
        assert loaded[key].dtype == np.uint8
        np.testing.assert_array_equal(loaded[key], arrays[key])


def test_validation_is_the_end_of_the_training_set(arrays: Arrays, tmp_path: Path) -> None:
    path = write_npz(tmp_path / "mnist.npz", arrays)

    split = load_split(DataRef.resolve(str(path), val_size=50))

    assert len(split.x_train) == len(split.y_train) == N_TRAIN - 50
    assert len(split.x_val) == len(split.y_val) == 50
    np.testing.assert_array_equal(split.y_val.argmax(axis=1), arrays["y_train"][-50:])
    np.testing.assert_array_equal(split.y_train.argmax(axis=1), arrays["y_train"][:-50])
    np.testing.assert_array_equal(split.x_val[0] * 255, arrays["x_train"][-50].reshape(-1))
    np.testing.assert_array_equal(split.y_test.argmax(axis=1), arrays["y_test"])
    assert split.source == str(path)


def test_preprocessing_scales_flattens_and_one_hot_encodes(arrays: Arrays, tmp_path: Path) -> None:
    split = load_split(DataRef.resolve(str(write_npz(tmp_path / "m.npz", arrays)), 50))

    for x in (split.x_train, split.x_val, split.x_test):
        assert x.dtype == np.float32
        assert x.shape[1] == 784
        assert x.min() == 0.0
        assert x.max() == 1.0
    for y in (split.y_train, split.y_val, split.y_test):
        assert y.dtype == np.float32
        assert y.shape[1] == 10
        np.testing.assert_array_equal(y.sum(axis=1), 1.0)
    assert split.input_dim == 784
    np.testing.assert_allclose(split.x_test[7], arrays["x_test"][7].reshape(-1) / 255.0)


def test_flat_float_pixels_are_kept_as_they_are(arrays: Arrays, tmp_path: Path) -> None:
    scaled = {k: arrays[k].reshape(len(arrays[k]), -1) / 255.0 for k in ("x_train", "x_test")}
    path = write_npz(tmp_path / "floats.npz", arrays, **scaled)

    split = load_split(DataRef.resolve(str(path), 50))

    np.testing.assert_allclose(split.x_test, scaled["x_test"], rtol=1e-6)


def test_an_explicit_path_wins_over_the_environment(
    arrays: Arrays, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_npz(tmp_path / "given.npz", arrays)
    monkeypatch.setenv("HYPERTUNE_DATA", str(tmp_path / "elsewhere.npz"))

    assert DataRef.resolve(str(path)).path == str(path)
    x_train, *_ = load_mnist(str(path))
    assert len(x_train) == N_TRAIN
    with pytest.raises(DataError, match=r"elsewhere\.npz"):
        load_mnist()


def test_the_environment_is_used_without_a_path(
    arrays: Arrays, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_npz(tmp_path / "env.npz", arrays)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HYPERTUNE_DATA", "env.npz")

    ref = DataRef.resolve(None, val_size=20)
    x_train, y_train, x_test, y_test = load_mnist()

    assert ref.path == str(tmp_path / "env.npz")
    assert (len(x_train), len(y_train), len(x_test), len(y_test)) == (300, 300, 100, 100)


def test_cli_reports_a_bad_environment_path_and_a_bad_explicit_path(
    arrays: Arrays, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli, tracker
) -> None:
    good = write_npz(tmp_path / "good.npz", arrays)
    monkeypatch.setenv("HYPERTUNE_DATA", str(tmp_path / "from-env.npz"))
    from_env = run_cli("train", TEMPLATES / "relu_adam.py", "--val-size", "50")

    monkeypatch.setenv("HYPERTUNE_DATA", str(good))
    explicit = run_cli("train", TEMPLATES / "relu_adam.py", "--data", tmp_path / "given.npz")

    assert from_env.exit_code == explicit.exit_code == 2
    assert "from-env.npz" in from_env.stderr
    assert "given.npz" in explicit.stderr
    assert "good.npz" not in explicit.stderr
    assert tracker.search("") == []


# -- bad data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadData:
    """A bad input: how to write it, and what its error message must say."""

    name: str
    write: Callable[[Path, Arrays], Path]
    says: tuple[str, ...]
    val_size: int = 50


def _missing(folder: Path, arrays: Arrays) -> Path:
    return folder / "nowhere.npz"


def _text(folder: Path, arrays: Arrays) -> Path:
    path = folder / "notes.npz"
    path.write_text("x_train,y_train\n1,2\n")
    return path


def _empty_file(folder: Path, arrays: Arrays) -> Path:
    path = folder / "empty.npz"
    path.write_bytes(b"")
    return path


def _npy(folder: Path, arrays: Arrays) -> Path:
    path = folder / "images.npy"
    np.save(path, arrays["x_train"])
    return path


def _object_array(folder: Path, arrays: Arrays) -> Path:
    labels = np.array([int(y) for y in arrays["y_train"]], dtype=object)
    return write_npz(folder / "pickled.npz", arrays, y_train=labels)


def _text_folder(folder: Path, arrays: Arrays) -> Path:
    folder = folder / "idx"
    folder.mkdir()
    for name in IDX_NAMES.values():
        (folder / name).write_text("not an IDX file\n")
    return folder


def _folder_without_test_labels(folder: Path, arrays: Arrays) -> Path:
    folder = write_idx_folder(folder / "idx", arrays)
    (folder / IDX_NAMES["y_test"]).unlink()
    return folder


def _truncated_idx(folder: Path, arrays: Arrays) -> Path:
    folder = write_idx_folder(folder / "idx", arrays)
    images = folder / IDX_NAMES["x_train"]
    images.write_bytes(images.read_bytes()[:-100])
    return folder


def _truncated_header(folder: Path, arrays: Arrays) -> Path:
    folder = write_idx_folder(folder / "idx", arrays)
    (folder / IDX_NAMES["x_test"]).write_bytes(idx_bytes(arrays["x_test"])[:9])
    return folder


def _truncated_gzip(folder: Path, arrays: Arrays) -> Path:
    folder = write_idx_folder(folder / "idx", arrays, ".gz")
    labels = folder / (IDX_NAMES["y_train"] + ".gz")
    labels.write_bytes(labels.read_bytes()[:30])
    return folder


def _idx_lengths_differ(folder: Path, arrays: Arrays) -> Path:
    return write_idx_folder(folder / "idx", {**arrays, "y_train": arrays["y_train"][:-1]})


def _changed(name: str, **changes: np.ndarray | None) -> Callable[[Path, Arrays], Path]:
    """A writer of the real arrays with ``changes``: each array made from the real one."""

    def write(folder: Path, arrays: Arrays) -> Path:
        made = {k: (None if f is None else f(arrays[k])) for k, f in changes.items()}
        return write_npz(folder / f"{name}.npz", arrays, **made)

    return write


def _with(value: int, at: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    def change(labels: np.ndarray) -> np.ndarray:
        changed = labels.astype(np.int64)
        changed[at] = value
        return changed

    return change


def _with_nan(images: np.ndarray) -> np.ndarray:
    scaled = images / 255.0
    scaled[3, 10, 10] = np.nan
    return scaled


BAD_DATA = [
    BadData("missing file", _missing, ("no data at", "nowhere.npz", "HYPERTUNE_DATA")),
    BadData("text file", _text, ("notes.npz is not a readable .npz", "IDX")),
    BadData("empty file", _empty_file, ("empty.npz is not a readable .npz",)),
    BadData("single .npy array", _npy, ("images.npy", ".npz")),
    BadData("pickled object array", _object_array, ("pickled.npz is not a readable .npz",)),
    BadData("folder of text files", _text_folder, ("is not an IDX file",)),
    BadData("folder lacking a file", _folder_without_test_labels, ("t10k-labels-idx1-ubyte",)),
    BadData(
        "truncated IDX data",
        _truncated_idx,
        ("train-images-idx3-ubyte is truncated", "(300, 28, 28)", "235100 bytes"),
    ),
    BadData("truncated IDX header", _truncated_header, ("t10k-images", "bad header")),
    BadData("truncated gzip", _truncated_gzip, ("cannot read", "train-labels-idx1-ubyte.gz")),
    BadData("IDX lengths differ", _idx_lengths_differ, ("x_train holds 300 images", "299 labels")),
    BadData(
        "npz missing keys",
        _changed("partial", x_test=None, y_test=None),
        ("lacks the key(s) x_test, y_test", "has: x_train, y_train"),
    ),
    BadData(
        "images with a channel axis",
        _changed("channels", x_train=lambda x: x[..., None]),
        ("x_train must hold images shaped (N, 28, 28) or (N, 784)", "(300, 28, 28, 1)"),
    ),
    BadData(
        "images as one long row",
        _changed("flat", x_test=lambda x: x.reshape(-1)),
        ("x_test must hold images", "(78400,)"),
    ),
    BadData(
        "one-hot labels",
        _changed("onehot", y_train=lambda y: np.eye(10, dtype=np.uint8)[y]),
        ("y_train must be a 1-D array of integer labels", "(300, 10)"),
    ),
    BadData(
        "test images of another size",
        _changed("small-test", x_test=lambda x: x[:, ::2, ::2]),
        ("training images have shape (28, 28) but test images have (14, 14)",),
    ),
    BadData(
        "int64 pixels",
        _changed("int64", x_train=lambda x: x.astype(np.int64)),
        ("x_train must be uint8 pixels (0-255) or floats in [0, 1]", "int64"),
    ),
    BadData(
        "unscaled float pixels",
        _changed("unscaled", x_test=lambda x: x.astype(np.float64)),
        ("float pixels in x_test must lie in [0, 1]",),
    ),
    BadData(
        "NaN pixels",
        _changed("nan", x_train=_with_nan),
        ("float pixels in x_train must lie in [0, 1]", "nan"),
    ),
    BadData(
        "float labels",
        _changed("float-labels", y_train=lambda y: y.astype(np.float32)),
        ("y_train must be a 1-D array of integer labels", "float32"),
    ),
    BadData(
        "label 10",
        _changed("label10", y_train=_with(10, at=5)),
        ("labels in y_train must lie in 0-9", "to 10"),
    ),
    BadData(
        "label -1",
        _changed("negative", y_test=_with(-1)),
        ("labels in y_test must lie in 0-9", "from -1"),
    ),
    BadData(
        "no training images",
        _changed("empty", x_train=lambda x: x[:0], y_train=lambda y: y[:0]),
        ("x_train must hold images", "(0, 28, 28)"),
    ),
    BadData(
        "images of no pixels",
        _changed("no-pixels", x_test=lambda x: x.reshape(len(x), -1)[:, :0]),
        ("x_test must hold images", "(100, 0)"),
    ),
    BadData(
        "no test labels",
        _changed("no-labels", y_test=lambda y: y[:0]),
        ("x_test holds 100 images but y_test holds 0 labels",),
    ),
    BadData(
        "fewer labels than images",
        _changed("short", y_train=lambda y: y[:-10]),
        ("x_train holds 300 images but y_train holds 290 labels",),
    ),
    BadData(
        "val-size as large as the training set",
        _changed("good"),
        ("--val-size must be between 1 and 299", "holds 300 images", "got 300"),
        val_size=300,
    ),
]


@pytest.mark.parametrize("bad", BAD_DATA, ids=[b.name for b in BAD_DATA])
def test_bad_data_raises_a_data_error(bad: BadData, arrays: Arrays, tmp_path: Path) -> None:
    path = bad.write(tmp_path, arrays)

    with pytest.raises(DataError) as raised:
        load_split(DataRef.resolve(str(path), bad.val_size))

    message = str(raised.value)
    for fragment in bad.says:
        assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize("bad", BAD_DATA, ids=[b.name for b in BAD_DATA])
def test_cli_refuses_bad_data_in_one_line(
    bad: BadData, arrays: Arrays, tmp_path: Path, run_cli, tracker
) -> None:
    path = bad.write(tmp_path, arrays)

    result = run_cli(
        "train", TEMPLATES / "relu_adam.py", "--data", path, "--val-size", bad.val_size
    )

    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: ")
    for fragment in bad.says:
        assert fragment in line
    assert "Traceback" not in result.output
    assert tracker.search("") == []


def test_cli_refuses_a_val_size_below_one(small_data: Path, run_cli, tracker) -> None:
    result = run_cli("train", TEMPLATES / "relu_adam.py", "--data", small_data, "--val-size", 0)

    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith("Error: Invalid value for '--val-size'")
    assert "Traceback" not in result.output
    assert tracker.search("") == []


@pytest.mark.parametrize("val_size", [0, -5, N_TRAIN + 1])
def test_library_refuses_a_val_size_out_of_range(
    val_size: int, arrays: Arrays, tmp_path: Path
) -> None:
    path = write_npz(tmp_path / "mnist.npz", arrays)

    with pytest.raises(DataError, match=f"between 1 and 299 .* but got {val_size}"):
        load_split(DataRef.resolve(str(path), val_size))
