# The two commands a newcomer needs: `make run` and `make test`. Each builds .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

VENDOR := src/thinktank/web/static/vendor/htmx.min.js

.PHONY: run demo test lint format bench clean web-assets

# llama-cpp-python compiles llama.cpp when it is installed. By default it builds for the CPU it
# compiles on, and on these VMs that CPU advertises AMX, which the guest cannot use: the first
# generation crashed with SIGSEGV. The build below targets AVX2 (every x86-64 machine of this kind
# has it) and is made once per machine and flags, outside pip's cache (which would hand back a
# wheel built with other flags for the same version).
LLAMA_VERSION := $(shell sed -n 's/^llama_cpp_python==//p' constraints.txt)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_KEY := $(shell printf '%s %s %s' '$(LLAMA_VERSION)' '$(LLAMA_CMAKE_ARGS)' "$$(uname -m)" | md5sum | cut -c1-12)
LLAMA_WHEELS := $(HOME)/.cache/thinktank/llama-wheels/$(LLAMA_KEY)
LLAMA_STAMP := $(VENV)/.llama-$(LLAMA_KEY)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(LLAMA_WHEELS)/.built: | $(BIN)/python
	@echo "Compiling llama-cpp-python $(LLAMA_VERSION) for this kind of machine (once: about 5 minutes on 2 cores)..."
	mkdir -p $(LLAMA_WHEELS)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip wheel --quiet --no-deps --no-cache-dir \
		-w $(LLAMA_WHEELS) "llama-cpp-python==$(LLAMA_VERSION)"
	touch $@

$(LLAMA_STAMP): $(LLAMA_WHEELS)/.built | $(BIN)/python
	$(BIN)/python -m pip install --quiet --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	touch $@

$(STAMP): pyproject.toml constraints.txt $(LLAMA_STAMP)
	@echo "Installing ThinkTank and its dependencies..."
	$(BIN)/python -m pip install --quiet -c constraints.txt --find-links $(LLAMA_WHEELS) -e ".[dev]"
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
	$(BIN)/python -m pip install --quiet -c constraints.txt --find-links $(LLAMA_WHEELS) -e ".[dev,bench]"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) $(VENDOR)
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache frontend/node_modules $(dir $(VENDOR))
