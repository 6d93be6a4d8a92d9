# Two commands do all the set-up on a fresh machine (Python 3.11+ only):
#   make run    create .venv if missing, install, run the pipeline locally on the bundled sample
#   make test   create .venv if missing, install (with test tools), run the whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PINS   := pyproject.toml src/shared/requirements.txt src/transform/requirements.txt src/load/requirements.txt

.PHONY: run test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.local-installed: $(BIN)/python $(PINS)
	$(BIN)/pip install --quiet -e '.[local]'
	touch $@

$(VENV)/.dev-installed: $(BIN)/python $(PINS)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.local-installed

run: $(VENV)/.local-installed
	$(BIN)/etl run --input events/execution-happy-path.json

test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/bench_asl_map.py

lint: $(VENV)/.dev-installed
	$(BIN)/cfn-lint template.yaml

clean:
	rm -rf .etl .aws-sam
