"""Script mode (lightsage.recipes.script): where a shipped recipe module comes from, how it is unpacked,
installed and imported, the reason each kind of bad source gets, and a model trained so: trained by `train`,
served with the same source, refused with another or none."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
import sysconfig
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from lightsage.contract.hyperparameters import HyperparameterError
from lightsage.contract.paths import MLPaths
from lightsage.model import artifact
from lightsage.model.artifact import ModelLoadError
from lightsage.recipes import script
from lightsage.recipes.base import RecipeSource, resolve, sha256
from lightsage.recipes.script import ScriptError, ScriptLocation
from lightsage.serving import server
from lightsage.serving.app import create_app
from lightsage.training.main import main, train

from housessupport import channels, houses_table
from scriptsupport import HOUSES_MODULE, houses_with_helper_package, source_folder, sourcedir_tar_gz
from testsupport import lightsage_log, make_ml_root

GIVEN_BY = "the hyperparameters sagemaker_program and sagemaker_submit_directory"


def sdk_hyperparameters(submit_directory: str | Path, program: str = "houses.py") -> dict[str, str]:
    """What Estimator(entry_point=..., source_dir=...) adds to a job's hyperparameters: JSON-quoted."""
    return {
        "sagemaker_program": json.dumps(program),
        "sagemaker_submit_directory": json.dumps(str(submit_directory)),
        "sagemaker_container_log_level": "20",
        "sagemaker_job_name": json.dumps("houses-2026-01-01-00-00-00-000"),
        "sagemaker_region": json.dumps("us-east-1"),
    }


def at(folder: Path, program: str = "houses.py") -> ScriptLocation:
    location = script.location_from_hyperparameters(sdk_hyperparameters(folder, program))
    assert location is not None
    return location


def loaded(folder: Path, program: str = "houses.py", work_dir: Path | None = None) -> script.Script:
    return script.load(script.prepare(at(folder, program), work_dir))


def refused(folder: Path, program: str = "houses.py", work_dir: Path | None = None) -> str:
    with pytest.raises(ScriptError) as caught:
        loaded(folder, program, work_dir)
    return str(caught.value)


@pytest.fixture(autouse=True)
def forget_the_module() -> Iterator[None]:
    yield
    sys.modules.pop(script.MODULE_NAME, None)


# -- where the source is -------------------------------------------------------------------------------------


def test_the_sdk_keys_name_the_source_and_other_keys_do_not() -> None:
    location = script.location_from_hyperparameters(
        sdk_hyperparameters("s3://bucket/houses-1/source/sourcedir.tar.gz")
    )
    assert location == ScriptLocation(
        "houses.py", "s3://bucket/houses-1/source/sourcedir.tar.gz", "us-east-1", GIVEN_BY
    )
    assert script.location_from_hyperparameters({"recipe": "tabular", "sagemaker_job_name": '"j"'}) is None
    environment = {"SAGEMAKER_PROGRAM": "houses.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
    served = script.location_from_environment(environment)
    assert served is not None and (served.program, served.submit_directory) == (
        "houses.py",
        "/opt/ml/model/code",
    )
    # Model(...) without an entry point sets both variables empty
    assert (
        script.location_from_environment({"SAGEMAKER_PROGRAM": "", "SAGEMAKER_SUBMIT_DIRECTORY": ""}) is None
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (
            {"sagemaker_program": '"houses.py"'},
            f"script mode needs both of {GIVEN_BY}; sagemaker_submit_directory",
        ),
        ({"sagemaker_submit_directory": '"/opt/ml/code"'}, f"needs both of {GIVEN_BY}; sagemaker_program is"),
        (
            sdk_hyperparameters("/opt/ml/code", "/etc/houses.py"),
            "entry point '/etc/houses.py' (the hyperparam",
        ),
        (
            sdk_hyperparameters("/opt/ml/code", "../houses.py"),
            "must be the path of a .py file inside the source",
        ),
        (sdk_hyperparameters("/opt/ml/code", "houses.sh"), "entry point 'houses.sh'"),
    ],
)
def test_half_a_location_or_an_entry_point_outside_the_folder_is_refused(raw: dict, reason: str) -> None:
    with pytest.raises(ScriptError) as caught:
        script.location_from_hyperparameters(raw)
    assert reason in str(caught.value)


# -- loading -----------------------------------------------------------------------------------------------


def test_a_module_loads_under_its_own_name_and_shadows_neither_the_standard_library_nor_a_library(
    tmp_path: Path,
) -> None:
    """The module is called json.py and a helper beside it pandas.py: neither replaces the real ones."""
    folder = source_folder(tmp_path / "code", program="json.py")
    (folder / "pandas.py").write_text("raise RuntimeError('the source folder shadowed pandas')\n")
    shipped = loaded(folder, "json.py")
    assert shipped.recipe.name == "houses" and shipped.recipe.__module__ == script.MODULE_NAME
    assert sys.modules[script.MODULE_NAME].__file__ == str(folder / "json.py")
    assert Path(sys.modules["json"].__file__).parent.parent == Path(sysconfig.get_paths()["stdlib"])
    assert pd.DataFrame({"a": [1]}).shape == (1, 1)
    assert str(folder) in sys.path and sys.path.index(str(folder)) > sys.path.index(
        sysconfig.get_paths()["stdlib"]
    )
    assert shipped.source == RecipeSource("script", "json.py", {"json.py": sha256(HOUSES_MODULE.encode())})


def test_an_archive_is_unpacked_into_a_fresh_folder_with_the_entry_point_in_a_subfolder(
    tmp_path: Path,
) -> None:
    folder = source_folder(tmp_path / "code", program="recipes/houses.py", requirements="")
    archive = sourcedir_tar_gz(folder, tmp_path / "sourcedir.tar.gz")
    shipped = loaded(archive, "recipes/houses.py", work_dir=tmp_path / "work")
    assert shipped.prepared.code_dir == tmp_path / "work" / "code"
    assert (tmp_path / "work" / "code" / "recipes" / "houses.py").read_text() == HOUSES_MODULE
    assert shipped.source.files == {
        "recipes/houses.py": sha256(HOUSES_MODULE.encode()),
        "requirements.txt": sha256(b""),
    }


def two_recipes() -> str:
    second = HOUSES_MODULE.split("class Houses(Recipe):")[1].replace('name = "houses"', 'name = "flats"')
    return HOUSES_MODULE + "\n\nclass Flats(Recipe):" + second


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        (
            {"other.py": HOUSES_MODULE},
            f"entry point houses.py is not in the submit directory {{folder}} ({GIVEN_BY}); its Python "
            "files: other.py",
        ),
        ({"houses.py": "VALUE = 1\n"}, "entry point houses.py defines 0 Recipe subclasses: a recipe module"),
        (
            {"houses.py": "from lightsage.recipes.base import Recipe\n"},
            "entry point houses.py defines 0 Recipe subclasses",
        ),
        ({"houses.py": two_recipes()}, "entry point houses.py defines 2 Recipe subclasses (Houses, Flats)"),
        (
            {"houses.py": "import json\n\ndef broken(:\n    pass\n"},
            "entry point houses.py: syntax error in houses.py, line 3: invalid syntax",
        ),
        (
            {"houses.py": "import helper\n", "helper.py": "x = (\n"},
            "entry point houses.py: syntax error in helper.py, line 1",
        ),
        (
            {"houses.py": "import lightsage_absent_module\n"},
            "entry point houses.py imports the module 'lightsage_absent_module', which is not installed (no "
            "requirements.txt was found beside it: list the package there)",
        ),
        (
            {"houses.py": "from lightsage.recipes.base import Absent\n"},
            "entry point houses.py cannot be imported: cannot import name 'Absent'",
        ),
        (
            {"houses.py": HOUSES_MODULE.replace('name = "houses"', 'name = "tabular"')},
            "entry point houses.py defines recipe 'tabular', the name of a recipe built into the image",
        ),
        (
            {"houses.py": HOUSES_MODULE.replace('name = "houses"', 'name = "Houses Two"')},
            "entry point houses.py, class Houses: the recipe's name 'Houses Two' is not a recipe name",
        ),
        (
            {"houses.py": HOUSES_MODULE.replace("version = 1 ", 'version = "1" ')},
            "entry point houses.py: recipe 'houses' has version '1', not a whole number",
        ),
    ],
)
def test_a_bad_module_is_refused_naming_the_problem(
    tmp_path: Path, files: dict[str, str], reason: str
) -> None:
    folder = tmp_path / "code"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    assert reason.format(folder=folder) in refused(folder)
    assert script.MODULE_NAME not in sys.modules


def test_a_recipe_hyperparameter_must_name_the_shipped_recipe(tmp_path: Path) -> None:
    shipped = loaded(source_folder(tmp_path / "code"))
    assert resolve({"recipe": "houses"}, {}, shipped.recipe)[0] is shipped.recipe
    assert resolve({}, {"BYOC_DEFAULT_RECIPE": "titanic"}, shipped.recipe)[0] is shipped.recipe
    with pytest.raises(HyperparameterError) as caught:
        resolve({"recipe": '"titanic"'}, {}, shipped.recipe)
    assert str(caught.value) == (
        "hyperparameter 'recipe' is 'titanic', but the script-mode module houses.py defines recipe 'houses': "
        "set recipe=houses, or leave the hyperparameter out"
    )


def tar_with(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info, data in members:
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize(
    ("where", "content", "reason"),
    [
        ("missing", None, f"submit directory {{path}} ({GIVEN_BY}) does not exist in the container"),
        ("https://example.com/sourcedir.tar.gz", None, "is neither an s3:// URI nor a path in the container"),
        ("s3://bucket-only", None, "submit directory s3://bucket-only (the hyperparameters"),
        ("sourcedir.tar.gz", b"not an archive", "cannot unpack the submit directory {path}: "),
        (
            "sourcedir.tar.gz",
            tar_with([(member("../houses.py"), HOUSES_MODULE.encode())]),
            "{path} holds '../houses.py', a path outside the folder it unpacks into",
        ),
        (
            "sourcedir.tar.gz",
            tar_with([(member("/etc/houses.py"), HOUSES_MODULE.encode())]),
            "holds '/etc/houses.py', a path outside the folder",
        ),
        (
            "sourcedir.tar.gz",
            tar_with([(member("houses.py", tarfile.SYMTYPE, "/etc/passwd"), b"")]),
            "{path} holds 'houses.py', which is not a regular file or folder (a link or a device)",
        ),
        (
            "sourcedir.tar.gz",
            tar_with([(member(f"data/{row}.csv"), b"1\n") for row in range(6)]),
            "holds more than 5 files or 1024 MiB: keep data out of source_dir (give it as a channel)",
        ),
    ],
)
def test_a_submit_directory_that_cannot_be_used_is_named_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, content: bytes | None, reason: str
) -> None:
    monkeypatch.setattr(script, "MAX_FILES", 5)
    path = tmp_path / where if "://" not in where else where
    if content is not None:
        Path(path).write_bytes(content)
    assert reason.format(path=path) in refused(path, work_dir=tmp_path / "work")  # type: ignore[arg-type]
    assert not (tmp_path / "etc").exists() and not (tmp_path / "houses.py").exists()


# -- requirements.txt ----------------------------------------------------------------------------------------


def test_requirements_install_from_vendored_wheels_into_a_fresh_folder_after_the_images_packages(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = houses_with_helper_package(tmp_path / "code", "lightsage_probe_smoothing")
    with lightsage_log(caplog) as said:
        shipped = loaded(folder, work_dir=tmp_path / "work")
    assert shipped.recipe.own_hyperparameters[0].default == 20.0
    (packages,) = shipped.prepared.packages
    assert packages.is_relative_to(tmp_path / "work" / "packages")
    assert (packages / "lightsage_probe_smoothing" / "__init__.py").is_file()
    site_packages = sysconfig.get_paths()["purelib"]
    assert sys.path.index(str(packages)) > sys.path.index(site_packages)
    assert shipped.source.files["requirements.txt"] == sha256(b"lightsage_probe_smoothing==1.0\n")
    assert any("from the wheels in wheels/ only (--no-index)" in line for line in said)
    installed = re.compile(r"script mode: Successfully installed lightsage[-_]probe[-_]smoothing-1\.0$")
    assert any(installed.match(line) for line in said), said


def test_a_requirement_the_wheels_lack_fails_with_pips_reason_and_what_the_wheels_must_hold(
    tmp_path: Path,
) -> None:
    folder = source_folder(tmp_path / "code", requirements="lightsage-absent-package==1.0\n", wheels=True)
    reason = refused(folder, work_dir=tmp_path / "work")
    assert reason.startswith("installing requirements.txt beside houses.py failed: ERROR: ")
    assert "lightsage-absent-package==1.0" in reason
    assert "the wheels in wheels/ must hold every requirement and each dependency the image lacks" in reason


def test_without_the_package_index_and_without_wheels_the_reason_says_how_to_run_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No network: an index nothing answers on (and no pip configuration file of this machine's)."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    folder = source_folder(tmp_path / "code", requirements="lightsage-absent-package==1.0\n")
    reason = refused(folder, work_dir=tmp_path / "work")
    assert reason.startswith("installing requirements.txt beside houses.py failed: ERROR: ")
    assert (
        "pip needs the package index; without network access (network isolation, a VPC without a NAT), put "
        "the wheels in a wheels/ folder beside requirements.txt (pip download -r requirements.txt -d wheels "
        in reason
    )


def test_an_import_the_requirements_do_not_provide_says_they_were_installed(tmp_path: Path) -> None:
    folder = houses_with_helper_package(tmp_path / "code", "lightsage_probe_other")
    module = (folder / "houses.py").read_text()
    future = "from __future__ import annotations\n"
    (folder / "houses.py").write_text(module.replace(future, future + "import lightsage_absent_module\n"))
    assert (
        "imports the module 'lightsage_absent_module', which is not installed (requirements.txt was found "
        "beside it and installed, but does not provide it)"
    ) in refused(folder, work_dir=tmp_path / "work")


def test_serve_prepares_the_source_once_and_its_workers_load_it_without_installing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = houses_with_helper_package(tmp_path / "code", "lightsage_probe_served")
    archive = sourcedir_tar_gz(folder, tmp_path / "sourcedir.tar.gz")
    monkeypatch.setenv("SAGEMAKER_PROGRAM", "houses.py")
    monkeypatch.setenv("SAGEMAKER_SUBMIT_DIRECTORY", str(archive))
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    environment = server.prepared_script(runtime)
    assert environment[script.SUBMIT_DIRECTORY_VARIABLE] == str(runtime / "script" / "code")
    with lightsage_log(caplog) as said:
        worker = script.from_environment(environment)
    assert worker is not None and worker.recipe.name == "houses"
    assert worker.prepared.packages == tuple(
        Path(p) for p in environment[script.PACKAGES_VARIABLE].split(":")
    )
    assert not [line for line in said if "installing" in line]


# -- a model trained in script mode -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(source folder, model folder) of a houses model trained in script mode."""
    base = tmp_path_factory.mktemp("script-model")
    folder = source_folder(base / "code")
    hyperparameters = {**sdk_hyperparameters(folder), "n_estimators": "30"}
    root = make_ml_root(
        base / "ml", hyperparameters, channels(houses_table(400, 1), houses_table(100, 2)), recipe=None
    )
    train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
    yield folder, root / "model"
    sys.modules.pop(script.MODULE_NAME, None)


def test_the_manifest_records_the_shipped_recipe_and_the_digest_of_its_source(
    trained: tuple[Path, Path],
) -> None:
    _, model_dir = trained
    manifest = json.loads((model_dir / artifact.MANIFEST_FILE).read_text())
    assert manifest["recipe"] == {
        "name": "houses",
        "version": 1,
        "source": {
            "origin": "script",
            "program": "houses.py",
            "files": {"houses.py": sha256(HOUSES_MODULE.encode())},
        },
    }
    assert not any(name.startswith("sagemaker_") for name in manifest["hyperparameters"])
    assert sorted(path.name for path in model_dir.iterdir()) == sorted(artifact.ARTIFACT_FILES)


def served_by(model_dir: Path, folder: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SAGEMAKER_PROGRAM", "houses.py")
    monkeypatch.setenv("SAGEMAKER_SUBMIT_DIRECTORY", str(folder))
    return create_app(model_dir).test_client()


def test_the_model_serves_every_row_with_its_source(
    trained: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, model_dir = trained
    rows = houses_table(25, 9).drop(columns=["price"])
    answer = served_by(model_dir, folder, monkeypatch).post(
        "/invocations", data=rows.to_csv(index=False), content_type="text/csv"
    )
    assert answer.status_code == 200, answer.data
    predictions = answer.get_json()["predictions"]
    assert len(predictions) == 25 and all(row["prediction"] > 0 for row in predictions)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda folder: (folder / "houses.py").write_text(HOUSES_MODULE + "\n# edited\n"),
            "is not the one the model was trained with (houses.py: sha256 {trained} when trained, sha256 ",
        ),
        (
            lambda folder: (folder / "requirements.txt").write_text("\n"),
            "(requirements.txt: absent when trained, sha256 ",
        ),
        (
            lambda folder: (folder / "houses.py").write_text(HOUSES_MODULE.replace('"houses"', '"flats"', 1)),
            "the model was trained with recipe 'houses', but the script-mode source houses.py in {folder} "
            "defines recipe 'flats'",
        ),
    ],
)
def test_another_source_is_refused_at_start(
    trained: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: Any, reason: str
) -> None:
    original, model_dir = trained
    folder = tmp_path / "other"
    shutil.copytree(original, folder)
    change(folder)
    with pytest.raises(ModelLoadError) as caught:
        served_by(model_dir, folder, monkeypatch)
    trained_digest = sha256(HOUSES_MODULE.encode()).removeprefix("sha256:")[:12]
    assert reason.format(trained=trained_digest, folder=folder) in str(caught.value)


def test_without_its_source_the_model_says_how_to_serve_it(
    trained: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SAGEMAKER_PROGRAM", raising=False)
    monkeypatch.delenv("SAGEMAKER_SUBMIT_DIRECTORY", raising=False)
    with pytest.raises(ModelLoadError) as caught:
        create_app(trained[1])
    assert str(caught.value) == (
        "the model was trained with recipe 'houses' shipped in script mode (houses.py), and the image has no "
        "such recipe: serve it with that source (SAGEMAKER_PROGRAM=houses.py and SAGEMAKER_SUBMIT_DIRECTORY, "
        "which Model(entry_point=..., source_dir=...) sets)"
    )


def test_a_model_of_the_images_recipe_refuses_a_script_source(
    trained: tuple[Path, Path], trained_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(
        ModelLoadError, match=r"trained with the image's recipe 'titanic', but a script-mode source"
    ):
        served_by(trained_model_dir, trained[0], monkeypatch)


def test_a_warm_start_continues_a_script_model_with_the_same_source(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    folder, model_dir = trained
    hyperparameters = {**sdk_hyperparameters(folder), "n_estimators": "5"}
    root = make_ml_root(
        tmp_path / "ml", hyperparameters, channels(houses_table(200, 3), houses_table(50, 4)), recipe=None
    )
    shutil.copytree(model_dir, root / "input" / "data" / "model")
    train(MLPaths.from_environment({"BYOC_ML_ROOT": str(root)}))
    assert (
        artifact.load(root / "model", script.load(script.prepare(at(folder)))).booster.current_iteration()
        == 35
    )


@pytest.mark.parametrize(
    ("files", "extra", "reason"),
    [
        ({"other.py": HOUSES_MODULE}, {}, "entry point houses.py is not in the submit directory"),
        ({"houses.py": "def broken(:\n"}, {}, "entry point houses.py: syntax error in houses.py, line 1"),
        ({"houses.py": two_recipes()}, {}, "defines 2 Recipe subclasses (Houses, Flats)"),
        ({"houses.py": HOUSES_MODULE}, {"recipe": "tabular"}, "hyperparameter 'recipe' is 'tabular', but"),
    ],
)
def test_train_writes_the_reason_as_its_failure(
    tmp_path: Path, files: dict[str, str], extra: dict[str, str], reason: str
) -> None:
    folder = tmp_path / "code"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    root = make_ml_root(
        tmp_path / "ml",
        {**sdk_hyperparameters(folder), **extra},
        channels(houses_table(100, 1), houses_table(50, 2)),
        recipe=None,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BYOC_ML_ROOT", str(root))
        assert main() == 1
    assert reason in (root / "output" / "failure").read_text()
    assert list((root / "model").iterdir()) == []


def test_a_model_of_format_3_loads_as_the_images_recipe(trained_model_dir: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(trained_model_dir, model_dir)
    manifest = json.loads((model_dir / artifact.MANIFEST_FILE).read_text())
    manifest["format_version"] = 3
    del manifest["recipe"]["source"]
    (model_dir / artifact.MANIFEST_FILE).write_text(json.dumps(manifest))
    assert artifact.load(model_dir).manifest.recipe_source is None
    manifest["format_version"] = 4
    (model_dir / artifact.MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(
        ModelLoadError, match=r"not a valid manifest: the recipe's 'source' must be a JSON object"
    ):
        artifact.load(model_dir)


def test_a_different_source_of_an_image_recipe_of_the_same_version_is_logged_not_refused(
    trained_model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The version is the contract for the image's recipes: another image's edit of titanic.py loads."""
    model_dir = tmp_path / "model"
    shutil.copytree(trained_model_dir, model_dir)
    manifest = json.loads((model_dir / artifact.MANIFEST_FILE).read_text())
    manifest["recipe"]["source"]["files"]["titanic.py"] = sha256(b"another edit")
    (model_dir / artifact.MANIFEST_FILE).write_text(json.dumps(manifest))
    with lightsage_log(caplog) as said:
        artifact.load(model_dir)
    assert said == [
        "recipe 'titanic' version 4: this image's titanic.py differs from the one the model was trained with "
        "(another image's edit of the same version; the version is what must match)"
    ]
