# Two commands do all the set-up on a fresh machine (Python 3.11+ only):
#   make run    create .venv if missing, install, run the pipeline locally on the bundled sample
#   make test   create .venv if missing, install (with test tools), run the whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PINS   := pyproject.toml src/shared/requirements.txt src/shared/requirements-x86_64.txt src/transform/requirements.txt src/plan/requirements.txt \
          src/validate/requirements.txt src/load/requirements.txt

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
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# make bench BENCH_ARGS="--with-10"   (or --scales 0.1, --repeat 3); results in bench/results,
# bench/compare.py compares the last two.
bench: $(VENV)/.dev-installed
	@if ! command -v npm >/dev/null; then echo "npm not found: bench_asl_map.py runs without its yardstick"; \
	elif ! $(MAKE) --no-print-directory $(YARDSTICK); then echo "npm ci failed: bench_asl_map.py runs without its yardstick"; fi
	$(BIN)/python bench/bench_asl_map.py
	$(BIN)/python bench/bench_pipeline.py $(BENCH_ARGS)

# aws-local-stepfunctions, the yardstick bench_asl_map.py runs beside the ASL engine (pinned
# by its package-lock.json; npm ci writes node_modules/.package-lock.json).
YARDSTICK := bench/asl_yardstick/node_modules/.package-lock.json
$(YARDSTICK): bench/asl_yardstick/package.json bench/asl_yardstick/package-lock.json
	cd bench/asl_yardstick && npm ci --no-audit --no-fund --loglevel=error

.venv-tools/bin/sam: requirements-tools.txt
	test -x .venv-tools/bin/python || $(PYTHON) -m venv .venv-tools
	.venv-tools/bin/pip install --quiet -r requirements-tools.txt
	touch $@

# checkov pins another boto3 than SAM CLI: its own venv (requirements-checkov.txt).
.venv-checkov/bin/checkov: requirements-checkov.txt
	test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

lint: .venv-tools/bin/sam .venv-checkov/bin/checkov
	.venv-tools/bin/cfn-lint template.yaml
	.venv-tools/bin/sam validate --lint --region us-east-1
	.venv-checkov/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download
	.venv-tools/bin/bandit -r src etl_local glue --severity-level medium --quiet

clean:
	rm -rf .etl .aws-sam
