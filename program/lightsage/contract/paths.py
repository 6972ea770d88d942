"""The SageMaker container contract: where inputs, config, model and failure reasons live under /opt/ml.

SageMaker sets no SM_* variables for a bring-your-own image; it only mounts /opt/ml. The optional environment
overrides below let `train` and `serve` run on a host (tests, notebooks) against another directory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightsage.errors import PlatformError

DEFAULT_ML_ROOT = Path("/opt/ml")
ML_ROOT_VARIABLE = "BYOC_ML_ROOT"
CHECKPOINT_DIR_VARIABLE = "BYOC_CHECKPOINT_DIR"
FAILURE_REASON_LIMIT_BYTES = 1024


class ContractError(PlatformError):
    """A SageMaker config file is unreadable or malformed."""


@dataclass(frozen=True)
class MLPaths:
    root: Path
    model_dir: Path
    output_dir: Path
    channel_overrides: Mapping[str, Path]
    # Spot training: SageMaker syncs this folder with the job's checkpoint_s3_uri.
    checkpoint_dir: Path

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> MLPaths:
        environ = os.environ if environ is None else environ
        root = Path(environ.get(ML_ROOT_VARIABLE, str(DEFAULT_ML_ROOT)))
        channel_overrides = {
            key.removeprefix("SM_CHANNEL_").lower(): Path(value)
            for key, value in environ.items()
            if key.startswith("SM_CHANNEL_") and value
        }
        return cls(
            root=root,
            model_dir=Path(environ.get("SM_MODEL_DIR") or root / "model"),
            output_dir=Path(environ.get("SM_OUTPUT_DIR") or root / "output"),
            channel_overrides=channel_overrides,
            checkpoint_dir=Path(environ.get(CHECKPOINT_DIR_VARIABLE) or root / "checkpoints"),
        )

    @property
    def config_dir(self) -> Path:
        return self.root / "input" / "config"

    @property
    def hyperparameters_file(self) -> Path:
        return self.config_dir / "hyperparameters.json"

    @property
    def input_data_config_file(self) -> Path:
        return self.config_dir / "inputdataconfig.json"

    @property
    def resource_config_file(self) -> Path:
        return self.config_dir / "resourceconfig.json"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    def channel_dir(self, channel: str) -> Path:
        return self.channel_overrides.get(channel, self.root / "input" / "data" / channel)


@dataclass(frozen=True)
class ChannelConfig:
    name: str
    content_type: str | None = None
    input_mode: str = "File"
    s3_distribution_type: str = "FullyReplicated"


@dataclass(frozen=True)
class ResourceConfig:
    current_host: str = "algo-1"
    hosts: tuple[str, ...] = ("algo-1",)
    network_interface_name: str | None = None


def read_json_object(path: Path, *, required: bool) -> dict[str, Any]:
    """Read a JSON object from a SageMaker config file; an absent optional file reads as {}."""
    if not path.exists():
        if required:
            raise ContractError(f"config file {path} is missing")
        return {}
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ContractError(f"config file {path} is not valid JSON: {error}") from error
    if not isinstance(content, dict):
        raise ContractError(f"config file {path} must hold a JSON object, found {type(content).__name__}")
    return content


def read_hyperparameters(paths: MLPaths) -> dict[str, str]:
    """SageMaker writes hyperparameters as a map of string to string; an absent file means no overrides."""
    raw = read_json_object(paths.hyperparameters_file, required=False)
    return {str(key): value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()}


def read_input_data_config(paths: MLPaths) -> dict[str, ChannelConfig]:
    raw = read_json_object(paths.input_data_config_file, required=False)
    channels: dict[str, ChannelConfig] = {}
    for name, settings in raw.items():
        settings = settings if isinstance(settings, dict) else {}
        channels[name] = ChannelConfig(
            name=name,
            content_type=settings.get("ContentType"),
            input_mode=settings.get("TrainingInputMode", "File"),
            s3_distribution_type=settings.get("S3DistributionType", "FullyReplicated"),
        )
    return channels


def read_resource_config(paths: MLPaths) -> ResourceConfig:
    raw = read_json_object(paths.resource_config_file, required=False)
    current_host = str(raw.get("current_host", "algo-1"))
    hosts = tuple(str(host) for host in raw.get("hosts", [current_host]))
    return ResourceConfig(
        current_host=current_host, hosts=hosts, network_interface_name=raw.get("network_interface_name")
    )


def truncate_utf8(text: str, limit_bytes: int) -> str:
    """At most `limit_bytes` of UTF-8, cut between characters; undecodable file names come out escaped."""
    encoded = text.encode("utf-8", "backslashreplace")
    return encoded[:limit_bytes].decode("utf-8", errors="ignore")


def write_failure_reason(paths: MLPaths, reason: str) -> None:
    """Write the reason SageMaker shows as FailureReason; it keeps only the first 1,024 bytes."""
    paths.output_dir.mkdir(parents=True, exist_ok=True)
    paths.failure_file.write_text(truncate_utf8(reason, FAILURE_REASON_LIMIT_BYTES), encoding="utf-8")
