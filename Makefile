# kaggle-kit: the common flows. `make help` lists them.
# In the kk checkout: make setup | test | demo | lint | bench.
# From a competition project folder (one with kk.toml, written by `kk init`), point make at this file:
#   make -f /path/to/kaggle-kit/Makefile download train EPOCHS=3
# Variables left empty are not passed: kk then uses kk.toml and the recipe's own values.
SHELL := /bin/bash
# This file's folder: setup, test, lint and bench work on the checkout wherever make is run from.
MAKEFILE_PATH := $(abspath $(lastword $(MAKEFILE_LIST)))
KK_HOME := $(patsubst %/,%,$(dir $(MAKEFILE_PATH)))
PYTHON ?= python3
VENV ?= $(KK_HOME)/.venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kk-installed
# The checkout's own kk once `make setup` made it, else the one on PATH (pip install kaggle-kit).
KK ?= $(if $(wildcard $(VENV)/bin/kk),$(VENV)/bin/kk,kk)
HAVE_KK = @command -v $(KK) >/dev/null || { echo "make: no kk found: run make -f $(MAKEFILE_PATH) setup, or pip install kaggle-kit" >&2; exit 127; }

COMPETITION ?=
RECIPE ?=
FOLDS ?=
EPOCHS ?=
TRAIN_ARGS ?=
ACCELERATOR ?= --gpu
RUN ?=
WEIGHTS ?=
KERNEL ?=
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: test-faults mutation help setup test demo lint download train push-train weights push-inference submit bench bench-accuracy clean

help: ## List the targets
	@if [ -t 1 ]; then c=$$'\033[36m'; r=$$'\033[0m'; fi; \
	grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_PATH) \
	  | awk -v c="$$c" -v r="$$r" 'BEGIN {FS = ":.*?## "}; {printf "  %s%-16s%s %s\n", c, $$1, r, $$2}'
	@echo "  variables (empty: kk.toml's or the recipe's value): COMPETITION=$(COMPETITION) RECIPE=$(RECIPE)"
	@echo "    FOLDS=$(FOLDS) EPOCHS=$(EPOCHS) TRAIN_ARGS='$(TRAIN_ARGS)' ACCELERATOR=$(ACCELERATOR) RUN=$(RUN)"
	@echo "    WEIGHTS=$(WEIGHTS) KERNEL=$(KERNEL)"
	@echo "  from a project folder: make -f $(MAKEFILE_PATH) TARGET (kk: $(KK))"

$(STAMP): $(KK_HOME)/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e "$(KK_HOME)[dev]"
	@# Kernels run under Kaggle's GPU image profile by default (kaggle_kit/profiles): build its overlay now, so
	@# the emulator and kk run-kernel need no package index later (make demo runs offline).
	@$(PY) -c "from kaggle_kit.profiles import ensure_overlay, load_profile; ensure_overlay(load_profile('kaggle-gpu'))" \
	  || echo "note: could not build the kaggle-gpu image profile now; kernels build it on first use"
	@touch $(STAMP)

setup: $(STAMP) ## Create the checkout's .venv and install kk with its dev extras (fast when already done)
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q bubblewrap >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && \
	    apt-get install -y -q bubblewrap >/dev/null 2>&1; }; }; } || \
	  echo "note: bubblewrap (bwrap) is not installed: local kernels cannot be isolated from this machine's files (apt-get install bubblewrap)"

test: setup ## Run the whole test suite
	cd $(KK_HOME) && $(VENV)/bin/pytest $(PYTEST_ARGS)

demo: setup ## Run the whole loop offline against the embedded Kaggle emulator
	$(VENV)/bin/kk demo

test-faults: setup ## Fault-injection suite in full: 20 runs each of download, submit, dataset upload, kernel push at ~25% faults (~2 min)
	cd $(KK_HOME) && KK_FAULTS_FULL=1 $(VENV)/bin/pytest -q tests/faults $(PYTEST_ARGS)

mutation: setup ## Mutation-test submission, metrics, ensemble, emulator scoring, manifest (fast tests only; TESTING.md)
	cd $(KK_HOME) && rm -rf mutants && $(VENV)/bin/mutmut run --max-children 2; rc=$$?; $(VENV)/bin/mutmut results; exit $$rc

lint: setup ## Lint: ruff, the import contracts (.importlinter), mypy on the core (ARCHITECTURE.md)
	cd $(KK_HOME) && $(VENV)/bin/ruff check kaggle_kit tests benchmarks
	cd $(KK_HOME) && $(VENV)/bin/lint-imports --no-cache
	cd $(KK_HOME) && $(VENV)/bin/mypy

download: ## Download the competition into datasets/
	$(HAVE_KK)
	$(KK) download $(COMPETITION)

train: ## Train locally (RECIPE, FOLDS, EPOCHS, TRAIN_ARGS='--limit 8000 --set ...')
	$(HAVE_KK)
	$(KK) train $(COMPETITION) $(if $(RECIPE),--recipe $(RECIPE)) $(if $(FOLDS),--folds $(FOLDS)) \
	  $(if $(EPOCHS),--epochs $(EPOCHS)) $(TRAIN_ARGS)

push-train: ## Train in a Kaggle kernel (ACCELERATOR=--gpu|--tpu|--cpu) and bring the run home
	$(HAVE_KK)
	$(KK) push-kernel train $(COMPETITION) $(if $(RECIPE),--recipe $(RECIPE)) $(if $(FOLDS),--folds $(FOLDS)) \
	  $(if $(EPOCHS),--epochs $(EPOCHS)) $(TRAIN_ARGS) $(ACCELERATOR) --wait

weights: ## Publish the newest run's (or RUN=...) weights as a Kaggle dataset (a new version each time)
	$(HAVE_KK)
	$(KK) upload-weights $(RUN)

push-inference: ## Run the offline inference kernel on the newest published weights (or WEIGHTS=owner/slug)
	$(HAVE_KK)
	$(KK) push-kernel inference $(COMPETITION) $(if $(WEIGHTS),--weights $(WEIGHTS)) --no-internet --wait

submit: ## Submit the newest valid submission (or KERNEL=owner/slug's) and wait for its score
	$(HAVE_KK)
	$(KK) submit $(COMPETITION) $(if $(KERNEL),--kernel $(KERNEL)) --wait

bench: setup ## Run the fast benchmarks (loading, input pipeline, augmentation, inference, scaling; ~10 min)
	cd $(KK_HOME) && $(PY) -m benchmarks.run --fast

bench-accuracy: setup ## Run the accuracy-per-CPU-minute benchmark (hours; resumable, finished jobs are kept)
	cd $(KK_HOME) && $(PY) -m benchmarks.run --accuracy

clean: ## Remove build outputs (keeps datasets/ and runs/)
	rm -rf kernels/build .pytest_cache
