"""`byoc local`: the job's /opt/ml tree in the project's scratch folder, laid out as SageMaker lays it out,
with what `byoc train` would send; and clear errors before anything runs: no Docker, no image, a taken port,
and a job that fails in the image."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs import hyperparameters
from lightsage_deploy.project import project
from lightsage_deploy.steps import local
from lightsage_deploy.steps.init import init_project

BYOC = Path(sys.executable).parent / "byoc"


def credit_table(rows: int = 60) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "income": [str(20 + row % 17) for row in range(rows)],
            "region": [("north", "south", "east")[row % 3] for row in range(rows)],
            "Status": [("good", "bad")[row % 2] for row in range(rows)],
        }
    )


@pytest.fixture
def credit_project(tmp_path: Path) -> project.Project:
    data = tmp_path / "credit.csv"
    credit_table().to_csv(data, index=False)
    return init_project(tmp_path / "credit", data, "Status").project


def options_for(the_project: project.Project, *assignments: str, **changes: object) -> local.LocalOptions:
    values = hyperparameters.for_job(the_project, assignments=assignments)
    return local.LocalOptions(project=the_project, hyperparameters=values, **changes)  # type: ignore[arg-type]


def test_the_job_tree_is_laid_out_as_sagemaker_lays_it_out(credit_project: project.Project) -> None:
    root, split = local.prepare(options_for(credit_project, "n_estimators=7"))
    assert root == credit_project.folder / ".byoc" / "local"
    config = root / "input" / "config"
    assert json.loads((config / "hyperparameters.json").read_text()) == {
        "recipe": "tabular",
        "target": "Status",
        "n_estimators": "7",
    }
    channel = {
        "ContentType": "text/csv",
        "TrainingInputMode": "File",
        "S3DistributionType": "FullyReplicated",
    }
    assert json.loads((config / "inputdataconfig.json").read_text()) == {
        "train": channel,
        "validation": channel,
    }
    assert json.loads((config / "resourceconfig.json").read_text())["hosts"] == ["algo-1"]
    train = pd.read_csv(root / "input" / "data" / "train" / "train.csv", dtype=str)
    validation = pd.read_csv(root / "input" / "data" / "validation" / "validation.csv", dtype=str)
    assert (len(train), len(validation), split.stratified) == (48, 12, True)
    assert sorted(pd.concat([train, validation]).to_csv(index=False).splitlines()) == sorted(
        credit_table().to_csv(index=False).splitlines()
    ), "every row lands in one channel, its text untouched"
    assert sorted(path.name for path in root.iterdir()) == ["input", "model", "output"]
    assert (root.parent / ".gitignore").read_text().splitlines()[-1] == "*"


def test_a_known_task_is_sent_and_a_second_run_starts_from_a_clean_tree(
    credit_project: project.Project,
) -> None:
    root, _ = local.prepare(options_for(credit_project))
    (root / "model" / "model.txt").write_text("an earlier run's model")
    (root / "checkpoints").mkdir()
    root, _ = local.prepare(options_for(credit_project, "task=binary"))
    assert json.loads((root / "input" / "config" / "hyperparameters.json").read_text())["task"] == "binary"
    assert list((root / "model").iterdir()) == [] and not (root / "checkpoints").exists()


def test_the_validation_metrics_are_summarised_in_the_tasks_order() -> None:
    run = local.LocalRun(
        ml_root=Path("/x"),
        split=None,  # type: ignore[arg-type]
        predictions="",
        metrics={"task": "binary", "validation": {"rows": 12, "auc": 0.91234, "accuracy": 0.75, "f1": None,
                                                  "log_loss": 0.5}},
    )  # fmt: skip
    assert (
        run.validation_summary() == "validation (12 rows, binary): auc=0.9123 accuracy=0.7500 log_loss=0.5000"
    )


def test_a_taken_port_is_named_before_anything_runs() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DeployError, match=f"port {port} on 127.0.0.1 is taken .*: pass another --port"):
            local.check_port_free(port)
    with pytest.raises(DeployError, match="--port 70000 is not a port number"):
        local.check_port_free(70000)


def test_without_docker_byoc_local_says_so_in_one_line(
    credit_project: project.Project, tmp_path: Path
) -> None:
    no_tools = tmp_path / "bin"
    no_tools.mkdir()
    result = subprocess.run(
        [str(BYOC), "local"],
        cwd=credit_project.folder, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PATH": str(no_tools)},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: the docker CLI is not installed or not on PATH. `byoc local` runs the image with Docker: "
        "install and start it"
    ]


@pytest.mark.container
def test_an_image_that_is_not_built_says_how_to_build_it(credit_project: project.Project) -> None:
    result = subprocess.run(
        [str(BYOC), "local", "--image", "lightsage-not-built:nowhere"],
        cwd=credit_project.folder, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: there is no image lightsage-not-built:nowhere on this machine: build it with "
        "`byoc build --tag lightsage-not-built:nowhere`"
    )
    assert not (credit_project.folder / ".byoc").exists(), "nothing is prepared before the checks pass"


@pytest.mark.container
def test_a_job_that_fails_in_the_image_reports_its_reason(image: str, tmp_path: Path) -> None:
    data = tmp_path / "credit.csv"
    credit_table().to_csv(data, index=False)
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "byoc.toml").write_text(
        '[project]\nname = "proj"\n[data]\nsource = "../credit.csv"\ntarget = "Status"\n'
        '[training]\nrecipe = "titanic"\n'
    )
    result = subprocess.run(
        [str(BYOC), "local", "--image", image],
        cwd=tmp_path / "proj", capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    failure = tmp_path / "proj" / ".byoc" / "local" / "output" / "failure"
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("error: train failed: the data lacks column(s) recipe 'titanic' needs: Pclass, Name, Sex")
    )
    assert result.stderr.strip().endswith(f"(written to {failure})")
    leftovers = subprocess.run(
        ["docker", "ps", "--all", "--quiet", "--filter", "label=lightsage.local=proj"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert leftovers.stdout.strip() == ""
