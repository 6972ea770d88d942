# One image that trains and serves: `docker run IMAGE train` and `docker run IMAGE serve`; and, as SageMaker
# Processing jobs, `docker run IMAGE evaluate` and `docker run IMAGE drift`.
# SageMaker runs amd64: on Apple silicon build with `docker build --platform linux/amd64 ...`.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

LABEL org.opencontainers.image.title="sagemaker-lightgbm-byoc" \
      org.opencontainers.image.description="Trains and serves LightGBM models on tabular data under the SageMaker container contract" \
      com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# nginx fronts gunicorn; libgomp1 is LightGBM's OpenMP runtime (absent from slim images); tini is PID 1, so
# a SIGTERM that arrives while `train` or `serve` is still starting is passed on instead of dropped.
# Versions come from the base image's Debian release, which the BASE_IMAGE tag pins.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx libgomp1 tini \
    && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log /etc/nginx/sites-enabled/default

ENV VIRTUAL_ENV=/opt/venv \
    PATH="/opt/venv/bin:/opt/program:${PATH}" \
    PYTHONPATH=/opt/program \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY requirements.txt /tmp/requirements.txt
RUN python3 -m venv "${VIRTUAL_ENV}" \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt \
    && python3 -c "import lightgbm, sklearn, pandas, pyarrow, flask, gunicorn, boto3, lleaves, datasketches, scipy.stats"

COPY program /opt/program
# Bytecode compiled at build time keeps cold starts short (PYTHONDONTWRITEBYTECODE only stops runtime writes).
RUN python3 -m compileall -q /opt/program/lightsage
WORKDIR /opt/program
# Without a `recipe` hyperparameter, `train` uses the generic recipe: any table trains with only `target`.
# A derived image may name its own default (examples/houses/Dockerfile).
ENV BYOC_DEFAULT_RECIPE=tabular
EXPOSE 8080
# The base the build used (python:3.12-slim, or the local fallback scripts/ensure-docker.sh chose).
ARG BASE_IMAGE
LABEL org.opencontainers.image.base.name="${BASE_IMAGE}"
# `docker run IMAGE train` runs `tini -- train`: SageMaker's argument still selects the program.
ENTRYPOINT ["/usr/bin/tini", "--"]
