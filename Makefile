# loopcap: `make run` to use it, `make test` to check it. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint demo bench system-packages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,gtk]'
	touch $(STAMP)

system-packages:
	@bash .ci/system-packages

# The main program: the tray icon (menu, hotkeys, loopcap ctl) until Quit or Ctrl+C.
run: system-packages $(STAMP)
	$(BIN)/loopcap tray

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: system-packages $(STAMP) lint
	$(BIN)/pytest

# Headless end to end: a virtual speaker plays the sample clip, loopcap records it.
demo: system-packages $(STAMP)
	$(BIN)/python -m tests.demo

bench: system-packages $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
