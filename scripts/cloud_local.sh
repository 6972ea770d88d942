#!/usr/bin/env bash
# The cloud path with no AWS account: the same deploy/ scripts as on AWS, with --local.
# A local registry stands in for ECR, moto_server for S3, SageMaker local mode for the jobs and endpoint.
#   scripts/cloud_local.sh IMAGE        (IMAGE must exist locally, e.g. after `make build`)
set -euo pipefail

image="${1:?usage: $0 IMAGE}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python="${PYTHON:-.venv/bin/python}"

"$python" -m deploy.offline up
trap '"$python" -m deploy.cleanup --local || true; "$python" -m deploy.offline down' EXIT

echo "== (1) data to S3"
"$python" -m deploy.upload_data --local --create-bucket

echo "== (2) image to the registry"
pushed=$("$python" -m deploy.push_image --local --no-build --source-image "$image" | tee /dev/stderr)
image_uri=$(awk '/^pinned:/ {print $2}' <<<"$pushed")

echo "== (3) training job: Estimator(...).fit({'train': ..., 'validation': ...}) in local mode"
trained=$("$python" -m deploy.train_job --local --image-uri "$image_uri" | tee /dev/stderr)
model_data=$(awk '/^model:/ {print $2}' <<<"$trained")

echo "== (4) endpoint: deploy, predict, delete"
"$python" -m deploy.endpoint --local --model-data "$model_data" --image-uri "$image_uri"

echo "== (5) batch transform of the validation set"
"$python" -m deploy.batch_transform --local --model-data "$model_data" --image-uri "$image_uri"
