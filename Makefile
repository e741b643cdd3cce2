# nq-hal developer entry points. `make test` and `make demo` set up everything from nothing.
#
#   .venv       Python 3.10 with every extra (Lava needs 3.10 and numpy < 2)
#   .venv-core  the default python3 (3.11+) without the lava and torch extras: proves the
#               core, the cpu backend and the QUBO stack run where Lava cannot

SHELL := /bin/bash
VENV := .venv
CORE_VENV := .venv-core
PY := $(VENV)/bin/python
CORE_PY := $(CORE_VENV)/bin/python
PYTEST_ARGS ?= -q -rs
STAMP_DEPS := pyproject.toml Makefile

.PHONY: setup test test-full test-core demo lint bench clean

# Find a Python 3.10 that really runs: a pyenv shim named python3.10 exists but fails
# unless 3.10 is selected, so each candidate is executed before it is used.
define find_py310
for c in python3.10 $$HOME/.pyenv/versions/3.10.*/bin/python3.10 /usr/bin/python3.10 \
         /usr/local/bin/python3.10; do \
  if "$$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; then \
    echo "$$c"; exit 0; fi; done; exit 1
endef

setup: $(VENV)/.installed

$(VENV)/.installed: $(STAMP_DEPS)
	@py=$$($(find_py310)) || { \
	  echo "error: no working Python 3.10 found. Lava (lava-nc 0.10.0) supports only Python 3.10."; \
	  echo "Install it, e.g. 'pyenv install 3.10' or 'apt-get install python3.10 python3.10-venv',"; \
	  echo "then run make again. (The core without Lava: 'make test-core' uses python3.)"; exit 1; }; \
	echo "using $$py"; \
	test -x $(PY) || "$$py" -m venv $(VENV); \
	$(PY) -m pip install -q --upgrade pip && \
	$(PY) -m pip install -q -e ".[all,dev]"
	@touch $@

$(CORE_VENV)/.installed: $(STAMP_DEPS)
	test -x $(CORE_PY) || python3 -m venv $(CORE_VENV)
	$(CORE_PY) -m pip install -q --upgrade pip
	$(CORE_PY) -m pip install -q -e ".[quantum,annealing,plot,sweep,dev]"
	@touch $@

# The test command README.md names: the full suite on 3.10, then the Lava-free suite on
# the default python3 without lava/torch.
test: test-full test-core

test-full: $(VENV)/.installed
	$(VENV)/bin/pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 1; fi; exit $$rc

test-core: $(CORE_VENV)/.installed
	$(CORE_VENV)/bin/pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 1; fi; exit $$rc

demo: $(VENV)/.installed
	$(PY) examples/demo.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check hal backends compilers tests bench examples

bench: $(VENV)/.installed
	for s in bench/*.py; do echo "== $$s"; $(PY) $$s || exit 1; done

clean:
	rm -rf $(VENV) $(CORE_VENV) *.egg-info build
