"""CSV point tables, Old Faithful and generated mixtures."""

import numpy as np
import pytest

from engine.data.folder import shared_data_dir
from engine.data.tables import load_faithful, make_blobs_mixture, read_csv_columns
from engine.errors import ConfigError, DataError


def _write(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_bad_rows_are_skipped_and_counted(tmp_path):
    path = _write(tmp_path, "id,x,y,label\n1,1.5,2,a\n2,abc,3,b\n3,4,,c\n4,nan,1,d\n5,inf,1,e\n"
                            "6,-inf,2,f\n\n7,3,4e1,g\n8,5\n")
    table = read_csv_columns(path, ["x", "y"])
    np.testing.assert_array_equal(table.X, [[1.5, 2.0], [3.0, 40.0]])
    assert table.X.dtype == np.float64 and table.names == ("x", "y")
    assert table.skipped == 6 and table.total_rows == 8
    assert "skipped 6 of 8 rows" in table.note and "t.csv" in table.note


def test_default_columns_are_the_first_two_numeric_ones(tmp_path):
    path = _write(tmp_path, "name,a,b,c\nfoo,1,2,3\nbar,4,5,6\n")
    assert read_csv_columns(path).names == ("a", "b")
    assert read_csv_columns(path, [3, "a"]).names == ("c", "a")
    assert read_csv_columns(path, ["3", "1"]).X.tolist() == [[3.0, 1.0], [6.0, 4.0]]


def test_row_number_columns_are_passed_over(tmp_path):
    path = _write(tmp_path, '"rownames","eruptions","waiting"\n"1",3.6,79\n"2",1.8,54\n')
    table = read_csv_columns(path)
    assert table.names == ("eruptions", "waiting") and table.X.tolist() == [[3.6, 79.0], [1.8, 54.0]]


def test_headerless_and_semicolon_files(tmp_path):
    table = read_csv_columns(_write(tmp_path, "1;2\n3;4\n5;6\n"))
    assert table.names == ("column 1", "column 2") and table.X.shape == (3, 2)


def test_fewer_than_two_numeric_columns_is_a_data_error(tmp_path):
    path = _write(tmp_path, "name,value\nfoo,1\nbar,2\n", "one.csv")
    with pytest.raises(DataError, match=r"one\.csv.*numeric"):
        read_csv_columns(path)


def test_unusable_files_and_columns(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_csv_columns(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="empty"):
        read_csv_columns(_write(tmp_path, "\n\n", "blank.csv"))
    path = _write(tmp_path, "x,y,z\n1,2,a\nnan,inf,b\n")
    with pytest.raises(DataError, match="no column 'w'"):
        read_csv_columns(path, ["x", "w"])
    with pytest.raises(DataError, match="not numeric"):
        read_csv_columns(path, ["x", "z"])
    with pytest.raises(DataError, match="out of range"):
        read_csv_columns(path, [0, 7])
    with pytest.raises(ConfigError, match="exactly two"):
        read_csv_columns(path, ["x"])
    nothing = _write(tmp_path, "x,y\n1,nan\ninf,2\n", "bad.csv")
    with pytest.raises(DataError, match=r"bad\.csv has no rows"):
        read_csv_columns(nothing)
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(DataError, match="UTF-8"):
        read_csv_columns(binary)


def test_faithful_from_the_shared_folder():
    root = shared_data_dir()
    if root is None or not (root / "faithful" / "faithful.csv").is_file():
        pytest.skip("Old Faithful is not in the shared data folder")
    table = load_faithful(root)
    assert table.X.shape == (272, 2) and table.names == ("eruptions", "waiting") and table.skipped == 0
    assert 1.5 < table.X[:, 0].min() < table.X[:, 0].max() < 5.5


def test_faithful_missing_says_how_to_fetch_it(tmp_path):
    with pytest.raises(DataError, match="download faithful"):
        load_faithful(tmp_path)


def test_generated_mixture_is_seeded_and_separated():
    X, labels = make_blobs_mixture(900, 4, seed=3, separation=7.0)
    assert X.shape == (900, 2) and labels.shape == (900,) and set(labels.tolist()) == {0, 1, 2, 3}
    again, same = make_blobs_mixture(900, 4, seed=3, separation=7.0)
    np.testing.assert_array_equal(X, again)
    np.testing.assert_array_equal(labels, same)
    centers = np.array([X[labels == j].mean(0) for j in range(4)])
    gaps = np.linalg.norm(centers[:, None] - centers[None], axis=-1)[np.triu_indices(4, 1)]
    assert gaps.min() > 5.0
    assert make_blobs_mixture(50, 2, seed=0, dim=5)[0].shape == (50, 5)
    with pytest.raises(ConfigError):
        make_blobs_mixture(10, 0, seed=0)
