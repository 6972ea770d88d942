#!/usr/bin/env bash
# The main job end to end on this machine, no AWS account: train in the image, serve it, predict.
#   scripts/demo.sh IMAGE         (run `make build` first, or use `make demo`)
set -euo pipefail

image="${1:?usage: $0 IMAGE}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PORT="${PORT:-8080}"

echo "== train: local_test/train_local.sh $image"
"$root/local_test/train_local.sh" "$image"

echo "== serve: local_test/serve_local.sh $image (port $PORT)"
container="byoc-demo-$$"
docker run -d --rm --name "$container" -p "127.0.0.1:${PORT}:8080" \
  -v "$root/local_test/test_dir:/opt/ml" "$image" serve >/dev/null
trap 'docker stop "$container" >/dev/null 2>&1 || true' EXIT

for _ in $(seq 1 120); do
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORT}/ping")" = "200" ]; then
    break
  fi
  sleep 0.25
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORT}/ping")" = "200" ] \
  || { echo "the endpoint never became healthy; its log:" >&2; docker logs "$container" >&2; exit 1; }

for payload in passengers_with_header.csv passengers_no_header.csv passengers.json passengers.jsonl; do
  echo "== predict: local_test/predict.sh local_test/payloads/$payload"
  "$root/local_test/predict.sh" "$root/local_test/payloads/$payload"
done
echo "== done: model artifacts are in local_test/test_dir/model"
