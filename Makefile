# wasmcli — `make demo` runs a sample plugin, `make test` runs the tests.
# Both create the virtualenv they need; nothing else has to be installed first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint plugins clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/wasmcli run sample_plugins/hello.wasm --input "world" --trace

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check wasmcli tests
	$(BIN)/mypy

# Rebuild every sample plugin from source (needs clang, lld, wabt, rustc; see README).
plugins:
	$(MAKE) -C sample_plugins

clean:
	rm -rf $(VENV) build *.egg-info
