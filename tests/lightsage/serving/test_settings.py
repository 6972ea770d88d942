from pathlib import Path

import pytest

from lightsage.contract.resources import available_cpus
from lightsage.serving.settings import ServingSettings, SettingsError


def test_defaults() -> None:
    settings = ServingSettings.from_environment({})
    assert settings.port == 8080
    assert settings.timeout_seconds == 60
    assert settings.max_payload_mb == 6
    assert settings.max_payload_bytes == 6 * 1024 * 1024
    assert settings.workers == available_cpus()
    assert settings.batch_strategy == "MULTI_RECORD"


def test_sagemaker_variables_override() -> None:
    settings = ServingSettings.from_environment(
        {
            "SAGEMAKER_BIND_TO_PORT": "9090",
            "SAGEMAKER_MODEL_SERVER_WORKERS": "3",
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": "120",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": "100",
            "SAGEMAKER_BATCH_STRATEGY": "single_record",
        }
    )
    assert (settings.port, settings.workers, settings.timeout_seconds) == (9090, 3, 120)
    assert settings.max_payload_mb == 100
    assert settings.batch_strategy == "SINGLE_RECORD"
    assert settings.max_concurrent_transforms == 3


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("SAGEMAKER_MODEL_SERVER_WORKERS", "many", "is not a whole number"),
        ("SAGEMAKER_MODEL_SERVER_WORKERS", "0", "must be between 1 and 256"),
        ("SAGEMAKER_MAX_PAYLOAD_IN_MB", "101", "must be between 1 and 100"),
        ("SAGEMAKER_BIND_TO_PORT", "70000", "must be between 1 and 65535"),
        ("SAGEMAKER_BATCH_STRATEGY", "ALL", "must be one of MULTI_RECORD, SINGLE_RECORD"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError) as caught:
        ServingSettings.from_environment({name: value})
    assert name in str(caught.value) and fragment in str(caught.value)


def test_cgroup_quota_caps_the_cpu_count(tmp_path: Path) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("100000 100000\n")
    assert available_cpus(cpu_max) == 1
    cpu_max.write_text("max 100000\n")
    assert available_cpus(cpu_max) >= 1
    assert available_cpus(tmp_path / "absent") >= 1
