# Everyday targets. `make demo` runs the main job locally; `make test` runs every test.
# The local image: generic (the worked example names its recipe in its own configuration); `byoc build`
# makes the same tag.
IMAGE ?= lightsage:latest
# Empty: scripts/ensure-docker.sh picks python:3.12-slim, or byoc-base:bookworm if that cannot be pulled.
BASE_IMAGE ?=
# Extra `docker build` flags, e.g. "--platform linux/amd64".
DOCKER_BUILD_FLAGS ?=
PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python

.PHONY: help venv build data docs-reference train-local serve-local demo lint test test-unit cloud-local bench audit offline-up offline-down clean

help:
	@echo "make demo        build the image, train, serve and predict locally (Docker only, no AWS)"
	@echo "make test        lint + unit + container + offline end-to-end tests (needs Docker)"
	@echo "make build       build $(IMAGE) (starts a Docker engine if needed, picks the base image)"
	@echo "make test-unit   fast tests without Docker"
	@echo "make cloud-local the deploy/ path offline: local registry, S3 emulator, SageMaker local mode"
	@echo "make bench       serving and MLflow peer benchmarks against $(IMAGE) (BENCH_LARGE=1: large training too)"
	@echo "make docs-reference  regenerate docs/reference/ from the code"
	@echo "make audit       pip-audit of the pinned runtime requirements"

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV_PYTHON) -m pip install --quiet --upgrade pip
	$(VENV_PYTHON) -m pip install --quiet -r requirements-dev.txt
	$(VENV_PYTHON) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

venv: $(VENV)/.installed

# ensure-docker.sh starts an engine if none answers, then prints the `docker build` options for its base;
# `byoc push` builds from the same choice (deploy/targets/base_image.py runs the same script).
build:
	@options=$$(BASE_IMAGE="$(BASE_IMAGE)" scripts/ensure-docker.sh) && set -x && \
	docker build $$options $(DOCKER_BUILD_FLAGS) -t $(IMAGE) .

# Remakes local_test/test_dir's committed train/validation split of data/titanic.csv.
data: venv
	$(VENV_PYTHON) -m lightsage.data.split --source data/titanic.csv --target Survived \
		--output-dir local_test/test_dir/input/data

train-local: build
	local_test/train_local.sh $(IMAGE)

serve-local:
	local_test/serve_local.sh $(IMAGE)

demo: build
	scripts/demo.sh $(IMAGE)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/shellcheck local_test/*.sh scripts/*.sh tests/container/*.sh .ci/run
	$(VENV)/bin/hadolint Dockerfile
	$(VENV_PYTHON) scripts/generate_reference.py --check
	site=$$(mktemp -d) && $(VENV)/bin/mkdocs build --strict --site-dir "$$site"; status=$$?; rm -rf "$$site"; exit $$status

# Rewrites docs/reference/ (hyperparameters, CLI help) from the code; `make lint` fails while they are stale.
docs-reference: venv
	$(VENV_PYTHON) scripts/generate_reference.py

test-unit: venv
	$(VENV_PYTHON) -m pytest -m "not container and not e2e"

test: lint build
	BYOC_IMAGE=$(IMAGE) $(VENV_PYTHON) -m pytest

cloud-local: venv build
	scripts/cloud_local.sh $(IMAGE)

offline-up: venv
	$(VENV_PYTHON) -m lightsage_deploy offline up

offline-down: venv
	$(VENV_PYTHON) -m lightsage_deploy offline down

# MLflow (the peer server) lives in its own virtualenv, made here once; BENCH_LARGE=1 adds the 1 GiB and 4 GiB
# training runs (minutes each, and about 6 GiB of generated files cached in bench/results/cache).
MLFLOW_VENV ?= /tmp/byoc-mlflow-venv
BENCH_LARGE ?=
bench: venv
	$(VENV_PYTHON) bench/serving_benchmark.py --image $(IMAGE)
	test -x $(MLFLOW_VENV)/bin/mlflow || { $(PYTHON) -m venv $(MLFLOW_VENV) && \
		$(MLFLOW_VENV)/bin/pip install --quiet -r bench/requirements-mlflow.txt; }
	$(VENV_PYTHON) bench/peer_benchmark.py --image $(IMAGE) --mlflow-venv $(MLFLOW_VENV)
	if [ -n "$(BENCH_LARGE)" ]; then \
		$(VENV_PYTHON) bench/large_training.py --image $(IMAGE) --table titanic --gigabytes 1 && \
		$(VENV_PYTHON) bench/large_training.py --image $(IMAGE) --table tabular --gigabytes 1 && \
		$(VENV_PYTHON) bench/large_training.py --image $(IMAGE) --table tabular --gigabytes 4; fi

audit: venv
	$(VENV)/bin/pip-audit --requirement requirements.txt --strict

clean:
	find local_test/test_dir/model local_test/test_dir/output -mindepth 1 ! -name .gitkeep -delete
	rm -rf local_test/test_dir/checkpoints
