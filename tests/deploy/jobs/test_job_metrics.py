"""The task of a job and what follows: metric regexes that read `train`'s lines, the tuner's objective."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from lightsage.tasks import CV_PREFIX, METRIC_SPLITS, METRICS, Task, metric_line
from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs import metrics


@pytest.mark.parametrize("task", list(Task))
def test_there_is_one_definition_per_metric_line_and_within_sagemakers_limit(task: Task) -> None:
    definitions = metrics.metric_definitions(task)
    names = [definition["Name"] for definition in definitions]
    expected = [f"{split}:{entry.name}" for split in METRIC_SPLITS for entry in METRICS[task]]
    expected += [f"{CV_PREFIX}:{entry.name}_mean" for entry in METRICS[task]]
    assert names == expected
    assert len(definitions) <= 40


@pytest.mark.parametrize("task", list(Task))
@pytest.mark.parametrize("value", [0.853887, 0.0, 1.0, 12.5, -0.25, -3.0])
def test_each_regex_reads_exactly_its_own_line(task: Task, value: float) -> None:
    definitions = metrics.metric_definitions(task)
    for definition in definitions:
        split, _, name = definition["Name"].partition(":")
        line = metric_line(split, name, value)
        logged = f"[36m7sa74wckhp-algo-1-6jb8m |[0m {line}"
        matching = [d["Name"] for d in definitions if re.search(d["Regex"], logged)]
        assert matching == [definition["Name"]]
        found = re.search(definition["Regex"], logged)
        assert found is not None and float(found.group(1)) == pytest.approx(value, abs=1e-6)


def test_the_log_summary_line_is_not_a_metric() -> None:
    regexes = [d["Regex"] for d in metrics.metric_definitions(Task.BINARY)]
    assert not any(re.search(regex, "[train] validation (179 rows): auc 0.8539") for regex in regexes)


@pytest.mark.parametrize(
    ("task", "name", "direction"),
    [
        (Task.BINARY, "validation:auc", "Maximize"),
        (Task.MULTICLASS, "validation:log_loss", "Minimize"),
        (Task.REGRESSION, "validation:rmse", "Minimize"),
    ],
)
def test_the_objective_follows_the_task(task: Task, name: str, direction: str) -> None:
    assert metrics.objective(task) == metrics.Objective(name, direction)  # type: ignore[arg-type]
    assert name in metrics.metric_names(task)


TARGETS = {
    Task.BINARY: ["yes", "no", "no", "yes", " no", ""],
    Task.MULTICLASS: ["a", "b", "c", "a", "b", "c"],
    Task.REGRESSION: ["1.5", "-2.25", "3", "0.125", "7.5", "2"],
}


@pytest.mark.parametrize("task", list(Task))
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_task_is_inferred_from_the_data_source(tmp_path: Path, task: Task, suffix: str) -> None:
    frame = pd.DataFrame({"x": range(6), "y": TARGETS[task]})
    source = tmp_path / f"data{suffix}"
    if suffix == ".csv":
        frame.to_csv(source, index=False)
    else:
        frame.to_parquet(source, index=False)
    assert metrics.infer_from_source(source, "y") is task
    assert metrics.inferred_task({"recipe": "tabular", "target": "y"}, source) is task


def test_a_set_task_wins_and_a_one_task_recipe_needs_no_data(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    regression = {"recipe": "tabular", "target": "y", "task": "regression"}
    assert metrics.known_task(regression) is metrics.inferred_task(regression, missing) is Task.REGRESSION
    titanic = {"recipe": "titanic", "target": "Survived"}
    assert metrics.known_task(titanic) is metrics.inferred_task(titanic, missing) is Task.BINARY
    with pytest.raises(DeployError, match=r"cannot tell the task .*--task"):
        metrics.inferred_task({"recipe": "tabular", "target": "y"}, missing)


@pytest.mark.parametrize(
    ("values", "sent", "tasks"),
    [
        ({"recipe": "titanic"}, "binary", (Task.BINARY,)),
        ({"recipe": "titanic", "task": "auto"}, "binary", (Task.BINARY,)),
        ({"recipe": "tabular", "task": "multiclass"}, "multiclass", (Task.MULTICLASS,)),
        ({"recipe": "tabular"}, None, (Task.BINARY, Task.MULTICLASS, Task.REGRESSION)),
        ({"recipe": "tabular", "task": "auto"}, "auto", (Task.BINARY, Task.MULTICLASS, Task.REGRESSION)),
    ],
)
def test_the_job_is_sent_the_task_its_metric_definitions_assume(
    values: dict[str, str], sent: str | None, tasks: tuple[Task, ...]
) -> None:
    job = metrics.with_known_task({**values, "target": "y"})
    assert job.get("task") == sent
    assert metrics.job_tasks(job) == tasks
    names = metrics.metric_names(*tasks)
    assert len(names) == len(set(names)) <= 40  # SageMaker's limit per job
    for task in tasks:
        assert set(metrics.metric_names(task)) <= set(names)


def test_a_task_the_recipe_does_not_handle_is_refused_before_any_job() -> None:
    with pytest.raises(DeployError, match=r"task regression: recipe 'titanic' handles binary targets only"):
        metrics.known_task({"recipe": "titanic", "target": "Survived", "task": "regression"})


def test_a_missing_target_column_is_named_with_the_closest_names(tmp_path: Path) -> None:
    source = tmp_path / "data.csv"
    source.write_text("a,b,Status,state\n1,2,x,y\n")
    with pytest.raises(DeployError, match=r"has no target column 'y'; its columns: a, b, Status, state$"):
        metrics.infer_from_source(source, "y")
    with pytest.raises(
        DeployError, match="has no target column 'status' \\(did you mean 'Status' or 'state'\\?\\)"
    ):
        metrics.infer_from_source(source, "status")
    parquet = tmp_path / "data.parquet"
    pd.DataFrame({"income": [1], "Status": ["good"]}).to_parquet(parquet)
    with pytest.raises(DeployError, match="has no target column 'Statis' \\(did you mean 'Status'\\?\\)"):
        metrics.infer_from_source(parquet, "Statis")


def test_a_file_that_is_not_a_table_is_named(tmp_path: Path) -> None:
    source = tmp_path / "data.parquet"
    source.write_text("a,b\n1,2\n")
    with pytest.raises(DeployError, match=f"cannot read {source} as Parquet: "):
        metrics.table_columns(source)
