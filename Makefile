# The README's two commands: `make run` (install into .venv, start the bot) and `make test`.
# EXTRAS=dev skips the `translate` extra (argostranslate + torch, ~1.5 GB).
PYTHON ?= python3
VENV ?= .venv
EXTRAS ?= translate,dev
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
comma := ,

.PHONY: run test install clean

run: $(STAMP)
	$(VENV)/bin/homeroom run

test: $(STAMP)
	$(VENV)/bin/python -m pytest

install: $(STAMP)

# torch==2.13.0 first: argostranslate -> stanza -> torch, and pip would otherwise fetch a
# multi-GB CUDA build; the pinned CPU wheel is what pip finds first here.
$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@echo "installing Homeroom [$(EXTRAS)] into $(VENV) (log: $(VENV)/install.log)"
	@{ $(VENV)/bin/python -m pip install --upgrade pip && \
	   if echo "$(EXTRAS)" | grep -q translate; then $(VENV)/bin/python -m pip install "torch==2.13.0"; fi && \
	   $(VENV)/bin/python -m pip install -e ".[$(EXTRAS)]"; } > $(VENV)/install.log 2>&1 \
	   || { grep -v "is ignored" $(VENV)/install.log | tail -40; echo "install failed; see $(VENV)/install.log"; exit 1; }
	@touch $@

clean:
	rm -rf $(VENV)
