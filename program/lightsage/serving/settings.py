"""Serving settings from SageMaker's environment variables (and the image's own BYOC_ ones), checked once at
start-up."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lightsage.contract.resources import available_cpus
from lightsage.errors import UserError

DEFAULT_PORT = 8080
DEFAULT_TIMEOUT_SECONDS = 60
DEFAULT_MAX_PAYLOAD_MB = 6
LARGEST_MAX_PAYLOAD_MB = 100
BATCH_STRATEGIES = ("MULTI_RECORD", "SINGLE_RECORD")
# Compiled trees (lightsage.serving.compiled): on unless BYOC_COMPILED_TREES=off; the compile's limits; where
# the compiled objects are cached (a folder of this user only, outside the model folder).
COMPILED_TREES_VARIABLE = "BYOC_COMPILED_TREES"
COMPILED_TREES_CACHE_VARIABLE = "BYOC_COMPILED_TREES_CACHE"
COMPILED_TREES_CHOICES = ("on", "off")
# Set by `serve` for its workers only: the file it creates once the compile has ended, with or without trees.
COMPILE_ENDED_VARIABLE = "BYOC_COMPILE_ENDED_FLAG"
DEFAULT_COMPILE_TIMEOUT_SECONDS = 120
DEFAULT_COMPILE_MEMORY_MB = 2048


def default_compiled_trees_cache() -> Path:
    return Path(tempfile.gettempdir()) / "byoc-compiled-trees"


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
    compiled_trees: bool = True
    compile_timeout_seconds: int = DEFAULT_COMPILE_TIMEOUT_SECONDS
    compile_memory_mb: int = DEFAULT_COMPILE_MEMORY_MB
    compiled_trees_cache: Path = field(default_factory=default_compiled_trees_cache)

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
        compiled = environ.get(COMPILED_TREES_VARIABLE, "on").strip().lower() or "on"
        if compiled not in COMPILED_TREES_CHOICES:
            raise SettingsError(
                f"{COMPILED_TREES_VARIABLE}={compiled!r} must be one of {', '.join(COMPILED_TREES_CHOICES)}"
            )
        cache = environ.get(COMPILED_TREES_CACHE_VARIABLE, "").strip()
        if cache and not Path(cache).is_absolute():
            raise SettingsError(f"{COMPILED_TREES_CACHE_VARIABLE}={cache!r} must be an absolute path")
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
            compiled_trees=compiled == "on",
            compile_timeout_seconds=_integer(
                environ, "BYOC_COMPILE_TIMEOUT_SECONDS", DEFAULT_COMPILE_TIMEOUT_SECONDS, 1, 3600
            ),
            compile_memory_mb=_integer(
                environ, "BYOC_COMPILE_MEMORY_MB", DEFAULT_COMPILE_MEMORY_MB, 64, 1024 * 1024
            ),
            compiled_trees_cache=Path(cache) if cache else default_compiled_trees_cache(),
        )
