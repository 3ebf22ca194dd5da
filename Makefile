# RL Copilot: `make run` starts the product, `make test` runs the test suite.
# Both create .venv and install pinned dependencies on first use (reused afterwards).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 7860

# llama.cpp must not use -march=native here (the CPU reports AMX, the VM forbids it), and
# every optional instruction set is enabled only where /proc/cpuinfo lists it (an AVX_VNNI
# build crashes with "Illegal instruction" on CPUs that have AVX512_VNNI but not AVX_VNNI).
CPUFLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
LLAMA_FLAGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_FLAGS += -DGGML_AVX512=$(if $(findstring avx512f,$(CPUFLAGS)),ON,OFF)
LLAMA_FLAGS += -DGGML_AVX512_VNNI=$(if $(findstring avx512_vnni,$(CPUFLAGS)),ON,OFF)
LLAMA_FLAGS += -DGGML_AVX512_VBMI=$(if $(findstring avx512vbmi,$(CPUFLAGS)),ON,OFF)
LLAMA_FLAGS += -DGGML_AVX512_BF16=$(if $(findstring avx512_bf16,$(CPUFLAGS)),ON,OFF)
LLAMA_FLAGS += -DGGML_AVX_VNNI=$(if $(findstring avx_vnni,$(CPUFLAGS)),ON,OFF)
# The wheel is built once per flag set and kept outside the checkout (pip's own cache would
# hand back a wheel built with other flags).
LLAMA_KEY   := $(shell echo "0.3.36 $(LLAMA_FLAGS)" | sha256sum | cut -c1-12)
WHEELS      := $(HOME)/.cache/rl-copilot/wheels/llama-$(LLAMA_KEY)

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: setup run test test-fast demo lock browser clean-venv

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml scripts/setup_browser.sh
	bash scripts/setup_system.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	@ls $(WHEELS)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || { \
	  echo "Compiling llama-cpp-python 0.3.36 (4 to 12 minutes, once per machine)..."; \
	  CMAKE_ARGS="$(LLAMA_FLAGS)" $(PY) -m pip wheel --quiet --no-deps --no-cache-dir \
	    -w $(WHEELS) llama-cpp-python==0.3.36; }
	$(PY) -m pip install --quiet --find-links $(WHEELS) -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	bash scripts/setup_browser.sh
	@touch $(STAMP)

run: setup
	$(PY) app.py --host $(HOST) --port $(PORT)

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not browser"

demo: setup
	$(PY) -m rlcore train ppo CartPole-v1 --steps 50000

lock:
	$(PY) -m pip freeze --exclude-editable | sed 's|^llama_cpp_python @ .*|llama-cpp-python==0.3.36|' > requirements.lock

clean-venv:
	rm -rf $(VENV)
