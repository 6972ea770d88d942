import json
from pathlib import Path

import pytest

from lightsage.contract.paths import (
    ContractError,
    MLPaths,
    read_hyperparameters,
    read_input_data_config,
    read_resource_config,
    truncate_utf8,
    write_failure_reason,
)


def test_paths_default_to_opt_ml() -> None:
    paths = MLPaths.from_environment({})
    assert paths.model_dir == Path("/opt/ml/model")
    assert paths.failure_file == Path("/opt/ml/output/failure")
    assert paths.hyperparameters_file == Path("/opt/ml/input/config/hyperparameters.json")
    assert paths.channel_dir("train") == Path("/opt/ml/input/data/train")


def test_environment_overrides(tmp_path: Path) -> None:
    paths = MLPaths.from_environment(
        {"BYOC_ML_ROOT": str(tmp_path), "SM_MODEL_DIR": "/m", "SM_CHANNEL_TRAIN": "/data/train"}
    )
    assert paths.model_dir == Path("/m")
    assert paths.channel_dir("train") == Path("/data/train")
    assert paths.channel_dir("validation") == tmp_path / "input" / "data" / "validation"


def test_config_files_are_optional_and_fields_default(tmp_path: Path) -> None:
    paths = MLPaths.from_environment({"BYOC_ML_ROOT": str(tmp_path)})
    assert read_hyperparameters(paths) == {}
    assert read_input_data_config(paths) == {}
    assert read_resource_config(paths).hosts == ("algo-1",)
    paths.config_dir.mkdir(parents=True)
    paths.input_data_config_file.write_text(json.dumps({"train": {"ContentType": "text/csv"}}))
    paths.resource_config_file.write_text(
        json.dumps({"current_host": "algo-1-abcde", "hosts": ["algo-1-abcde"]})
    )
    assert read_input_data_config(paths)["train"].input_mode == "File"
    assert read_resource_config(paths).current_host == "algo-1-abcde"


def test_malformed_config_names_the_file(tmp_path: Path) -> None:
    paths = MLPaths.from_environment({"BYOC_ML_ROOT": str(tmp_path)})
    paths.config_dir.mkdir(parents=True)
    paths.hyperparameters_file.write_text("{not json")
    with pytest.raises(ContractError, match=r"hyperparameters\.json is not valid JSON"):
        read_hyperparameters(paths)
    paths.hyperparameters_file.write_text("[1, 2]")
    with pytest.raises(ContractError, match="must hold a JSON object"):
        read_hyperparameters(paths)


def test_failure_reason_is_capped_at_1024_bytes_without_splitting_characters(tmp_path: Path) -> None:
    paths = MLPaths.from_environment({"BYOC_ML_ROOT": str(tmp_path)})
    write_failure_reason(paths, "é" * 2000)
    written = paths.failure_file.read_bytes()
    assert len(written) <= 1024
    written.decode("utf-8")
    assert truncate_utf8("short", 1024) == "short"
