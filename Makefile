# The README's two commands: `make run` (install into .venv, start the bot) and `make test`.
# Both install exactly what CI tested: the pinned, hashed lock files (requirements*.lock).
# EXTRAS=dev skips the `translate` extra (argostranslate + torch, ~1.5 GB): requirements-core.lock.
# `make lock` updates the locks after a change to pyproject.toml's dependencies (uses the network).
PYTHON ?= python3
VENV ?= .venv
EXTRAS ?= translate,dev
PIP_VERSION := 26.3
PIP_TOOLS_VERSION := 7.7.0
LOCK := $(if $(findstring translate,$(EXTRAS)),requirements.lock,requirements-core.lock)
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
comma := ,

.PHONY: run test install lock clean

run: $(STAMP)
	$(VENV)/bin/homeroom run

test: $(STAMP)
	$(VENV)/bin/python -m pytest

install: $(STAMP)

# --require-hashes: every package, its exact version and the hash of its file come from the lock
# (torch is the CPU build, 2.13.0+cpu). --no-deps -e .: the project itself, nothing re-resolved.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@echo "installing Homeroom [$(EXTRAS)] from $(LOCK) into $(VENV) (log: $(VENV)/install.log)"
	@{ $(VENV)/bin/python -m pip install "pip==$(PIP_VERSION)" && \
	   $(VENV)/bin/python -m pip install --require-hashes -r $(LOCK) && \
	   $(VENV)/bin/python -m pip install --no-deps --no-build-isolation -e . ; } > $(VENV)/install.log 2>&1 \
	   || { grep -v "is ignored" $(VENV)/install.log | tail -40; echo "install failed; see $(VENV)/install.log"; exit 1; }
	@rm -f $(VENV)/.installed-*
	@touch $@

# Re-resolve both locks from pyproject.toml (keeping existing pins where they still fit; add
# UPGRADE=1 to take the newest allowed releases), then stamp them with pyproject's fingerprint,
# which tests/test_lock.py checks.
LOCK_FLAGS = --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	--no-emit-find-links $(if $(UPGRADE),--upgrade,)
lock:
	@test -x .venv-lock/bin/pip-compile || { $(PYTHON) -m venv .venv-lock && \
	  .venv-lock/bin/python -m pip install -q "pip==$(PIP_VERSION)" "pip-tools==$(PIP_TOOLS_VERSION)"; }
	.venv-lock/bin/pip-compile $(LOCK_FLAGS) --extra translate --extra dev -o requirements.lock pyproject.toml
	.venv-lock/bin/pip-compile $(LOCK_FLAGS) --extra dev -o requirements-core.lock pyproject.toml
	$(PYTHON) -m bot.ops.lockfile stamp requirements.lock requirements-core.lock

clean:
	rm -rf $(VENV)
