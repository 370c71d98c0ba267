# loopcap: `make run` to use it, `make test` to check it. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run

.PHONY: run offer-menu-entry test lint demo bench system-packages run-packages clean

# Everything: loopcap, the tray menu's PyGObject, the test and lint tools.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,gtk]'
	touch $(STAMP) $(RUN_STAMP)

# What running needs: loopcap, and PyGObject for the tray menu when it can be built.
$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	@$(BIN)/pip install -q -e '.[gtk]' || echo "loopcap: PyGObject could not be built, so the \
	tray has no menu (a left click still catches a note); 'loopcap doctor' says how to get it" >&2
	touch $(RUN_STAMP)

# The test rig (PulseAudio, Xvfb, a tray host, ...): for make test, demo and bench only.
system-packages:
	@bash .ci/system-packages

# Only what running loopcap on a desktop needs; never a sound server or a display.
run-packages:
	@bash .ci/run-packages

# The main program: the tray icon (menu, hotkeys, loopcap ctl) until Quit or Ctrl+C.
run: run-packages $(RUN_STAMP) offer-menu-entry
	$(BIN)/loopcap tray

# Once per environment, on a Linux terminal: offer loopcap's application menu entry.
offer-menu-entry: $(RUN_STAMP)
	@if [ -t 0 ] && [ "$$(uname)" = Linux ] && [ ! -e $(VENV)/.menu-entry-offered ]; then \
	  touch $(VENV)/.menu-entry-offered; \
	  if ! $(BIN)/loopcap desktop status >/dev/null 2>&1; then \
	    printf 'Add loopcap to your application menu? [y/N] '; read answer; \
	    case "$$answer" in \
	      [yY]*) $(BIN)/loopcap desktop install ;; \
	      *) echo "Later: 'loopcap desktop install'. To start at login: 'loopcap autostart on'." ;; \
	    esac; \
	  fi; \
	fi

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
