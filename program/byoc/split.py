"""Split a labelled CSV into stratified train and validation files with their header row.

    python -m byoc.split [--source data/titanic.csv] [--output-dir local_test/test_dir/input/data]
                         [--validation-fraction 0.2] [--seed 42] [--target Survived]

Writes OUTPUT_DIR/train/train.csv and OUTPUT_DIR/validation/validation.csv: raw columns, untouched values.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SOURCE = REPOSITORY_ROOT / "data" / "titanic.csv"
DEFAULT_OUTPUT_DIR = REPOSITORY_ROOT / "local_test" / "test_dir" / "input" / "data"


@dataclass(frozen=True)
class SplitFiles:
    train: Path
    validation: Path
    train_rows: int
    validation_rows: int


def split_csv(
    source: Path, output_dir: Path, validation_fraction: float = 0.2, seed: int = 42, target: str = "Survived"
) -> SplitFiles:
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    if target not in frame.columns:
        raise SystemExit(f"{source} has no target column '{target}'")
    train, validation = train_test_split(
        frame, test_size=validation_fraction, stratify=frame[target], random_state=seed
    )
    files = SplitFiles(
        train=output_dir / "train" / "train.csv",
        validation=output_dir / "validation" / "validation.csv",
        train_rows=len(train),
        validation_rows=len(validation),
    )
    for part, path in ((train, files.train), (validation, files.validation)):
        path.parent.mkdir(parents=True, exist_ok=True)
        part.to_csv(path, index=False)
    return files


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR)
    parser.add_argument("--validation-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--target", default="Survived")
    arguments = parser.parse_args(argv)
    files = split_csv(
        arguments.source,
        arguments.output_dir,
        arguments.validation_fraction,
        arguments.seed,
        arguments.target,
    )
    print(f"train:      {files.train} ({files.train_rows} rows)")
    print(f"validation: {files.validation} ({files.validation_rows} rows)")


if __name__ == "__main__":
    main()
