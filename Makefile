# One place pins Vault: tools/vault/go.mod. Everything built outside the work tree lives in
# $(CACHE_DIR), keyed by version, so a fresh clone on the same machine reuses it.
# Other Vault versions the plugin is tested against (make test-vault-versions) are pinned beside
# it, one go.<version>.mod (with its go.<version>.sum, go's name for -modfile's checksums) each:
# VAULT_MODFILE=go.1.19.5.mod makes every target below use that one.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NAME          := vault-plugin-secrets-tencentcloud
PYTHON        ?= python3.11
VENV          := .venv
VPY           := $(VENV)/bin/python
CACHE_DIR     ?= $(HOME)/.cache/$(NAME)
VAULT_MODFILE ?= go.mod
vault_version  = $(shell sed -n 's/^require github.com\/hashicorp\/vault \(v[0-9.]*\)$$/\1/p' tools/vault/$(1))
VAULT_VERSION := $(call vault_version,$(VAULT_MODFILE))
VAULT_BIN     := $(CACHE_DIR)/vault-$(VAULT_VERSION)
PLUGIN_BIN    := bin/$(NAME)
# The zipapp runs on the base interpreter with -sSE: nothing from the user's site, the
# interpreter's own site-packages (and their .pth files) or PYTHON* variables leaks into the
# process Vault pins by sha256.
BASE_PYTHON   = $(shell $(PYTHON) -c 'import sys,os;print(os.path.realpath(sys.executable))')
# The interpreter the zipapp names on its first line (make dev PLUGIN_PYTHON=/usr/bin/python3.11
# for Vault hosts that have it there): any CPython 3.11, as the wheels installed are for 3.11.
PLUGIN_PYTHON ?= $(BASE_PYTHON)
PYTEST_ARGS   ?=

.PHONY: help bootstrap venv vault print-vault proto dev release print-release test-release lint test test-unit test-model-long test-integration test-cluster soak test-acc demo emulator bench clean

help:
	@echo "make bootstrap   Python environment + Vault $(VAULT_VERSION) built from the Go module proxy"
	@echo "make demo        a credential's whole life on the embedded emulator, then Vault stays up"
	@echo "make test        lint, build the plugin, run every test suite"
	@echo "make test-cluster  only the 3-node Raft cluster tests (part of make test)"
	@echo "make test-vault-versions  tests/integration against the other Vaults in tools/vault/go.*.mod"
	@echo "make soak        32 clients for 60 s on a 3-node cluster with one failover (not in make test)"
	@echo "make test-acc    the lifecycle on real Tencent Cloud (TENCENTCLOUD_SECRET_ID, _SECRET_KEY, _ROLE_ARN)"
	@echo "make dev         build $(PLUGIN_BIN), the one file Vault runs (needs Python 3.11 on the host)"
	@echo "make release     build $(RELEASE_FILE): the same, carrying its own Python, for any Linux host"
	@echo "make emulator    run the CAM/STS emulator in the foreground"
	@echo "make bench       against a Go plugin: request cost, creds, revocation storm, start, memory, creds over TLS"

bootstrap: venv vault

venv: $(VENV)/.stamp
# Two distributions, editable, resolved together: the plugin with its dev tools, and the emulator
# (emulator/setup.cfg) that the tests, the demo and the benchmark run.
$(VENV)/.stamp: setup.cfg pyproject.toml emulator/setup.cfg emulator/pyproject.toml
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip setuptools wheel
	$(VPY) -m pip install -q -e '.[dev]' -e ./emulator
	touch $@

vault: $(VAULT_BIN)
# Keyed by version alone: a fresh clone's files are all newer than the cached binary.
$(VAULT_BIN):
	@test -n "$(VAULT_VERSION)" || { echo "no Vault version in tools/vault/$(VAULT_MODFILE)"; exit 1; }
	mkdir -p $(CACHE_DIR)
	cd tools/vault && CGO_ENABLED=0 go build -trimpath -tags minimal -modfile=$(VAULT_MODFILE) \
	    -o $(VAULT_BIN).tmp .
	mv $(VAULT_BIN).tmp $(VAULT_BIN)
	$(VAULT_BIN) version

print-vault:
	@echo $(VAULT_BIN)

proto: venv
	$(VPY) tools/genproto.py

# tools/zipapp.py runs on PLUGIN_PYTHON because the bytecode it ships must be that interpreter's.
# Left out of the payload: what the plugin never runs (its console script) and the two files
# that name the checkout's path (the script's shebang, direct_url.json), so that the sha256
# Vault pins is the same wherever the same sources are built.
ZIPAPP_EXCLUDE := 'bin/*' '*.dist-info/direct_url.json' '*.dist-info/RECORD'
dev: venv
	mkdir -p bin
	# All of build/: setuptools leaves modules deleted from the sources in build/lib.
	rm -rf build
	$(VPY) -m pip install -q --target build/zipapp .
	@$(PLUGIN_PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
	    { echo "PLUGIN_PYTHON=$(PLUGIN_PYTHON) is not CPython 3.11"; exit 1; }
	$(PLUGIN_PYTHON) tools/zipapp.py --site-packages build/zipapp --interpreter '$(PLUGIN_PYTHON) -sSE' \
	    --entry-point tencentcloud_secrets.main:main $(addprefix --exclude ,$(ZIPAPP_EXCLUDE)) \
	    -o $(PLUGIN_BIN).tmp
	mv $(PLUGIN_BIN).tmp $(PLUGIN_BIN)
	@sha256sum $(PLUGIN_BIN)

# lint-imports checks the layers' contracts written in setup.cfg ([importlinter]).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy plugin shim emulator tools tests
	$(VENV)/bin/lint-imports --no-cache --no-logo

test: lint dev vault release
	$(VPY) -m pytest $(PYTEST_ARGS) tests --ignore=tests/acceptance

test-unit: venv
	$(VPY) -m pytest $(PYTEST_ARGS) tests --ignore=tests/acceptance --ignore=tests/integration

# The engine's model-based test (a bounded run of it is part of `make test`) searched much
# longer: MODEL_EXAMPLES sequences of up to MODEL_STEPS steps each; -s prints what ran.
test-model-long: venv
	MODEL_EXAMPLES=$${MODEL_EXAMPLES:-2000} MODEL_STEPS=$${MODEL_STEPS:-50} \
	    $(VPY) -m pytest -q -s $(PYTEST_ARGS) tests/unit/engine/test_engine_model.py

test-integration: dev
	$(VPY) -m pytest $(PYTEST_ARGS) tests/integration

# Part of `make test` (tests/integration); this runs only them.
test-cluster: dev
	$(VPY) -m pytest $(PYTEST_ARGS) tests/integration/test_cluster.py

# tests/integration against every Vault pinned beside the default (tools/vault/go.*.mod), each
# built once into $(CACHE_DIR) like the default; not part of `make test` (a build is minutes).
# A failure against one version does not stop the others; the target fails if any did.
# The plugin builds are make test's: tests/integration/test_release.py runs the release file.
VAULT_OTHERS := $(foreach m,$(notdir $(wildcard tools/vault/go.*.mod)),$(m)=$(CACHE_DIR)/vault-$(call vault_version,$(m)))
.PHONY: test-vault-versions
test-vault-versions: dev release
	$(foreach m,$(VAULT_OTHERS),$(MAKE) --no-print-directory vault VAULT_MODFILE=$(firstword $(subst =, ,$(m))) &&) true
	@failed=; for other in $(VAULT_OTHERS); do \
	    modfile=$${other%%=*}; bin=$${other#*=}; \
	    echo "== tests/integration against $$($$bin version) ($$bin, tools/vault/$$modfile)"; \
	    VAULT_BIN=$$bin $(VPY) -m pytest $(PYTEST_ARGS) tests/integration || failed="$$failed $$modfile"; \
	done; \
	if [ -n "$$failed" ]; then echo "== tests/integration failed against:$$failed"; exit 1; fi

# Bounded (60 s of load, then a drain of at most 3 min); writes build/soak/soak.{json,md}.
soak: dev
	$(VPY) tools/cluster.py soak --out build/soak

# Vault and the plugin are built only when the credentials are there: without them the suite
# skips, and a fresh clone should not spend minutes building Vault to be told so.
test-acc: venv $(if $(and $(TENCENTCLOUD_SECRET_ID),$(TENCENTCLOUD_SECRET_KEY),$(TENCENTCLOUD_ROLE_ARN)),vault dev)
	$(VPY) -m pytest -ra $(PYTEST_ARGS) tests/acceptance

# DEMO_ARGS=--once: the walk-through alone, exiting by itself (0 only if every step worked).
DEMO_ARGS     ?=
demo: bootstrap dev
	$(VPY) tools/demo.py --vault $(VAULT_BIN) --plugin $(PLUGIN_BIN) $(DEMO_ARGS)

emulator: venv
	$(VENV)/bin/tencentcloud-emulator

# The Go baseline: tools/bench/goplugin (one path, one storage get), built with Vault's own
# module graph (-modfile=tools/vault/$(VAULT_MODFILE) and its .sum), so it needs no download
# beyond what `make vault` fetched and uses the very sdk the Vault server was built with.
GO_BASELINE := $(CACHE_DIR)/go-baseline-$(VAULT_VERSION)-$(shell cat tools/bench/goplugin/main.go | sha256sum | cut -c1-12)
$(GO_BASELINE): tools/bench/goplugin/main.go tools/vault/$(VAULT_MODFILE)
	mkdir -p $(CACHE_DIR)
	cd tools/bench/goplugin && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath \
	    -modfile=../../vault/$(VAULT_MODFILE) -o $@.tmp .
	mv $@.tmp $@

# hey drives the request scenario: a compiled client leaves more of the two cores to Vault.
HEY_VERSION   := v0.1.4
HEY           := $(CACHE_DIR)/hey-$(HEY_VERSION)
$(HEY):
	mkdir -p $(CACHE_DIR)/hey-build
	GOBIN=$(CACHE_DIR)/hey-build go install github.com/rakyll/hey@$(HEY_VERSION)
	mv $(CACHE_DIR)/hey-build/hey $@

# The cloud's stand-in for scenario s: tools/bench/cloudstub, standard library only, so it builds
# offline; keyed by its sources like the Go baseline.
CLOUDSTUB     := $(CACHE_DIR)/cloudstub-$(shell cat tools/bench/cloudstub/go.mod tools/bench/cloudstub/main.go | sha256sum | cut -c1-12)
$(CLOUDSTUB): tools/bench/cloudstub/main.go tools/bench/cloudstub/go.mod
	mkdir -p $(CACHE_DIR)
	cd tools/bench/cloudstub && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -o $@.tmp .
	mv $@.tmp $@

# BENCH_ARGS: --quick (a small run of everything), --only abcds, --json-out FILE,
# --baseline-plugin PATH --baseline-role-payload JSON (see tools/bench.py --help).
BENCH_ARGS    ?=
bench: bootstrap dev $(GO_BASELINE) $(HEY) $(CLOUDSTUB)
	$(VPY) tools/bench.py --vault $(VAULT_BIN) --plugin $(PLUGIN_BIN) --go-plugin $(GO_BASELINE) \
	    --hey $(HEY) --cloud-stub $(CLOUDSTUB) $(BENCH_ARGS)

# The release file (docs/install.md): one linux-amd64 executable carrying its own Python, for a
# Vault host with none. tools/release.py says what is in it; its runtime comes from the Go
# module tools/release/go.mod pins, unpacked once into $(CACHE_DIR). The dependencies are the
# manylinux2014 wheels (glibc 2.17), whatever this machine's C library is; the launcher is
# compiled without build paths, so the same sources give the same file (tests/integration/test_release.py).
RUNTIME_MODULE  := github.com/kluctl/go-embed-python
RUNTIME_VERSION := $(shell sed -n 's/^require github.com\/kluctl\/go-embed-python v0.0.0-\(.*\)$$/\1/p' tools/release/go.mod)
RUNTIME         := $(CACHE_DIR)/runtime-$(RUNTIME_VERSION)
RELEASE_BUILD   := build/release
RELEASE_FILE    := dist/$(NAME)
PYTHON_INCLUDE   = $(shell $(BASE_PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
RELEASE_EXCLUDE := $(ZIPAPP_EXCLUDE) 'certifi/tests/*'
LAUNCHER_FLAGS  := -O2 -Wall -Wextra -Werror -fPIE -pie -nostartfiles -ffile-prefix-map=$(CURDIR)=. \
                   -Wl,--build-id=none -Wl,--no-as-needed -s

print-release:
	@echo $(RELEASE_FILE)

$(RUNTIME)/bin/python3.11: tools/release/go.mod tools/release/go.sum
	mkdir -p $(CACHE_DIR)
	cd tools/release && go mod download -json $(RUNTIME_MODULE) > $(RUNTIME).json.tmp
	$(BASE_PYTHON) tools/release.py runtime -o $(RUNTIME) \
	    --module-dir "$$($(BASE_PYTHON) -c 'import json,sys; print(json.load(open(sys.argv[1]))["Dir"])' $(RUNTIME).json.tmp)"
	rm -f $(RUNTIME).json.tmp
	touch $@

release: venv $(RUNTIME)/bin/python3.11
	rm -rf build $(RELEASE_BUILD) $(RELEASE_FILE)
	mkdir -p $(RELEASE_BUILD) $(dir $(RELEASE_FILE))
	$(VPY) -m pip wheel -q --no-deps -w $(RELEASE_BUILD)/wheel .
	$(VPY) -m pip install -q --target $(RELEASE_BUILD)/site --only-binary=:all: \
	    --platform manylinux2014_x86_64 --implementation cp --python-version 3.11 $(RELEASE_BUILD)/wheel/*.whl
	gcc $(LAUNCHER_FLAGS) -I$(PYTHON_INCLUDE) -o $(RELEASE_BUILD)/launcher tools/release/launcher.c -l:libdl.so.2
	$(RUNTIME)/bin/python3.11 -I tools/release.py pack --runtime $(RUNTIME) \
	    --launcher $(RELEASE_BUILD)/launcher --site-packages $(RELEASE_BUILD)/site \
	    --entry-point tencentcloud_secrets.main:main $(addprefix --exclude ,$(RELEASE_EXCLUDE)) \
	    -o $(RELEASE_FILE)
	cd $(dir $(RELEASE_FILE)) && sha256sum $(notdir $(RELEASE_FILE)) > SHA256SUMS && cat SHA256SUMS

# tests/integration with the release file in place of the zipapp (tests/integration/test_release.py,
# part of `make test`, runs it on a bare root; this runs everything else through it too).
test-release: release vault
	TENCENTCLOUD_PLUGIN_BIN=$(CURDIR)/$(RELEASE_FILE) $(VPY) -m pytest $(PYTEST_ARGS) tests/integration

clean:
	rm -rf bin build dist $(VENV) .mypy_cache .ruff_cache .pytest_cache
