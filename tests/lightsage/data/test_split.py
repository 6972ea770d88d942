from pathlib import Path

import pandas as pd

from lightsage.data.split import split_table

from testsupport import TITANIC_CSV, TRAIN_CSV, VALIDATION_CSV


def test_split_is_stratified_80_20_and_keeps_raw_columns(tmp_path: Path) -> None:
    files = split_table(TITANIC_CSV, tmp_path, "Survived")
    train, validation = pd.read_csv(files.train), pd.read_csv(files.validation)
    source = pd.read_csv(TITANIC_CSV)
    assert (files.train_rows, files.validation_rows) == (712, 179)
    assert list(train.columns) == list(source.columns) == list(validation.columns)
    assert abs(train["Survived"].mean() - validation["Survived"].mean()) < 0.01
    assert set(train["PassengerId"]).isdisjoint(validation["PassengerId"])


def test_committed_local_test_data_is_what_the_split_produces(tmp_path: Path) -> None:
    files = split_table(TITANIC_CSV, tmp_path, "Survived")
    assert files.train.read_bytes() == TRAIN_CSV.read_bytes()
    assert files.validation.read_bytes() == VALIDATION_CSV.read_bytes()


def test_seed_and_fraction_are_configurable(tmp_path: Path) -> None:
    files = split_table(TITANIC_CSV, tmp_path, "Survived", validation_fraction=0.3, seed=7)
    assert files.validation_rows == 268
    assert files.train.read_bytes() != TRAIN_CSV.read_bytes()


def test_a_numeric_target_is_split_at_random_and_parquet_stays_parquet(tmp_path: Path) -> None:
    source = tmp_path / "prices.parquet"
    pd.DataFrame({"x": range(100), "price": [i * 1.5 for i in range(100)]}).to_parquet(source)
    files = split_table(source, tmp_path / "out", "price")
    assert not files.stratified and files.train.suffix == ".parquet"
    assert (files.train_rows, files.validation_rows) == (80, 20)


def test_a_numeric_target_with_missing_value_markers_is_still_numeric(tmp_path: Path) -> None:
    """`NA` and `?` are missing labels in a number target, as `train` reads them: no stratification."""
    source = tmp_path / "prices.csv"
    prices = [str(i * 1.5) for i in range(100)]
    prices[3], prices[40] = "NA", "?"
    pd.DataFrame({"x": range(100), "price": prices}).to_csv(source, index=False)
    files = split_table(source, tmp_path / "out", "price")
    assert not files.stratified
    assert (files.train_rows, files.validation_rows) == (80, 20)
