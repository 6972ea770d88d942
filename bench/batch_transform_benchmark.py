"""Batch transform on a large file, offline: the SageMaker SDK's local mode runs the image's `serve` over a
header-less CSV in the emulated S3, as a transform job on SageMaker would.

    python bench/batch_transform_benchmark.py --image IMAGE [--rows 1000000] [--compare-lightgbm]
                                              [--output bench/results/batch_transform.json]

1. Trains the Titanic model with the image (`docker run ... train`, no network) and packs it as
   model.tar.gz.
2. Writes `--rows` passengers drawn with replacement from data/titanic.csv (seed 42) as one header-less,
   features-only CSV file: what `byoc batch` stages.
3. Starts the offline stand-ins (a registry and moto_server on free 127.0.0.1 ports), pushes the image and
   pulls it back by digest, puts the model and the file into an emulated bucket.
4. Runs the transform job through the SDK's local mode (lightsage_deploy.steps.batch.start_transform:
   MultiRecord, 6 MB mini-batches, Line split and assembly, text/csv answers) and times it, from the call
   to its return: the container's start, every mini-batch (one at a time, as local mode sends them) and
   the answers' upload.
5. Checks the answers: one line per row, each label and probability equal to the in-process model's
   (1e-9).
With --compare-lightgbm it runs the job a second time with BYOC_COMPILED_TREES=off (LightGBM answers every
batch) and prints the ratio. Prints a Markdown table and writes the raw figures as JSON; exit 0 when
everything ran, 1 when anything failed. Everything it starts is stopped and removed.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import common
import numpy as np
from common import BenchmarkError

DEFAULT_OUTPUT = common.RESULTS_DIR / "batch_transform.json"
DEFAULT_ROWS = 1_000_000
BUCKET = "byoc-bench-transform"
INPUT_FILE = "passengers.csv"
PARITY_CHUNK = 100_000
# The job's container compiles its trees in the background once it answers; earlier batches use LightGBM.
ON = "compiled trees on (the default)"
OFF = "compiled trees off (BYOC_COMPILED_TREES=off: LightGBM)"


def model_archive(model_dir: Path, path: Path) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for member in sorted(model_dir.iterdir()):
            if member.is_file() and member.name != ".gitkeep":
                archive.add(member, arcname=member.name)
    return path


def passengers(rows: int) -> bytes:
    """`rows` passengers drawn with replacement, without the label and without a header row."""
    with common.TITANIC_CSV.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader)
        records = [record for record in reader if record]
    kept = [index for index, name in enumerate(header) if name != common.TARGET_COLUMN]
    picks = np.random.default_rng(common.SAMPLE_SEED).integers(0, len(records), size=rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    chosen = [[records[pick][index] for index in kept] for pick in picks.tolist()]
    writer.writerows(chosen)
    return out.getvalue().encode()


def expected_probabilities(model_dir: Path, body: bytes) -> np.ndarray:
    """The in-process model's probabilities, in chunks of rows (the same code path as `serve`)."""
    predictor = common.load_predictor(model_dir)
    lines = body.splitlines(keepends=True)
    parts = [
        common.in_process_probabilities(predictor, b"".join(lines[start : start + PARITY_CHUNK]))
        for start in range(0, len(lines), PARITY_CHUNK)
    ]
    return np.concatenate(parts)


def check_answers(lines: Sequence[str], expected: np.ndarray) -> float:
    if len(lines) != len(expected):
        raise BenchmarkError(f"the transform answered {len(lines):,} lines for {len(expected):,} rows")
    labels = np.array([int(line.split(",", 1)[0]) for line in lines])
    probabilities = np.array([float(line.split(",", 1)[1]) for line in lines])
    if not np.array_equal(labels, (expected >= 0.5).astype(int)):
        raise BenchmarkError("the transform's labels differ from the in-process model's")
    return common.check_parity(probabilities, expected, "batch transform answers")


def transform(
    target: Any, layout: Any, the_project: Any, image_uri: str, model_data: str, env: dict[str, str]
) -> dict[str, Any]:
    """One transform job over the staged file; its wall time and answers."""
    from sagemaker.model import Model

    from lightsage_deploy.aws.s3 import list_keys, read_bytes
    from lightsage_deploy.steps import batch
    from lightsage_deploy.steps.endpoint import EndpointOptions
    from lightsage_deploy.targets import target as settings

    options = EndpointOptions(
        project=the_project,
        image_uri=image_uri,
        model_data=model_data,
        role=the_project.local_role_arn,
        instance_type=settings.LOCAL_INSTANCE_TYPE,
        name=settings.unique_name(f"{the_project.base_job_name}-bench"),
    )
    model = Model(
        image_uri=image_uri,
        model_data=model_data,
        role=options.role,
        name=options.name,
        env=env,
        sagemaker_session=target.sagemaker_session,
    )
    output_path = layout.batch_output
    transformer = model.transformer(
        instance_count=1,
        instance_type=options.instance_type,
        strategy="MultiRecord",
        assemble_with="Line",
        output_path=output_path,
        accept="text/csv",
        max_payload=batch.MAX_PAYLOAD_MB,
    )
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    try:
        transformer.transform(
            layout.batch_input, content_type="text/csv", split_type="Line", job_name=options.name, wait=True
        )
    finally:
        seconds = time.monotonic() - started
        try:
            target.sagemaker_session.delete_model(options.name)
        except Exception as error:
            print(f"could not delete local model {options.name}: {error}", file=sys.stderr)
    s3 = target.client("s3")
    keys = [key for key in list_keys(s3, layout.uri("batch-output", options.name)) if key.endswith(".out")]
    if not keys:
        raise BenchmarkError(f"transform job {options.name} wrote no answers")
    lines = [
        line
        for key in keys
        for line in batch.prediction_lines(read_bytes(s3, f"s3://{layout.bucket}/{key}").decode("utf-8"))
    ]
    return {"job": options.name, "seconds": seconds, "load_average_before": load_before, "lines": lines}


def run(arguments: argparse.Namespace, results: dict[str, Any]) -> None:
    from lightsage_deploy import project
    from lightsage_deploy.aws.s3 import create_private_bucket, put_bytes, upload_file
    from lightsage_deploy.steps import image as push_image
    from lightsage_deploy.steps.cleanup import delete_registry_repository
    from lightsage_deploy.targets import target as settings
    from lightsage_deploy.targets.docker import docker, image_references, untag
    from lightsage_deploy.targets.offline import OfflineServices

    common.require_tools("docker")
    results["machine"] = common.machine()
    common.announce_machine(results["machine"])
    results["image"] = {"name": arguments.image, "id": common.image_id(arguments.image)}
    the_project = project.load(project.DEFAULT_FILE, environ={})
    repository = f"{the_project.repository}-bench"
    with tempfile.TemporaryDirectory(prefix="byoc-transform-", ignore_cleanup_errors=True) as scratch_name:
        scratch = Path(scratch_name)
        ml_root = scratch / "ml"
        results["train_seconds"] = common.train_titanic(arguments.image, ml_root)
        archive = model_archive(ml_root / "model", scratch / "model.tar.gz")
        body = passengers(arguments.rows)
        results["input"] = {"rows": arguments.rows, "bytes": len(body)}
        print(f"input: {arguments.rows:,} rows, {len(body) / 2**20:.1f} MiB", file=sys.stderr)
        expected = expected_probabilities(ml_root / "model", body)
        state = scratch / "offline"
        state.mkdir()
        services = OfflineServices(state, registry_port=common.free_port(), s3_port=common.free_port())
        home = scratch / "home"
        home.mkdir()
        previous_home = os.environ.get("HOME")
        os.environ["HOME"] = str(home)  # the SDK and docker read ~/.sagemaker and ~/.docker
        try:
            with (
                services,
                settings.open_target(
                    local=True,
                    project=repository,
                    registry=services.registry,
                    s3_endpoint=services.s3_endpoint,
                    serving_port=common.free_port(),
                ) as target,
            ):
                try:
                    pushed = push_image.push_image(
                        target, push_image.PushOptions(repository, source_image=arguments.image)
                    )
                    docker("pull", pushed.digest_uri, timeout=600)
                    layout = settings.S3Layout(BUCKET, the_project.prefix)
                    s3 = target.client("s3")
                    create_private_bucket(s3, BUCKET, target.region)
                    model_data = layout.uri("model") + "model.tar.gz"
                    upload_file(s3, archive, model_data, "application/gzip")
                    put_bytes(s3, layout.batch_input + INPUT_FILE, body)
                    variants: dict[str, dict[str, str]] = {ON: {}}
                    if arguments.compare_lightgbm:
                        variants[OFF] = {"BYOC_COMPILED_TREES": "off"}
                    jobs = {}
                    for label, env in variants.items():
                        job = transform(target, layout, the_project, pushed.digest_uri, model_data, env)
                        parity = check_answers(job.pop("lines"), expected)
                        jobs[label] = job | {
                            "max_abs_difference": parity,
                            "rows_per_second": arguments.rows / job["seconds"],
                            "mib_per_second": len(body) / 2**20 / job["seconds"],
                        }
                        print(f"{label}: {job['seconds']:.1f} s", file=sys.stderr)
                    results["jobs"] = jobs
                finally:
                    delete_registry_repository(services.registry, repository)
                    untag(image_references(f"{services.registry}/{repository}"))
        finally:
            if previous_home is None:
                os.environ.pop("HOME", None)
            else:
                os.environ["HOME"] = previous_home
            shutil.rmtree(state, ignore_errors=True)
    common.finish_machine(results["machine"])


HEADER = ("figure", "value", "detail")


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    info, data = results["machine"], results["input"]
    rows = [
        ["machine", info["cpu_model"], common.load_summary(info)],
        ["image", results["image"]["name"], results["image"]["id"][:19]],
        [
            "input file",
            f"{data['rows']:,} rows, {data['bytes'] / 2**20:.1f} MiB",
            "header-less CSV, features only",
        ],
    ]
    for label, job in results["jobs"].items():
        rows.append(
            [
                f"transform job, {label} (SDK local mode, MultiRecord, 6 MB mini-batches)",
                f"{job['rows_per_second']:,.0f} rows/s ({job['mib_per_second']:.2f} MiB/s)",
                f"{job['seconds']:.1f} s from the call to its return; load average "
                f"{job['load_average_before']:.2f} before; answers equal in-process (max abs diff "
                f"{job['max_abs_difference']:.1g})",
            ]
        )
    jobs = results["jobs"]
    if OFF in jobs:
        ratio = jobs[ON]["rows_per_second"] / jobs[OFF]["rows_per_second"]
        rows.append(
            ["ratio: compiled trees on / off (whole job, container start included)", f"{ratio:.2f}", ""]
        )
    return rows


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", required=True, help="the image to benchmark (it is not rebuilt)")
    parser.add_argument(
        "--rows", type=int, default=DEFAULT_ROWS, help=f"rows in the file (default {DEFAULT_ROWS:,})"
    )
    parser.add_argument(
        "--compare-lightgbm", action="store_true", help="run the job again with BYOC_COMPILED_TREES=off"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON file for the raw figures")
    arguments = parser.parse_args(argv)
    if arguments.rows < 1:
        parser.error("--rows must be positive")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    settings = {
        "rows": arguments.rows,
        "compare_lightgbm": arguments.compare_lightgbm,
        "seed": common.SAMPLE_SEED,
    }
    return common.run_and_report(
        arguments.output,
        settings,
        lambda results: run(arguments, results),
        lambda results: common.markdown_table(HEADER, table_rows(results)),
    )


if __name__ == "__main__":
    sys.exit(main())
