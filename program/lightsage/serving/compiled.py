"""Compiled trees: the booster's trees as machine code (lleaves, through LLVM), for batch requests.

LightGBM walks its trees in a generic loop; compiled trees are one function per model, 10 to 20 times faster
on one thread, with the same answers (to 1e-15 relative). The model stays data: the compiled form is built
inside the container from model.txt and cached beside it, never shipped in or read from the model folder.

- `serve` (lightsage.serving.server) starts one compile per container once every worker answers, in a
  subprocess (`python -m lightsage.serving.compiled`) under a time, memory and CPU-priority limit, so a cold
  start is unchanged and a compile that fails, is killed or takes too long leaves LightGBM serving.
- The compile writes one object file into the cache folder, named by a key of everything it depends on:
  model.txt's sha256, the lleaves, llvmlite and LLVM versions, the CPU and its features, and the compile
  options. A later start with the same key loads it in milliseconds.
- Each worker starts on LightGBM and waits in a thread (`Watch`) for the object or for serve's word that the
  compile ended. It then loads the object and checks it against `Booster.predict` on probe rows that reach
  both sides of every split (lightsage.serving.forest); only when they agree within RELATIVE_TOLERANCE do
  its batch requests switch. Small requests keep LightGBM's single-row path, explanations LightGBM itself.
- Models that compiled trees would answer wrongly (linear trees, zero-as-missing splits, see
  lightsage.serving.forest) are never compiled, decided from model.txt.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import resource
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from lightsage import logs
from lightsage.contract import folders
from lightsage.errors import PlatformError
from lightsage.serving.forest import Forest, ForestTextError
from lightsage.serving.settings import COMPILE_ENDED_VARIABLE, COMPILED_TREES_CACHE_VARIABLE

if TYPE_CHECKING:
    from lightsage.model.artifact import Model

# Named, not __name__: the compile process runs this module as __main__.
logger = logging.getLogger("lightsage.serving.compiled")

# lightsage.model.artifact's name of the booster's file; not imported from there, so that the compile
# process loads neither LightGBM nor Arrow (their allocators reserve address space its limit counts).
BOOSTER_FILE = "model.txt"
KEY_FORMAT = 1
OBJECT_SUFFIX = ".o"
RELATIVE_TOLERANCE = 1e-9
# LightGBM's kZeroThreshold (1e-35f, a float widened to double).
ZERO_THRESHOLD = float(np.float32(1e-35))
WATCH_INTERVAL_SECONDS = 0.1
# lleaves' compile options besides inlining (Forest.inlined): probabilities as Booster.predict gives them,
# in float64 arithmetic.
OPTIONS: Mapping[str, Any] = {"raw_score": False, "fblocksize": 34, "fcodemodel": "large", "use_fp64": True}
# Exit statuses of the compile process besides 0 (compiled, or found in the cache).
REFUSED = 3
FAILED = 1


class CacheError(PlatformError, OSError):
    """The cache folder cannot be used safely (not ours, writable by others, not a folder)."""


class BatchTrees(Protocol):
    name: str

    def predict(self, features: np.ndarray) -> np.ndarray: ...


class LightGBMTrees:
    """Booster.predict on a batch, as every worker starts."""

    name = "LightGBM"

    def __init__(self, booster: Any, threads: int) -> None:
        self.booster = booster
        self.threads = threads

    def predict(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(features, num_threads=self.threads))


class CompiledTrees:
    """The compiled trees on a batch, in one thread, shaped as Booster.predict answers."""

    name = "compiled trees"

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, features: np.ndarray) -> np.ndarray:
        # LightGBM reads every input within ZERO_THRESHOLD of zero as 0.0 before its trees see it; compiled
        # trees compare the value itself (which differs at a split on -ZERO_THRESHOLD).
        values = np.array(features, dtype=np.float64)
        values[np.abs(values) <= ZERO_THRESHOLD] = 0.0
        return np.asarray(self.model.predict(values, n_jobs=1))


def sha256(data: bytes) -> str:
    """A file's digest as the manifest records it (lightsage.model.artifact.sha256)."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- the cache -----------------------------------------------------------------------------------------------


def _trusted(status: os.stat_result, kind: int) -> str | None:
    """Why a cache entry must not be trusted (None when it may): executable code is only ever loaded from
    a file of this user that nobody else can write."""
    if stat.S_IFMT(status.st_mode) != kind:
        return "it is not a " + ("folder" if kind == stat.S_IFDIR else "regular file")
    if status.st_uid != os.geteuid():
        return f"it belongs to user {status.st_uid}, not to this one ({os.geteuid()})"
    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "other users may write it"
    return None


def prepare_cache(folder: Path) -> Path:
    """The cache folder, created (mode 700) if needed; CacheError when it is not safe to load code from."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = folder.lstat()
    except OSError as error:
        raise CacheError(f"the compiled-trees cache {folder} cannot be created: {error}") from None
    reason = _trusted(status, stat.S_IFDIR)
    if reason:
        raise CacheError(f"the compiled-trees cache {folder} is not used: {reason}")
    return folder


def host_cpu() -> tuple[str, str]:
    """LLVM's name of this CPU and its features: compiled trees run only where they were compiled."""
    import llvmlite.binding as llvm

    try:
        features = llvm.get_host_cpu_features().flatten()
    except RuntimeError:  # LLVM cannot read them on some hosts; lleaves then compiles without
        features = ""
    return llvm.get_host_cpu_name(), features


def cache_key(model_digest: str, forest: Forest) -> str:
    import llvmlite
    import llvmlite.binding as llvm

    cpu, features = host_cpu()
    document = {
        "format": KEY_FORMAT,
        "model": model_digest,
        "lleaves": metadata.version("lleaves"),
        "llvmlite": llvmlite.__version__,
        "llvm": list(llvm.llvm_version_info),
        "cpu": cpu,
        "cpu_features": features,
        "options": {**OPTIONS, "finline": forest.inlined},
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def object_path(cache: Path, key: str) -> Path:
    return cache / f"trees-{key}{OBJECT_SUFFIX}"


def trusted_object(path: Path) -> bool:
    """Whether a cached object exists and may be loaded; an untrusted one is logged and left alone."""
    try:
        status = path.lstat()
    except FileNotFoundError:
        return False
    reason = _trusted(status, stat.S_IFREG)
    if reason:
        logger.warning(f"compiled trees: {path} is not loaded: {reason}")
        return False
    return True


# -- checking compiled trees against LightGBM ----------------------------------------------------------------


def relative_difference(answers: np.ndarray, expected: np.ndarray) -> float:
    """The largest |a - b| / max(|a|, |b|) over all outputs (0 where both are 0; inf where they differ in
    shape or in being NaN)."""
    answers, expected = np.asarray(answers, dtype=float), np.asarray(expected, dtype=float)
    if answers.shape != expected.shape:
        return float("inf")
    if not np.array_equal(np.isnan(answers), np.isnan(expected)):
        return float("inf")
    present = ~np.isnan(expected)
    difference = np.abs(answers[present] - expected[present])
    scale = np.maximum(np.abs(answers[present]), np.abs(expected[present]))
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.where(difference == 0, 0.0, difference / scale)
    return float(relative.max(initial=0.0))


@dataclass(frozen=True)
class Check:
    rows: int
    difference: float

    @property
    def passed(self) -> bool:
        return self.difference <= RELATIVE_TOLERANCE


def check(trees: BatchTrees, booster: Any, forest: Forest) -> Check:
    """Compiled trees against Booster.predict (one thread) on the forest's probe rows."""
    probes = forest.probe_rows()
    expected = np.asarray(booster.predict(probes, num_threads=1))
    return Check(len(probes), relative_difference(trees.predict(probes), expected))


def load(model_file: Path, path: Path, forest: Forest) -> CompiledTrees:
    """Compiled trees from a cached object (milliseconds: nothing is compiled again)."""
    import lleaves

    model = lleaves.Model(model_file=str(model_file))
    model.compile(cache=str(path), finline=forest.inlined, **OPTIONS)
    return CompiledTrees(model)


# -- each worker: wait for the object, check it, switch ------------------------------------------------------


class Switchable(Protocol):
    def use(self, trees: BatchTrees) -> None: ...


class Watch:
    """One worker's wait for its model's compiled trees; `run` switches `target` to them once checked."""

    def __init__(self, model: Model, model_dir: Path, cache: Path, ended_flag: Path) -> None:
        self.model = model
        self.model_dir = model_dir
        self.cache = cache
        self.ended_flag = ended_flag

    @classmethod
    def from_environment(
        cls, model: Model, model_dir: Path, environ: Mapping[str, str] | None = None
    ) -> Watch | None:
        environ = os.environ if environ is None else environ
        cache, ended = environ.get(COMPILED_TREES_CACHE_VARIABLE), environ.get(COMPILE_ENDED_VARIABLE)
        if not cache or not ended:  # only `serve` sets both, for its workers
            return None
        return cls(model, model_dir, Path(cache), Path(ended))

    def start(self, target: Switchable) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(target,), name="compiled-trees", daemon=True)
        thread.start()
        return thread

    def run(self, target: Switchable, interval: float = WATCH_INTERVAL_SECONDS) -> BatchTrees | None:
        """Wait for the object, load and check it, and switch; None (LightGBM stays) otherwise."""
        try:
            trees = self._wait_and_load(interval)
        except Exception:  # whatever goes wrong, LightGBM keeps answering; the log says why
            logger.exception("compiled trees: not used by this worker; LightGBM answers its batches")
            return None
        if trees is not None:
            target.use(trees)
        return trees

    def _wait_and_load(self, interval: float) -> CompiledTrees | None:
        pid = os.getpid()
        text = folders.read_bytes(self.model_dir, BOOSTER_FILE)
        if sha256(text) != self.model.digests.get(BOOSTER_FILE):
            logger.warning(f"compiled trees: worker {pid}: {BOOSTER_FILE} changed since it loaded; not used")
            return None
        forest = Forest.from_text(text.decode("utf-8"))
        if forest.refusal() is not None:
            return None  # serve logs why, once
        path = object_path(self.cache, cache_key(sha256(text), forest))
        while True:
            ended = self.ended_flag.exists()
            if trusted_object(path):
                break
            if ended:
                return None  # serve logs why, once
            time.sleep(interval)
        started = time.monotonic()
        trees = load(self.model_dir / BOOSTER_FILE, path, forest)
        result = check(trees, self.model.booster, forest)
        if not result.passed:
            logger.warning(
                f"compiled trees: worker {pid}: they differ from LightGBM by up to {result.difference:.3g} "
                f"(relative) on {result.rows:,} probe rows, more than {RELATIVE_TOLERANCE:g}: LightGBM keeps "
                "answering"
            )
            return None
        logger.info(
            f"compiled trees: worker {pid} answers batches with them (loaded and checked on {result.rows:,} "
            f"probe rows in {time.monotonic() - started:.2f} s, largest relative difference "
            f"{result.difference:.1g})"
        )
        return trees


# -- the compile process -------------------------------------------------------------------------------------


def compile_to(model_text: bytes, forest: Forest, path: Path) -> None:
    """Compile the trees and publish the object at `path` atomically (a partial file never appears there)."""
    import lleaves

    # the model's text goes to the container's own temporary folder: a stopped compile leaves nothing in the
    # cache (which may be a volume that outlives the container)
    handle, source = tempfile.mkstemp(prefix="byoc-model-", suffix=".txt")
    staged = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(model_text)
        lleaves.Model(model_file=source).compile(cache=str(staged), finline=forest.inlined, **OPTIONS)
        staged.chmod(0o600)
        staged.replace(path)
    finally:
        Path(source).unlink(missing_ok=True)
        staged.unlink(missing_ok=True)


def _limit(seconds: int) -> None:
    """The process's own limits: CPU seconds, and a lower priority than the workers' (serve watches its time
    and memory)."""
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
    os.nice(10)


def compile_model(model_dir: Path, cache: Path) -> int:
    """Compile model_dir's trees into the cache, once; an exit status (0, REFUSED or FAILED)."""
    started = time.monotonic()
    text = folders.read_bytes(model_dir, BOOSTER_FILE)
    try:
        forest = Forest.from_text(text.decode("utf-8"))
    except (UnicodeDecodeError, ForestTextError) as error:
        logger.info(f"compiled trees: not used: {BOOSTER_FILE} cannot be read ({error}); LightGBM answers")
        return REFUSED
    refusal = forest.refusal()
    if refusal:
        logger.info(f"compiled trees: not used for this model: {refusal}; LightGBM answers")
        return REFUSED
    path = object_path(prepare_cache(cache), cache_key(sha256(text), forest))
    size = f"{forest.trees:,} trees, {forest.leaves:,} leaves"
    if trusted_object(path):
        logger.info(f"compiled trees: found in the cache ({size}): {path}")
        return 0
    compile_to(text, forest, path)
    logger.info(
        f"compiled trees: compiled in {time.monotonic() - started:.1f} s ({size}"
        f"{'' if forest.inlined else ', not inlined'}): {path}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logs.configure("serve")
    parser = argparse.ArgumentParser(description="Compile a model's trees into the compiled-trees cache.")
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("cache", type=Path)
    parser.add_argument("--seconds", type=int, required=True, help="CPU seconds it may use")
    arguments = parser.parse_args(argv)
    try:
        _limit(arguments.seconds)
        return compile_model(arguments.model_dir, arguments.cache)
    except Exception as error:  # any failure leaves LightGBM serving; the log says why
        logger.warning(
            f"compiled trees: the compile failed ({type(error).__name__}: {error}); LightGBM answers"
        )
    return FAILED


if __name__ == "__main__":
    sys.exit(main())
