#!/usr/bin/env bash
# What `make build` and `byoc push` (deploy/targets/base_image.py) run before `docker build`: make sure a Docker
# engine answers, choose the base image, and print the `docker build` options for it on stdout (every
# message goes to stderr).
#
#   scripts/ensure-docker.sh        prints e.g. "--build-arg BASE_IMAGE=python:3.12-slim"
#
# Engine: if none answers and this is Debian or Ubuntu run as root, scripts/setup-docker-engine.sh installs
# and starts one; anywhere else the script stops and says what is missing.
# Base image, first that applies:
#   1. BASE_IMAGE, when set: used as it is, nothing pulled;
#   2. OFFICIAL_BASE_IMAGE (python:3.12-slim) when it is present or can be pulled;
#   3. LOCAL_BASE_IMAGE (byoc-base:bookworm, built with debootstrap when missing), built with --network host.
# PULL_TIMEOUT_SECONDS (300) bounds the pull in 2.
set -euo pipefail

official_base="${OFFICIAL_BASE_IMAGE:-python:3.12-slim}"
local_base="${LOCAL_BASE_IMAGE:-byoc-base:bookworm}"
pull_seconds="${PULL_TIMEOUT_SECONDS:-300}"
setup="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/setup-docker-engine.sh"

say() { printf '[ensure-docker] %s\n' "$*" >&2; }
fail() {
  say "$*"
  exit 1
}
# GNU `timeout` bounds a hung engine or a slow pull; macOS has no `timeout`, and runs them unbounded.
bounded() {
  local seconds="$1"
  shift
  if command -v timeout >/dev/null 2>&1; then timeout "$seconds" "$@"; else "$@"; fi
}
can_set_up_here() { [ "$(id -u)" -eq 0 ] && [ -f /etc/debian_version ]; }
# Empty when the engine answers; otherwise why not, in one line.
engine_problem() {
  local error
  if ! command -v docker >/dev/null 2>&1; then
    echo "the docker command is not installed"
  elif ! error=$(bounded 30 docker version --format '{{.Server.Version}}' 2>&1 >/dev/null); then
    echo "${error:-docker did not answer within 30 s}" | head -n 1
  fi
}
image_present() { docker image inspect "$1" >/dev/null 2>&1; }

problem=$(engine_problem)
if [ -n "$problem" ]; then
  if [ -n "${DOCKER_HOST:-}" ]; then
    fail "the Docker engine at DOCKER_HOST=$DOCKER_HOST does not answer; start it, or unset DOCKER_HOST" \
      "to use this machine's engine. (docker: $problem)"
  fi
  if ! can_set_up_here; then
    fail "no usable Docker engine. Install and start Docker (https://docs.docker.com/engine/install/) and" \
      "make sure your user may use it; on Debian or Ubuntu, run make as root and it sets the engine up" \
      "itself. (docker: $problem)"
  fi
  say "no Docker engine answers ($problem)."
  say "Setting one up with scripts/setup-docker-engine.sh: apt-get install docker.io docker-compose" \
    "docker-registry and the tools the tests use, then dockerd in the background (log: /tmp/dockerd.log)."
  bash "$setup" --engine-only >&2
fi

if [ -n "${BASE_IMAGE:-}" ]; then
  say "base image: $BASE_IMAGE (from BASE_IMAGE)"
  echo "--build-arg BASE_IMAGE=$BASE_IMAGE"
  exit 0
fi

if image_present "$official_base"; then
  say "base image: $official_base (present locally)"
  echo "--build-arg BASE_IMAGE=$official_base"
  exit 0
fi
if bounded "$pull_seconds" docker pull "$official_base" >&2; then
  say "base image: $official_base (pulled)"
  echo "--build-arg BASE_IMAGE=$official_base"
  exit 0
fi

say "$official_base cannot be pulled here: falling back to the local base image $local_base" \
  "(docker build --network host)"
if ! image_present "$local_base"; then
  if ! can_set_up_here; then
    fail "$local_base does not exist either. Make $official_base pullable, pass BASE_IMAGE=<a local" \
      "image with python3>, or build $local_base as root on Debian or Ubuntu:" \
      "scripts/setup-docker-engine.sh $local_base"
  fi
  say "building $local_base with debootstrap (about a minute; scripts/setup-docker-engine.sh)"
  bash "$setup" "$local_base" >&2
fi
echo "--build-arg BASE_IMAGE=$local_base --network host"
