"""Split a labelled table into train and validation files (stratified when the target is a class).

    python -m lightsage.data.split --source FILE --target COLUMN [--output-dir DIR] [--validation-fraction
    0.2]
                         [--seed 42] [--task binary|multiclass|regression]

Writes OUTPUT_DIR/train/train.EXT and OUTPUT_DIR/validation/validation.EXT in the source's format (CSV or
Parquet), every value untouched. `deploy` uploads the same split. The split is stratified for a class
target: the given task's, else the one `train` infers from the target.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
from sklearn.model_selection import train_test_split

from lightsage import logs
from lightsage.data.profile import TargetColumn
from lightsage.tasks import TargetError, Task, infer_task


@dataclass(frozen=True)
class SplitFiles:
    train: Path
    validation: Path
    train_rows: int
    validation_rows: int
    stratified: bool


def read_table(source: Path) -> pd.DataFrame:
    if source.suffix.lower() in (".parquet", ".parq", ".pq"):
        return pd.read_parquet(source)
    return pd.read_csv(source, dtype=str, keep_default_na=False)


def is_classification(labels: pd.Series, target: str) -> bool:
    """Whether the target is a class (stratify) or a number to predict (do not): the rule `train` uses."""
    column = TargetColumn(target)
    column.observe(pa.Array.from_pandas(labels))
    return infer_task(column.target_profile(), target) is not Task.REGRESSION


def split_table(
    source: Path,
    output_dir: Path,
    target: str,
    validation_fraction: float = 0.2,
    seed: int = 42,
    task: Task | None = None,
) -> SplitFiles:
    """Stratified when `task` is a classification, or, without a task, when `train` would infer one."""
    frame = read_table(source)
    if target not in frame.columns:
        raise SystemExit(
            f"{source} has no target column '{target}' (columns: {', '.join(map(str, frame.columns))})"
        )
    try:
        stratified = is_classification(frame[target], target) if task is None else task is not Task.REGRESSION
    except TargetError as error:
        raise SystemExit(f"{source}: {error}") from None
    try:
        train, validation = train_test_split(
            frame,
            test_size=validation_fraction,
            stratify=frame[target] if stratified else None,
            random_state=seed,
        )
    except ValueError as error:  # e.g. a class with one row cannot be on both sides of a stratified split
        how = "stratified by the classes of" if stratified else "at random on"
        raise SystemExit(f"{source}: cannot split {len(frame)} rows {how} '{target}': {error}") from None
    suffix = ".parquet" if source.suffix.lower() in (".parquet", ".parq", ".pq") else ".csv"
    files = SplitFiles(
        train=output_dir / "train" / f"train{suffix}",
        validation=output_dir / "validation" / f"validation{suffix}",
        train_rows=len(train),
        validation_rows=len(validation),
        stratified=stratified,
    )
    for part, path in ((train, files.train), (validation, files.validation)):
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".parquet":
            part.to_parquet(path, index=False)
        else:
            part.to_csv(path, index=False)
    return files


def main(argv: list[str] | None = None) -> None:
    logs.configure("split")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", type=Path, required=True, help="a CSV (with header) or Parquet file")
    parser.add_argument("--target", required=True, help="the label column")
    parser.add_argument("--output-dir", type=Path, default=Path("local_test/test_dir/input/data"))
    parser.add_argument("--validation-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--task", choices=[task.value for task in Task], help="default: inferred")
    arguments = parser.parse_args(argv)
    files = split_table(
        arguments.source,
        arguments.output_dir,
        arguments.target,
        arguments.validation_fraction,
        arguments.seed,
        Task(arguments.task) if arguments.task else None,
    )
    kind = "stratified" if files.stratified else "random"
    print(f"train:      {files.train} ({files.train_rows} rows, {kind} split)")
    print(f"validation: {files.validation} ({files.validation_rows} rows)")


if __name__ == "__main__":
    main()
