# The two commands a newcomer needs: `make run` and `make test`. Each builds .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

VENDOR := src/thinktank/web/static/vendor/htmx.min.js

.PHONY: run demo test lint format bench clean web-assets

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "Installing ThinkTank and its dependencies (the first install compiles llama-cpp-python: about 5 minutes on 2 cores)..."
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# The web UI's browser libraries come from the npm registry (versions locked in frontend/), not git.
$(VENDOR): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(dir $(VENDOR))
	cp frontend/node_modules/htmx.org/dist/htmx.min.js $(VENDOR)

web-assets: $(VENDOR)

run: $(STAMP) $(VENDOR)
	$(BIN)/thinktank serve

demo: $(STAMP)
	$(BIN)/thinktank discuss --template startup-product-planning --messages 6

test: $(STAMP) $(VENDOR)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

# The bench extra (AutoGen, llama-cpp-python's server) is installed here only, never by run or test.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,bench]"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) $(VENDOR)
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache frontend/node_modules $(dir $(VENDOR))
