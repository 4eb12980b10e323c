# The two set-up commands: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check --no-input
PORT   ?= 8000
CHROMIUM := /usr/bin/chromium
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)

.DEFAULT_GOAL := help
.PHONY: help run test lint requirements clean

help:
	@echo "make run    install, migrate, load demo data, start web + worker + beat + sandboxes: http://127.0.0.1:$(PORT)/"
	@echo "make test   install test tools and run the whole suite"
	@echo "make lint   ruff"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps: reinstall only when the pinned requirements change.
$(VENV)/.base: requirements/base.txt | $(BIN)/python
	$(PIP) install -q -r requirements/base.txt
	@touch $@

$(VENV)/.dev: requirements/dev.txt requirements/base.txt | $(BIN)/python
	$(PIP) install -q -r requirements/dev.txt
	@touch $@ $(VENV)/.base

# The browser tests drive Debian's Chromium (Playwright cannot download its own here).
$(CHROMIUM):
	@echo "Installing Debian's chromium for the browser tests..."
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium >/dev/null || \
	  (DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get update -q >/dev/null && \
	   DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium >/dev/null)

# Local demo: DEBUG is on (plain http on 127.0.0.1) unless the shell already sets DEBUG.
run: export DEBUG ?= true
run: export HUB_BASE_URL ?= http://127.0.0.1:$(PORT)
run: $(VENV)/.base
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py setup_periodic_tasks
	$(BIN)/python manage.py sandbox --init-ca
	$(BIN)/python manage.py bootstrap_demo --url http://127.0.0.1:$(PORT)/
	WEB_PORT=$(PORT) PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/honcho start

# pytest exits 5 when it collected nothing; that must fail loudly, never pass as "green".
test: $(VENV)/.dev $(CHROMIUM)
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests — failing." >&2; fi; \
	exit $$rc

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Re-pin after editing requirements/*.in.
requirements: $(VENV)/.dev
	cd requirements && for f in base dev prod; do \
	  ../$(BIN)/pip-compile -q --strip-extras --no-emit-index-url --no-emit-find-links $$f.in -o $$f.txt; done

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
