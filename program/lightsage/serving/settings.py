"""Serving settings from SageMaker's environment variables, checked once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from lightsage.contract.resources import available_cpus
from lightsage.errors import UserError

DEFAULT_PORT = 8080
DEFAULT_TIMEOUT_SECONDS = 60
DEFAULT_MAX_PAYLOAD_MB = 6
LARGEST_MAX_PAYLOAD_MB = 100
BATCH_STRATEGIES = ("MULTI_RECORD", "SINGLE_RECORD")


class SettingsError(UserError, ValueError):
    """An environment variable holds a value serve cannot use; the message names it."""


def _integer(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} must be between {low} and {high}")
    return value


@dataclass(frozen=True)
class ServingSettings:
    port: int
    workers: int
    timeout_seconds: int
    max_payload_mb: int
    batch_strategy: str
    max_concurrent_transforms: int

    @property
    def max_payload_bytes(self) -> int:
        return self.max_payload_mb * 1024 * 1024

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ServingSettings:
        environ = os.environ if environ is None else environ
        workers = _integer(environ, "SAGEMAKER_MODEL_SERVER_WORKERS", available_cpus(), 1, 256)
        strategy = environ.get("SAGEMAKER_BATCH_STRATEGY", "MULTI_RECORD").strip().upper() or "MULTI_RECORD"
        if strategy not in BATCH_STRATEGIES:
            raise SettingsError(
                f"SAGEMAKER_BATCH_STRATEGY={strategy!r} must be one of {', '.join(BATCH_STRATEGIES)}"
            )
        return cls(
            port=_integer(environ, "SAGEMAKER_BIND_TO_PORT", DEFAULT_PORT, 1, 65535),
            workers=workers,
            timeout_seconds=_integer(
                environ, "SAGEMAKER_MODEL_SERVER_TIMEOUT", DEFAULT_TIMEOUT_SECONDS, 1, 3600
            ),
            max_payload_mb=_integer(
                environ, "SAGEMAKER_MAX_PAYLOAD_IN_MB", DEFAULT_MAX_PAYLOAD_MB, 1, LARGEST_MAX_PAYLOAD_MB
            ),
            batch_strategy=strategy,
            max_concurrent_transforms=_integer(
                environ, "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", workers, 1, 256
            ),
        )
