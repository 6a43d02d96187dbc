# The two commands: `make run` (start the bot on its defaults) and `make test` (install and run the tests).

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.10 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config.toml
GATEWAY := tests/e2e/gateway

.PHONY: run test install install-test gateway-deps browser check-config migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

gateway-deps:
	@if [ -f $(GATEWAY)/package-lock.json ]; then cd $(GATEWAY) && npm ci --no-audit --no-fund --loglevel=error; fi

# Browser tests drive Debian's chromium (never a downloaded browser); the font draws Chinese in screenshots.
browser:
	@if [ ! -x /usr/bin/chromium ] || ! dpkg -s fonts-wqy-microhei >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-wqy-microhei; \
	fi

check-config: install
	$(BIN)/gridbot check-config --config $(CONFIG)

migrate: install
	$(BIN)/gridbot db upgrade --config $(CONFIG)

run: install
	$(BIN)/gridbot check-config --config $(CONFIG)
	$(BIN)/gridbot db upgrade --config $(CONFIG)
	$(BIN)/gridbot run --config $(CONFIG)

test: install-test gateway-deps browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(GATEWAY)/node_modules .pytest_cache
