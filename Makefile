# `make demo` and `make test` each bring .venv up to date first: two commands on a fresh clone.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# CPU torch for this machine and CI; a GPU user sets TORCH_CONSTRAINTS= (see README).
TORCH_CONSTRAINTS ?= constraints/cpu.txt

# The dependency floors of pyproject.toml, installed with pip's default editable mode.
LOWEST ?= .venv-lowest
# The quick tests of everything that calls a dependency's API (Hydra, OmegaConf, Optuna,
# SQLAlchemy, wandb, torch, numpy, scipy, ruamel, rich, matplotlib, the launchers), less those
# that only test our own code at length (the optimizer races, hyperband, seeded repeats, the
# fuzzer, the trainer's learning): those stay in `make test`.
LOWEST_TESTS ?= tests/test_distributions.py tests/test_methods.py tests/test_protein.py \
	tests/test_searcher.py tests/test_spec_cli.py tests/test_migrate.py tests/test_carbs.py \
	tests/test_summary.py tests/test_wandb.py tests/test_sweeper.py tests/test_workers.py \
	tests/test_documented_paths.py
# torch is pinned (TORCH_CONSTRAINTS) in both environments, so the trainer's sweeps add nothing here.
LOWEST_K ?= not (rosenbrock4 or hyperband or seeded_sweeps or repeated_runs or under_every_profile \
	or guide_sweep or sigkill or wrapper_form)

.PHONY: install demo test test-quick test-lowest lowest-env lint clean

install: $(STAMP)

# uv resolves, unpacks and byte-compiles in parallel: .venv took 49 s here against pip's
# 122 s. uv reads no pip.conf, so the local wheel folders a machine names in PIP_FIND_LINKS
# (this one keeps its CPU torch there) are passed on. Byte-compiling matters: with
# PYTHONDONTWRITEBYTECODE=1 (set here) every process would compile torch from source.
UV_FLAGS = -q --compile-bytecode $(foreach dir,$(PIP_FIND_LINKS),--find-links $(dir))
define uv_install  # $(1): the environment, $(2): what to install into it
	test -x $(1)/bin/python || python3 -m venv $(1)
	test -x $(1)/bin/uv || $(1)/bin/python -m pip install -q 'uv>=0.4'
	$(1)/bin/uv pip install --python $(1)/bin/python $(UV_FLAGS) -c $(TORCH_CONSTRAINTS) $(2)
endef

$(STAMP): pyproject.toml $(TORCH_CONSTRAINTS)
	$(call uv_install,$(VENV),-e '.[dev]')
	touch $(STAMP)

# Rerunning resumes the same study (train_dir/sweep/demo): `make clean` starts over.
demo: $(STAMP)
	$(PY) train.py -m +sweep=protein_working run=demo hydra.sweeper.summary=false
	$(VENV)/bin/nested-sweep summary demo --plots

# ruff, then mypy --strict over nested_sweeper/ and the plugin (files in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Tests run on XDIST workers (pytest-xdist; one per core here): on 2 cores, 2 workers took
# the suite from ~20 to ~15 minutes (3 were slower); the SLURM and Ray tests share one
# worker (xdist_group "cluster"). XDIST=0 runs them in this process.
XDIST ?= 2
PYTEST := $(PY) -m pytest -q -n $(XDIST) --dist loadgroup

# Everything, the 1,000-run sweep and the cluster tests included; `make test-quick` skips
# the `slow` tests.
test: lint
	$(PYTEST) --durations=30; rc=$$?; if [ $$rc -eq 5 ]; then rc=0; fi; exit $$rc

test-quick: lint
	$(PYTEST) -m "not slow"; rc=$$?; if [ $$rc -eq 5 ]; then rc=0; fi; exit $$rc

# Every direct dependency at its floor (devops/lowest_deps.py): a foreign Hydra app finds the
# plugin from another directory, then the quick tests pass on those versions.
test-lowest: $(LOWEST)/.installed
	bash devops/foreign_app.sh $(CURDIR)/$(LOWEST)/bin/python
	PYTHON=$(CURDIR)/$(LOWEST)/bin/python $(LOWEST)/bin/python -m pytest -q -m "not slow" \
		-k "$(LOWEST_K)" -n $(XDIST) --dist loadgroup -p no:cacheprovider $(LOWEST_TESTS); \
		rc=$$?; if [ $$rc -eq 5 ]; then rc=0; fi; exit $$rc

lowest-env: $(LOWEST)/.installed

# pip here, not uv: this environment is the one that proves pip's default editable mode.
$(LOWEST)/.installed: pyproject.toml $(TORCH_CONSTRAINTS)
	rm -rf $(LOWEST) && python3 -m venv $(LOWEST)
	python3 devops/lowest_deps.py dev > $(LOWEST)/floors.txt
	$(LOWEST)/bin/python -m pip install -q -c $(LOWEST)/floors.txt -c $(TORCH_CONSTRAINTS) -e '.[dev]'
	touch $@

clean:
	rm -rf train_dir outputs multirun

# Hydra's Ray launcher in an environment of its own: hydra-ray-launcher 1.2.2 pins
# cloudpickle<3 (it would downgrade the main .venv's 3.x to 2.2.1) and brings Ray and some 40
# packages the main .venv lacks. tests/test_ray.py runs its sweeps with $(RAY_VENV)/bin/python.
RAY_VENV ?= .venv-ray
RAY_STAMP := $(RAY_VENV)/.installed
.PHONY: ray-env

ray-env: $(RAY_STAMP)

$(RAY_STAMP): pyproject.toml $(TORCH_CONSTRAINTS)
	$(call uv_install,$(RAY_VENV),-e . 'hydra-ray-launcher==1.2.2')
	touch $(RAY_STAMP)

# The peers of bench/optimizers.py. HEBO 0.3.6 needs numpy<1.25 and scipy<1.13 (its GPy has
# wheels there and fails to build from source above them), which W&B's sweeps and Ax do not
# share: it gets an environment of its own, which bench/optimizers.py calls for the `hebo` runs.
BENCH_VENV ?= .venv-bench
HEBO_VENV ?= .venv-hebo
.PHONY: bench-env

bench-env: $(BENCH_VENV)/.installed $(HEBO_VENV)/.installed

$(BENCH_VENV)/.installed: pyproject.toml $(TORCH_CONSTRAINTS)
	$(call uv_install,$(BENCH_VENV),-e '.[bench]')
	touch $@

$(HEBO_VENV)/.installed: pyproject.toml $(TORCH_CONSTRAINTS)
	$(call uv_install,$(HEBO_VENV),-e . 'hebo==0.3.6' 'numpy<1.25' 'scipy<1.13')
	touch $@
