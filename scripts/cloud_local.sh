#!/usr/bin/env bash
# The cloud path with no AWS account: the same `byoc` commands as on AWS, with --local.
# A local registry stands in for ECR, moto_server for S3, SageMaker local mode for the jobs and endpoint.
#   scripts/cloud_local.sh IMAGE [TRAIN OPTIONS...]   (IMAGE must exist locally, e.g. after `make build`;
#                                                      e.g. --instance-count 2 --hyperparameter cv_folds=5)
set -euo pipefail

image="${1:?usage: $0 IMAGE [byoc train options]}"
shift
cd "$(dirname "${BASH_SOURCE[0]}")/.."
byoc="${BYOC:-.venv/bin/byoc}"

"$byoc" offline up
trap '"$byoc" cleanup --local || true; "$byoc" offline down' EXIT

echo "== (1) data to S3: the project's source, split into the train and validation channels"
"$byoc" upload --local --create-bucket

echo "== (2) image to the registry"
pushed=$("$byoc" push --local --no-build --source-image "$image" | tee /dev/stderr)
image_uri=$(awk '/^pinned:/ {print $2}' <<<"$pushed")

echo "== (3) training job: Estimator(...).fit({'train': ..., 'validation': ...}) in local mode"
trained=$("$byoc" train --local --image-uri "$image_uri" "$@" | tee /dev/stderr)
model_data=$(awk '/^model:/ {print $2}' <<<"$trained")

echo "== (4) real-time endpoint: deploy, predict, delete"
"$byoc" deploy --local --model-data "$model_data" --image-uri "$image_uri"

echo "== (5) batch transform of the validation channel"
"$byoc" batch --local --model-data "$model_data" --image-uri "$image_uri"
