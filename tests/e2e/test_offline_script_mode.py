"""Script mode, offline: the repository's examples/houses/houses.py, copied to a folder of its own, reaches
the unchanged image at fit time, through the SageMaker SDK's local mode and through the `byoc` commands.

- The SDK: `Estimator(image_uri=IMAGE, entry_point="houses.py", source_dir=DIR)` trains on a houses table
  (the folder is mounted at /opt/ml/code: local mode with local code), and `est.deploy(...,
  entry_point="houses.py", source_dir=DIR)` serves the model, answering every row of a request.
- The CLI: `byoc upload`, `byoc train` and `byoc deploy`, each `--local --recipe-dir DIR`.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lightsage.recipes import script
from lightsage.recipes.base import sha256
from lightsage_deploy.aws.s3 import read_model_archive
from lightsage_deploy.cli import deploy as deploy_command
from lightsage_deploy.cli import train as train_command
from lightsage_deploy.cli import upload as upload_command
from lightsage_deploy.project import project
from lightsage_deploy.steps import image as push_image
from lightsage_deploy.targets import target as settings
from lightsage_deploy.targets.offline import OfflineServices

from housessupport import EXAMPLE_DIR, houses_table

pytestmark = pytest.mark.e2e

NAME = "houses-script-e2e"
BUCKET = f"{NAME}-sdk"
ROLE = "arn:aws:iam::111111111111:role/houses-script-e2e-local"
REQUEST_ROWS = 30


@pytest.fixture(scope="module")
def repository() -> str:
    return NAME


@pytest.fixture(scope="module")
def recipe_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """examples/houses/houses.py alone in a folder outside the repository."""
    folder = tmp_path_factory.mktemp("houses-recipe")
    shutil.copy(EXAMPLE_DIR / "houses.py", folder / "houses.py")
    yield folder
    sys.modules.pop(script.MODULE_NAME, None)


@pytest.fixture(scope="module")
def layout(target: settings.DeployTarget) -> settings.S3Layout:
    """s3://BUCKET/houses-script-e2e/{train,validation}/ holding a houses table."""
    layout = settings.S3Layout(BUCKET, NAME)
    s3 = target.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for channel, rows in (("train", houses_table(600, 1)), ("validation", houses_table(150, 2))):
        s3.put_object(Bucket=BUCKET, Key=layout.key(channel, f"{channel}.csv"), Body=rows.to_csv(index=False))
    return layout


def test_the_sdk_ships_the_recipe_at_fit_and_serves_every_row_with_deploy(
    target: settings.DeployTarget, pinned_image: str, recipe_dir: Path, layout: settings.S3Layout
) -> None:
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.serializers import CSVSerializer

    estimator = Estimator(
        image_uri=pinned_image,
        role=ROLE,
        instance_count=1,
        instance_type="local",
        entry_point="houses.py",
        source_dir=str(recipe_dir),
        hyperparameters={"n_estimators": 60, "smoothing": 5},
        output_path=layout.output,
        sagemaker_session=target.sagemaker_session,
    )
    estimator.fit(
        {
            "train": TrainingInput(layout.train, content_type="text/csv"),
            "validation": TrainingInput(layout.validation, content_type="text/csv"),
        }
    )
    archive = read_model_archive(target.client("s3"), estimator.model_data)
    source = archive.manifest["recipe"]["source"]
    assert archive.manifest["recipe"]["name"] == "houses" and source["origin"] == "script"
    assert source["files"] == {"houses.py": sha256((recipe_dir / "houses.py").read_bytes())}
    assert archive.metrics["hyperparameters"]["smoothing"] == 5.0
    assert archive.metrics["validation"]["r2"] > 0.8

    predictor = estimator.deploy(
        initial_instance_count=1,
        instance_type="local",
        entry_point="houses.py",
        source_dir=str(recipe_dir),
        # where the SDK puts the model's code; without it the SDK asks STS for a default bucket's name
        code_location=layout.uri("code"),
        serializer=CSVSerializer(),
        deserializer=JSONDeserializer(),
    )
    try:
        model = target.sagemaker_session.sagemaker_client.describe_model(ModelName=predictor.endpoint_name)
        environment = model["PrimaryContainer"]["Environment"]
        request = houses_table(REQUEST_ROWS, 9).drop(columns=["price"])
        answer = predictor.predict(request.to_csv(index=False))
    finally:
        predictor.delete_model()
        predictor.delete_endpoint()
    assert environment["SAGEMAKER_PROGRAM"] == "houses.py"
    print(f"\nSAGEMAKER_SUBMIT_DIRECTORY of the local model: {environment['SAGEMAKER_SUBMIT_DIRECTORY']}")
    predictions = answer["predictions"]
    assert len(predictions) == REQUEST_ROWS
    assert all(row["prediction"] > 0 for row in predictions)


@pytest.fixture(scope="module")
def project_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A user's project naming the recipe `houses`, which the image does not have."""
    folder = tmp_path_factory.mktemp("houses-project")
    houses_table(500, 3).to_csv(folder / "houses.csv", index=False)
    path = folder / "byoc.toml"
    path.write_text(
        f'[project]\nname = "{NAME}"\n[data]\nsource = "houses.csv"\ntarget = "price"\n'
        '[training]\nrecipe = "houses"\n[training.hyperparameters]\nn_estimators = 40\n',
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(project.FILE_VARIABLE, str(path))
        yield path


def test_byoc_upload_train_and_deploy_ship_the_recipe_folder(
    pushed: push_image.PushedImage,
    pinned_image: str,
    offline_services: OfflineServices,
    recipe_dir: Path,
    project_file: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    local = [
        "--local",
        "--registry",
        offline_services.registry,
        "--s3-endpoint",
        offline_services.s3_endpoint,
    ]
    recipe = ["--recipe-dir", str(recipe_dir)]

    assert upload_command.main([*local, *recipe, "--create-bucket"]) == 0
    uploaded = capfd.readouterr().out
    assert re.search(r"^train: .*\(400 rows, random split\)$", uploaded, re.MULTILINE), uploaded

    assert train_command.main([*local, *recipe, "--image-uri", pinned_image]) == 0
    trained = capfd.readouterr()
    assert (
        "script mode: recipe houses (version 1) from houses.py in /opt/ml/code" in trained.out + trained.err
    )
    assert re.search(r"^validation: rmse [0-9.]+, mae [0-9.]+, r2 [0-9.-]+ \(regression,", trained.out, re.M)
    model_data = re.search(r"^model: +(s3://\S+/model\.tar\.gz)$", trained.out, re.MULTILINE)
    assert model_data is not None, trained.out

    rows = ["--rows", "4"]
    assert (
        deploy_command.main(
            [*local, *recipe, "--image-uri", pinned_image, "--model-data", model_data[1], *rows]
        )
        == 0
    )
    deployed = capfd.readouterr().out
    answers = re.findall(r"^prediction ([0-9.]+)  <- ", deployed, re.MULTILINE)
    assert len(answers) == 4 and all(float(answer) > 0 for answer in answers), deployed
