"""Uploading the data against in-process moto: the bucket, the split the task asks for, the channels' format,
and whole output lines."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from lightsage.tasks import Task
from lightsage_deploy.aws.progress import MIB, UploadProgress
from lightsage_deploy.aws.s3 import list_keys
from lightsage_deploy.cli import upload as upload_command
from lightsage_deploy.errors import DeployError
from lightsage_deploy.jobs import channels
from lightsage_deploy.project import project
from lightsage_deploy.steps import upload as upload_data
from lightsage_deploy.targets import target as settings


@pytest.mark.usefixtures("moto_aws")
def test_upload_needs_create_bucket_for_a_new_bucket(example_project: project.Project) -> None:
    source, target_column = example_project.source, example_project.target
    with settings.open_target(local=False, region="eu-west-1") as target:
        layout = settings.S3Layout("titanic-unit", example_project.prefix)
        with pytest.raises(DeployError, match=r"bucket titanic-unit does not exist: .* --create-bucket"):
            upload_data.upload_training_data(target, layout, source, target_column)

        uploaded = upload_data.upload_training_data(target, layout, source, target_column, create_bucket=True)

        s3 = target.client("s3")
        assert uploaded.bucket_created and uploaded.stratified
        assert (uploaded.train_rows, uploaded.validation_rows) == (712, 179)
        assert s3.get_bucket_location(Bucket="titanic-unit")["LocationConstraint"] == "eu-west-1"
        assert s3.get_public_access_block(Bucket="titanic-unit")["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        }
        assert sorted(list_keys(s3, layout.uri())) == [
            "titanic-byoc/train/train.csv",
            "titanic-byoc/validation/validation.csv",
        ]
        head = s3.head_object(Bucket="titanic-unit", Key="titanic-byoc/train/train.csv")
        assert head["ContentType"] == "text/csv"
        assert upload_data.upload_training_data(target, layout, source, target_column).bucket_created is False


@pytest.mark.usefixtures("moto_aws")
def test_a_parquet_regression_source_is_split_at_random_and_stays_parquet(tmp_path: Path) -> None:
    source = tmp_path / "houses.parquet"
    pd.DataFrame({"rooms": range(50), "price": [1000.5 * i for i in range(50)]}).to_parquet(
        source, index=False
    )
    with settings.open_target(local=False) as target:
        layout = settings.S3Layout("houses", "houses")
        uploaded = upload_data.upload_training_data(target, layout, source, "price", create_bucket=True)
        s3 = target.client("s3")
        assert not uploaded.stratified
        assert (uploaded.train_rows, uploaded.validation_rows) == (40, 10)
        head = s3.head_object(Bucket="houses", Key="houses/validation/validation.parquet")
        assert head["ContentType"] == "application/x-parquet"
    assert channels.channel_file_name("validation", source) == "validation.parquet"
    with (
        settings.open_target(local=False) as target,
        pytest.raises(DeployError, match="no target column 'nope'"),
    ):
        upload_data.upload_training_data(target, settings.S3Layout("houses", "h"), source, "nope")


@pytest.mark.usefixtures("moto_aws", "houses_project")
def test_upload_splits_at_random_for_a_recipe_whose_only_task_is_regression(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert upload_command.main(["--bucket", "houses-unit", "--create-bucket"]) == 0
    printed = capsys.readouterr().out
    assert "(32 rows, random split)" in printed
    assert "stratified" not in printed


@pytest.mark.usefixtures("moto_aws")
@pytest.mark.parametrize(
    ("task", "stratified"), [(None, True), (Task.MULTICLASS, True), (Task.REGRESSION, False)]
)
def test_the_split_follows_the_task_the_jobs_will_get(
    tmp_path: Path, task: Task | None, stratified: bool
) -> None:
    source = tmp_path / "years.csv"
    pd.DataFrame({"x": range(60), "years": [8, 10, 12, 16] * 15}).to_csv(source, index=False)
    with settings.open_target(local=False) as target:
        layout = settings.S3Layout("years", "years")
        uploaded = upload_data.upload_training_data(
            target, layout, source, "years", create_bucket=True, task=task
        )
    assert uploaded.stratified is stratified


class WriteRecorder(io.StringIO):
    """A stream that keeps each write apart, as a stream flushed by another thread may send them."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


@pytest.mark.usefixtures("moto_aws")
def test_every_progress_and_result_line_is_written_whole_with_its_line_break(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    results, progress = WriteRecorder(), WriteRecorder()
    monkeypatch.setattr("sys.stdout", results)
    monkeypatch.setattr("sys.stderr", progress)
    assert upload_command.main(["--bucket", "titanic-unit", "--create-bucket"]) == 0
    big = UploadProgress("big.csv", 20 * MIB)
    big(20 * MIB // 2)
    big.done()
    assert len(results.writes) == 3 and len(progress.writes) == 4
    for write in (*results.writes, *progress.writes):
        assert write.endswith("\n") and write.count("\n") == 1, write
    assert results.writes[-1] == "validation: s3://titanic-unit/titanic-byoc/validation/ (179 rows)\n"
    assert progress.writes[-2].startswith("uploading big.csv: 50%")


@pytest.mark.usefixtures("moto_aws")
def test_a_class_too_small_to_split_is_named_not_a_traceback(tmp_path: Path) -> None:
    source = tmp_path / "rare.csv"
    pd.DataFrame({"x": range(10), "y": ["a"] * 5 + ["b"] * 4 + ["rare"]}).to_csv(source, index=False)
    with (
        settings.open_target(local=False) as target,
        pytest.raises(
            DeployError, match=r"rare.csv: cannot split 10 rows stratified by the classes of 'y': .*rare"
        ),
    ):
        upload_data.upload_training_data(
            target, settings.S3Layout("rare", "rare"), source, "y", create_bucket=True
        )
