"""Rows to score: the project's first rows or a payload file, features only and header-less."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs import rows
from lightsage_deploy.project import project


def test_sample_rows_are_the_projects_first_rows_without_the_target(example_project: project.Project) -> None:
    body = rows.sample_rows(example_project.source, example_project.target, 2)
    source = pd.read_csv(example_project.source, dtype=str, keep_default_na=False)
    assert body.count("\n") == 2
    first = next(
        iter(pd.read_csv(io.StringIO(body), header=None, dtype=str, keep_default_na=False).itertuples())
    )
    assert list(first[1:]) == source.drop(columns=["Survived"]).iloc[0].tolist()


def test_payload_files_and_their_problems(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("1,a\n\n2,b\n3,c\n")
    assert rows.payload_rows(tmp_path / "rows.csv", 2) == "1,a\n2,b\n"
    with pytest.raises(DeployError, match=r"missing\.csv does not exist"):
        rows.payload_rows(tmp_path / "missing.csv", 5)
    (tmp_path / "empty.csv").write_text("\n\n")
    with pytest.raises(DeployError, match="holds no rows"):
        rows.payload_rows(tmp_path / "empty.csv", 5)


def test_the_batch_input_drops_the_header_and_the_target_only() -> None:
    labelled = 'PassengerId,Survived,Name,Age\n1,0,"Braund, Mr. Owen",22\n\n2,1,"Cumings, Mrs. ""Flo""",\n'
    frame = rows.read_frame(labelled.encode(), "validation.csv")
    features, count = rows.features_only_csv(frame, "Survived")
    assert count == 2
    assert features == '1,"Braund, Mr. Owen",22\n2,"Cumings, Mrs. ""Flo""",\n'
    with pytest.raises(DeployError, match="no 'Survived' column"):
        rows.features_only_csv(rows.read_frame(b"PassengerId,Name\n1,x\n", "v.csv"), "Survived")
