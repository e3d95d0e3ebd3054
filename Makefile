# wasmcli — `make demo` runs a sample plugin, `make test` runs the tests.
# Both create the virtualenv they need; nothing else has to be installed first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The wasmer engine has wheels only for CPython <= 3.10: `make test` also runs the suite
# on a Python 3.10 where one is found (on PATH, or installed by pyenv).
PYTHON310 ?= $(shell command -v python3.10 >/dev/null 2>&1 && python3.10 -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && command -v python3.10 || ls -d $$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)/versions/3.10*/bin/python3.10 2>/dev/null | tail -n 1)
VENV310 ?= .venv310
STAMP310 := $(VENV310)/.installed

# The demo's own data folder: `make demo` never touches the user's real wasmcli home.
DEMO_HOME := $(CURDIR)/.demo-home
RUNTIME_STAMP := $(VENV)/.installed-runtime

.PHONY: install install-runtime install310 demo test test-default test-py310 lint spec fuzz bench bench-venv plugins clean \
	break-promises mutate

# wasmcli and the test and lint tools (what `make test` and `make lint` need).
install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(RUNTIME_STAMP)

# wasmcli alone (what `make demo` needs).
install-runtime: $(RUNTIME_STAMP)

$(RUNTIME_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME_STAMP)

install310: $(STAMP310)

$(STAMP310): pyproject.toml
	test -x $(VENV310)/bin/python || $(PYTHON310) -m venv $(VENV310)
	$(VENV310)/bin/python -m pip install --quiet --upgrade pip
	$(VENV310)/bin/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP310)

demo: install-runtime
	$(BIN)/wasmcli --home $(DEMO_HOME) run sample_plugins/hello.wasm --input "world" --trace

test: test-default test-py310

test-default: install
	@echo "== tests on $$($(BIN)/python -V), engines: $$($(BIN)/python -c 'from wasmcli.engines import available_engines as a; print(", ".join(a()))')"
	$(BIN)/python -m pytest -q

# The 3.10 run converts spec scripts with the wasm-tools of .venv (it needs Python >= 3.11).
test-py310: install
ifeq ($(strip $(PYTHON310)),)
	@echo "== no Python 3.10 found: the wasmer engine was not tested (install one, e.g. with pyenv)"
else
	$(MAKE) install310
	@echo "== tests on $$($(VENV310)/bin/python -V), engines: $$($(VENV310)/bin/python -c 'from wasmcli.engines import available_engines as a; print(", ".join(a()))')"
	$(VENV310)/bin/python -m pytest -q -p no:cacheprovider
endif

lint: install
	$(BIN)/ruff check wasmcli tests benchmarks
	$(BIN)/ruff format --check wasmcli tests benchmarks
	$(BIN)/mypy

# Every bytecode pass against the whole WebAssembly core spec test suite (see TESTING.md).
SPEC_SUITE ?= ../shared/spec-testsuite

spec: install
	$(BIN)/python -m tests.spec --suite $(SPEC_SUITE)

# Thousands of generated plugins on both engines, compared run by run (tests/wasm/parity.py,
# see TESTING.md): FUZZ_COUNT of them from FUZZ_START (default: a random seed, printed).
# A disagreement prints the one command that shows it again.
FUZZ_COUNT ?= 3000

fuzz:
ifeq ($(strip $(PYTHON310)),)
	@echo "make fuzz needs Python 3.10 (wasmer): none found (install one, e.g. with pyenv)"; exit 1
else
	$(MAKE) install310
	$(VENV310)/bin/python -m tests.wasm.parity --count $(FUZZ_COUNT) $(if $(FUZZ_START),--start $(FUZZ_START)) --verdicts
endif

# Each README promise broken on purpose, one at a time, in a scratch copy: the tests that
# guard it must fail (see TESTING.md).
break-promises: install
	$(if $(strip $(PYTHON310)),$(MAKE) install310)
	$(BIN)/python -m tests.break_promises

# Mutation testing of the promise-carrying modules (mutmut, a dev tool installed here
# only; see TESTING.md). GROUPS="store config" runs some groups; JOBS workers at once.
MUTMUT_VERSION ?= 3.8.1
GROUPS ?=
JOBS ?= 2

mutate: install
	test -x $(BIN)/mutmut || $(BIN)/python -m pip install --quiet 'mutmut==$(MUTMUT_VERSION)'
	$(BIN)/python -m tests.mutate --jobs $(JOBS) $(GROUPS)

# wasmcli's start-up side by side with the floor it stands on (paired, interleaved runs);
# writes the tables into BENCHMARKS.md. Needs nothing outside the venv.
# wasmcli installed as users install it (not editable: setuptools' editable finder costs
# every Python start more than the daemon's whole client), with the extism SDK beside it
# to compare the daemon with (a benchmark's tool only, never a wasmcli dependency).
BENCH_VENV ?= .venv-bench

bench-venv:
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet . extism
	$(BENCH_VENV)/bin/python -m pip install --quiet --no-deps --force-reinstall .

bench: install bench-venv
	$(BIN)/python benchmarks/bench_cli.py --rounds 15 --write BENCHMARKS.md
	$(BIN)/python benchmarks/bench_batch.py --rounds 3 $(if $(wildcard $(VENV310)/bin/wasmcli),--wasmer-bin $(VENV310)/bin) --write BENCHMARKS.md
	$(BIN)/python benchmarks/bench_insight.py --write BENCHMARKS.md
	$(BIN)/python benchmarks/bench_integrations.py --rounds 15 --write BENCHMARKS.md
	$(if $(wildcard $(VENV310)/bin/python),$(VENV310)/bin/python,$(BIN)/python) benchmarks/bench_profile.py --repeat 7
	$(if $(wildcard $(VENV310)/bin/python),$(VENV310),$(VENV))/bin/python benchmarks/bench_call_depth.py --rounds 30 --write BENCHMARKS.md
	$(BIN)/python benchmarks/bench_daemon.py --bin $(BENCH_VENV)/bin --rounds 15 --write BENCHMARKS.md

# Rebuild every sample plugin from source (needs clang, lld, wabt, rustc; see README).
plugins:
	$(MAKE) -C sample_plugins

clean:
	rm -rf $(VENV) $(VENV310) $(BENCH_VENV) $(DEMO_HOME) build *.egg-info
