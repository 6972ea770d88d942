#!/usr/bin/env bash
# Set up a Docker engine and a local base image on a Debian host that has none.
# Idempotent: every step is skipped when its result already exists.
#
#   sudo scripts/setup-docker-engine.sh [BASE_TAG | --engine-only]
#
# BASE_TAG (default: byoc-base:bookworm) is a minimal Debian bookworm image with python3, venv, libgomp1
# and ca-certificates, built with debootstrap, for hosts that cannot pull python:3.12-slim.
# --engine-only stops after the engine (scripts/ensure-docker.sh builds the base image only when needed).
set -euo pipefail

base_tag="${1:-byoc-base:bookworm}"
log() { printf '[setup-docker-engine] %s\n' "$*"; }

wait_for_engine() {
  local pid="$1"
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 1
  done
  log "dockerd did not answer (it stopped, or 60 s passed); last lines of /tmp/dockerd.log:"
  tail -n 20 /tmp/dockerd.log >&2 || true
  return 1
}

packages=(docker.io docker-compose docker-registry debootstrap wrk shellcheck)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's registry package may start a service; the tests run their own registry when they need one.
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi

if docker info >/dev/null 2>&1; then
  log "engine already running"
else
  log "starting dockerd"
  setsid dockerd >/tmp/dockerd.log 2>&1 < /dev/null &
  wait_for_engine $!
fi
if [ "$base_tag" = "--engine-only" ]; then exit 0; fi

if docker image inspect "$base_tag" >/dev/null 2>&1; then
  log "base image $base_tag already exists"
else
  rootfs=$(mktemp -d /tmp/byoc-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  log "building base image $base_tag with debootstrap into $rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,libgomp1,ca-certificates \
    bookworm "$rootfs" http://deb.debian.org/debian >/tmp/debootstrap.log 2>&1 \
    || { tail -n 30 /tmp/debootstrap.log >&2; exit 1; }
  # HTTPS from inside builds may pass through a proxy whose CA only the host's bundle carries.
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -f "$rootfs"/var/cache/apt/archives/*.deb
  rm -rf "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import - "$base_tag" >/dev/null
  log "base image $base_tag ready"
fi
