"""How long the image's processing programs take on the Titanic model, and what they add to the image.

    python bench/processing_times.py --image IMAGE [--before IMAGE] [--repeats 3]
                                     [--output bench/results/processing-times.json]

Trains the Titanic model in the image (local_test/test_dir, no network), packs it as model.tar.gz and runs,
as SageMaker Processing would (`docker run --network none -v ROOT:/opt/ml IMAGE PROGRAM`, a fresh
/opt/ml/processing tree each time):
- `evaluate` on the validation rows, with the training rows as its `baseline` input (the data baseline);
- `drift` on the validation rows (expected: 0 violations) and on a shifted copy (Fare x4, Pclass=1:
  expected to name both);
- `docker run --entrypoint true IMAGE`, the container's own start and stop, for comparison.
The runs alternate (evaluate, drift same, drift shifted, empty container; repeated) so a change in the load
falls on all; printed: each run's wall time, each one's best and median, the drift summary lines, and the
image sizes (with --before: both, the difference in bytes and as a share). Exit 1 when a program fails or
drift does not give the expected line.
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import common
import pandas as pd

SAME = "drift: 0 violation(s) in 0 feature(s)"
SHIFTED = "drift: 2 violation(s) in 2 feature(s): Pclass, Fare"
PROGRAM_TIMEOUT_SECONDS = 600.0


def image_bytes(image: str) -> int:
    return int(common.docker("image", "inspect", "--format", "{{.Size}}", image).stdout.strip())


def model_archive(model_dir: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            if path.is_file() and path.name != ".gitkeep":
                tar.add(path, arcname=path.name)
    return buffer.getvalue()


def processing_tree(root: Path, inputs: dict[str, dict[str, bytes]]) -> Path:
    for name, files in inputs.items():
        folder = root / "processing" / name
        folder.mkdir(parents=True)
        for file_name, content in files.items():
            (folder / file_name).write_bytes(content)
    return root


def timed_run(image: str, root: Path | None, command: Sequence[str]) -> tuple[float, str]:
    """The wall time of `docker run` of the program (an empty command: the entry point `true` alone)."""
    arguments = ["run", "--rm", "--network", "none"]
    if root is not None:
        arguments += ["-v", f"{root}:/opt/ml"]
    if not command:
        arguments += ["--entrypoint", "true"]
    started = time.monotonic()
    result = common.docker(*arguments, image, *command, timeout=PROGRAM_TIMEOUT_SECONDS, check=False)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise common.BenchmarkError(
            f"`{' '.join(command) or 'true'}` exited {result.returncode}: {result.stderr[-2000:]}"
        )
    lines = result.stdout.strip().splitlines()
    return seconds, lines[-1] if lines else ""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", required=True)
    parser.add_argument("--before", help="an image without evaluate and drift, to compare sizes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=common.RESULTS_DIR / "processing-times.json")
    arguments = parser.parse_args(argv)
    common.require_tools("docker")
    machine = common.machine()
    common.announce_machine(machine)
    scratch = Path(tempfile.mkdtemp(prefix="byoc-processing-times-"))
    results: dict[str, Any] = {"image": arguments.image, "machine": machine}
    try:
        train_seconds = common.train_titanic(arguments.image, scratch / "ml")
        print(f"train (Titanic, local_test/test_dir): {train_seconds:.1f} s", flush=True)
        packed = {"model.tar.gz": model_archive(scratch / "ml" / "model")}
        data = common.TEST_DIR / "input" / "data"
        training = (data / "train" / "train.csv").read_bytes()
        validation = (data / "validation" / "validation.csv").read_bytes()
        held_out = pd.read_csv(io.BytesIO(validation))
        shifted = held_out.assign(Fare=held_out["Fare"] * 4, Pclass=1).to_csv(index=False).encode()
        jobs: dict[str, tuple[dict[str, dict[str, bytes]] | None, tuple[str, ...], str | None]] = {
            "evaluate": (
                {"model": packed, "data": {"validation.csv": validation},
                 "baseline": {"train.csv": training}},
                ("evaluate", "--task", "binary"),
                None,
            ),
            "drift (held-out rows)": (
                {"model": packed, "traffic": {"validation.csv": validation}}, ("drift",), SAME
            ),
            "drift (shifted copy)": (
                {"model": packed, "traffic": {"shifted.csv": shifted}}, ("drift",), SHIFTED
            ),
            "empty container": (None, (), None),
        }  # fmt: skip
        timings: dict[str, list[float]] = {name: [] for name in jobs}
        lines: dict[str, str] = {}
        for repeat in range(arguments.repeats):
            for name, (inputs, command, expected) in jobs.items():
                root = processing_tree(scratch / f"{repeat}-{name}", inputs) if inputs else None
                seconds, line = timed_run(arguments.image, root, command)
                if expected is not None and line != expected:
                    raise common.BenchmarkError(f"{name}: last line {line!r}, expected {expected!r}")
                timings[name].append(seconds)
                lines[name] = line
                print(f"{name:22} {seconds:6.2f} s  {line}", flush=True)
        common.finish_machine(machine)
        results["seconds"] = timings
        results["last_lines"] = lines
        print()
        print(common.markdown_table(
            ["run", "best s", "median s", "runs", "last line"],
            [[name, f"{min(values):.2f}", f"{sorted(values)[len(values) // 2]:.2f}", str(len(values)),
              lines[name] or "-"] for name, values in timings.items()],
        ))  # fmt: skip
        size = image_bytes(arguments.image)
        results["image_bytes"] = size
        print(f"\nimage {arguments.image}: {size:,} bytes ({size / 1e6:.1f} MB)")
        if arguments.before:
            before = image_bytes(arguments.before)
            results.update(before_image=arguments.before, before_bytes=before, added_bytes=size - before)
            print(f"image {arguments.before} (before): {before:,} bytes ({before / 1e6:.1f} MB); added "
                  f"{size - before:+,} bytes ({(size - before) / before:+.2%})")  # fmt: skip
        print(common.load_summary(machine))
    except common.BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        results["error"] = str(error)
        common.write_json(arguments.output, results)
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    common.write_json(arguments.output, results)
    return 0


if __name__ == "__main__":
    common.stop_on_sigterm()
    sys.exit(main())
