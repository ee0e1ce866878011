# kaggle-kit: the common flows. `make help` lists them; variables can be overridden: make train FOLDS=5
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
KK := $(VENV)/bin/kk
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kk-installed

COMPETITION ?= digit-recognizer
RECIPE ?= default
FOLDS ?= 5
EPOCHS ?=
RUN ?= $(shell ls -dt runs/$(COMPETITION)/*/run.json 2>/dev/null | head -n1 | xargs -r dirname)
WEIGHTS ?=
ACCELERATOR ?= --gpu
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup test demo lint download train push-train weights push-inference submit bench bench-accuracy clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'
	@echo "  variables: COMPETITION=$(COMPETITION) RECIPE=$(RECIPE) FOLDS=$(FOLDS) RUN=<run dir> WEIGHTS=<owner/slug>"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install kk with its dev extras (fast when already done)

test: setup ## Run the whole test suite
	$(VENV)/bin/pytest $(PYTEST_ARGS)

demo: setup ## Run the whole loop offline against the embedded Kaggle emulator
	$(KK) demo

lint: setup ## Lint with ruff
	$(VENV)/bin/ruff check kaggle_kit tests benchmarks

download: setup ## Download COMPETITION into datasets/
	$(KK) download $(COMPETITION)

train: setup ## Train RECIPE with FOLDS folds locally
	$(KK) train $(COMPETITION) --recipe $(RECIPE) --folds $(FOLDS) $(if $(EPOCHS),--epochs $(EPOCHS))

push-train: setup ## Push a training kernel to Kaggle (ACCELERATOR=--gpu|--tpu) and wait for it
	$(KK) push-kernel train $(COMPETITION) --recipe $(RECIPE) $(ACCELERATOR) --wait

weights: setup ## Publish the newest run's (or RUN=...) weights as a Kaggle dataset
	$(KK) upload-weights $(RUN)

push-inference: setup ## Push the offline inference kernel for WEIGHTS=owner/slug and wait
	$(KK) push-kernel inference $(COMPETITION) --weights $(WEIGHTS) --no-internet --wait

submit: setup ## Submit the newest validated submission
	$(KK) submit $(COMPETITION)

bench: setup ## Run the fast benchmarks (loading, input pipeline, augmentation, inference, scaling; ~10 min)
	$(PY) -m benchmarks.run --fast

bench-accuracy: setup ## Run the accuracy-per-CPU-minute benchmark (hours; resumable, finished jobs are kept)
	$(PY) -m benchmarks.run --accuracy

clean: ## Remove build outputs (keeps datasets/ and runs/)
	rm -rf kernels/build .pytest_cache
