#!/usr/bin/env bash
# Serve the model in local_test/test_dir/model on http://127.0.0.1:${PORT:-8080}, as a SageMaker endpoint would.
#   local_test/serve_local.sh IMAGE        (Ctrl-C stops it; SIGTERM drains in-flight requests)
set -euo pipefail

image="${1:?usage: $0 IMAGE}"
port="${PORT:-8080}"
test_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/test_dir"

exec docker run --rm -p "127.0.0.1:${port}:8080" -v "$test_dir:/opt/ml" "$image" serve
