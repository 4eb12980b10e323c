# The two set-up commands: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
CHROMIUM := /usr/bin/chromium
JAVA     := /usr/bin/java
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)
# uv installs the pinned requirements in seconds where pip takes most of a minute. It is a
# pinned wheel from PyPI, put into the venv by the system's pip (or the venv's own); where it
# cannot be had, pip installs the same pins.
UV_VERSION := 0.13.9

.DEFAULT_GOAL := help
.PHONY: help run status test lint requirements clean

help:
	@echo "make run     install, migrate, load demo data, start web + worker + beat + sandboxes: http://127.0.0.1:$(PORT)/"
	@echo "make test    install test tools and run the whole suite"
	@echo "make status  the processes of a running 'make run' (supervisorctl)"
	@echo "make lint    ruff and the import contracts"

$(BIN)/python:
	$(PYTHON) -m venv --without-pip $(VENV)
	@$(PYTHON) -m pip --python $(BIN)/python install -q --disable-pip-version-check uv==$(UV_VERSION) 2>/dev/null \
	  || ($(BIN)/python -m ensurepip -q >/dev/null 2>&1 && $(BIN)/python -m pip install -q uv==$(UV_VERSION) 2>/dev/null) \
	  || echo "make: uv could not be installed; pip installs the requirements instead (slower)"

# install FILE: with uv when the venv has it, else with the venv's pip (made on demand). Both
# compile the bytecode at install (pip does by default): otherwise the four processes of
# `make run` each compile the same 1,700 modules on first import, at once, on two cores.
define install
	@if [ -x $(BIN)/uv ]; then $(BIN)/uv pip install --python $(BIN)/python -q --compile-bytecode -r $(1); \
	else $(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip -q; \
	  $(BIN)/python -m pip install --disable-pip-version-check --no-input -q -r $(1); fi
endef

# Stamps: reinstall only when the pinned requirements change.
$(VENV)/.base: requirements/base.txt | $(BIN)/python
	$(call install,requirements/base.txt)
	@touch $@

# The emulators' own dependencies (starlette, uvicorn, ...): `make run` serves the sandboxes;
# a production host installs base (and prod) only.
$(VENV)/.sandbox: requirements/sandbox.txt $(VENV)/.base | $(BIN)/python
	$(call install,requirements/sandbox.txt)
	@touch $@

$(VENV)/.dev: requirements/dev.txt requirements/base.txt requirements/sandbox.txt | $(BIN)/python
	$(call install,requirements/dev.txt)
	@touch $@ $(VENV)/.base $(VENV)/.sandbox

# The browser tests drive Debian's Chromium (Playwright cannot download its own here).
$(CHROMIUM):
	@echo "Installing Debian's chromium for the browser tests..."
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium >/dev/null || \
	  (DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get update -q >/dev/null && \
	   DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium >/dev/null)

# The MS Project file source (mpxj, through JPype) runs in a JVM: the worker reads the files, the
# tests read the fixtures. Debian's headless runtime, installed the way Chromium is.
$(JAVA):
	@echo "Installing Debian's default-jre-headless for the MS Project file source (mpxj)..."
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q default-jre-headless >/dev/null || \
	  (DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get update -q >/dev/null && \
	   DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q default-jre-headless >/dev/null)

# Local demo: DEBUG is on (plain http on 127.0.0.1) unless the shell already sets DEBUG.
# run_embedded migrates, writes the schedule, loads the demo data, prints the login and
# becomes supervisord (web, worker, beat, sandboxes; a process that dies is restarted).
run: export DEBUG ?= true
run: export HUB_BASE_URL ?= http://127.0.0.1:$(PORT)
run: $(VENV)/.base $(VENV)/.sandbox $(JAVA)
	exec $(BIN)/python manage.py run_embedded --port $(PORT)

status: $(VENV)/.base
	@$(BIN)/supervisorctl -c "$${VAR_DIR:-var}/supervisord.conf" status

# pytest exits 5 when it collected nothing; that must fail loudly, never pass as "green".
# Tests run in three processes (pytest-xdist; PYTEST_WORKERS=0 runs them in this one): one more
# than the two cores CI has, since some tests wait on a stack or a browser. Four were faster
# while those waits were longer; measured now on PostgreSQL + Redis: the whole suite 313 s
# with three, 325 s with four (and 40 CPU-s less), the suite without the browser 221 / 226 s.
# Bytecode is written even where the environment says PYTHONDONTWRITEBYTECODE (containers
# often do): the suite starts some forty Python processes (workers, commands, stacks), and
# without .pyc files each compiled the hub's modules and pytest its rewritten test modules
# again, about 5 s of CPU a process. The files go to the git-ignored __pycache__ folders.
PYTEST_WORKERS ?= 3
test: $(VENV)/.dev $(CHROMIUM) $(JAVA)
	@PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests — failing." >&2; fi; \
	exit $$rc

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Re-pin after editing requirements/*.in (uv's resolver, exact pins, as pip-tools wrote them).
requirements: | $(BIN)/python
	cd requirements && for f in base sandbox dev prod; do \
	  ../$(BIN)/uv pip compile -q --python ../$(BIN)/python $$f.in -o $$f.txt; done

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
