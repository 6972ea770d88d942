#!/usr/bin/env bash
# POST a payload file to a running endpoint's /invocations and print the answer and its HTTP status.
#   local_test/predict.sh PAYLOAD [CONTENT_TYPE] [ACCEPT]
# CONTENT_TYPE defaults from the file extension (.csv text/csv, .json application/json,
# .jsonl application/jsonlines); ACCEPT defaults to application/json. PORT defaults to 8080.
set -euo pipefail

payload="${1:?usage: $0 PAYLOAD [CONTENT_TYPE] [ACCEPT]}"
case "$payload" in
  *.csv) default_type="text/csv" ;;
  *.jsonl) default_type="application/jsonlines" ;;
  *.json) default_type="application/json" ;;
  *) default_type="text/csv" ;;
esac
content_type="${2:-$default_type}"
accept="${3:-application/json}"

curl --silent --show-error --write-out '\nHTTP %{http_code}\n' \
  --header "Content-Type: ${content_type}" --header "Accept: ${accept}" \
  --data-binary "@${payload}" "http://127.0.0.1:${PORT:-8080}/invocations"
