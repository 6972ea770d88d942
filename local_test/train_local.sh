#!/usr/bin/env bash
# Run `train` the way SageMaker does: local_test/test_dir mounted at /opt/ml, no network.
#   local_test/train_local.sh IMAGE
# Reads test_dir/input/{config,data}; writes test_dir/model/ (or test_dir/output/failure on error).
set -euo pipefail

image="${1:?usage: $0 IMAGE}"
test_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/test_dir"

# A fresh job starts with an empty model folder, no failure file and no checkpoints, as on SageMaker (a job
# resumes from the checkpoints it finds: keep them only to resume).
find "$test_dir/model" "$test_dir/output" -mindepth 1 ! -name .gitkeep -delete
rm -rf "$test_dir/checkpoints"

docker run --rm --network none -v "$test_dir:/opt/ml" "$image" train
echo "model artifacts in $test_dir/model:"
ls -l "$test_dir/model"
