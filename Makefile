# erlang.otp development targets. `make test` does all set-up (as root on Debian) and runs every
# gate; see docs/development.md. `make help` lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory
.ONESHELL:
.SUFFIXES:

export DEBIAN_FRONTEND := noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK := 1

ROOT := $(CURDIR)
# Main environment: ansible-core 2.21 on Python 3.12+ (or 2.19 on Python 3.11 when no 3.12+ exists).
VENV := $(ROOT)/.venv
# Oldest supported core: ansible-core 2.17 on Python 3.11, used for a second sanity leg.
VENV_OLDEST := $(ROOT)/.venv-2.17
# The pure core may run on nodes with Python 3.9: its unit tests run there too (when 3.9 exists).
VENV_PY39 := $(ROOT)/.venv-py39
BIN := $(VENV)/bin
BUILD := $(ROOT)/.build
DIST := $(BUILD)/dist
# ansible-test needs the collection physically at .../ansible_collections/erlang/otp (no symlink).
SANITY_TREE := $(BUILD)/ansible-test/ansible_collections/erlang/otp
SANITY_TREE_OLDEST := $(BUILD)/ansible-test-2.17/ansible_collections/erlang/otp

APT_PACKAGES := erlang-nox erlang-dev rebar3 elixir openssh-server shellcheck git python3 python3-venv

PYTEST := $(BIN)/python -m pytest
# Unit and differential tests run in parallel; tests/integration starts real nodes and runs serially.
PYTEST_PARALLEL ?= -n auto
# Integration tests wait on nodes and sshd more than they compute: two workers, one test file each
# (module-scoped fleets stay in one worker). Every fleet has its own ports and epmd.
INTEGRATION_PARALLEL ?= -n 2 --dist loadfile

# Tools from .venv come first (ansible-test, ansible-lint and ansible-galaxy call each other).
export PATH := $(BIN):$(PATH)

# `make test` gates, cheapest first; each runs as `make <gate>`. KEEP_GOING=1 runs every gate even
# after a failure (the run still fails).
GATES := setup ruff changelog build ansible-lint pytest-fast unit-py39 sanity sanity-2.17 integration

.PHONY: help demo setup setup-apt setup-venv setup-venv-oldest setup-stubs test ruff pytest-fast unit unit-py39 \
        erlang integration sanity sanity-2.17 lint ansible-lint changelog build bench clean distclean

help:
	@cat <<'EOF'
	make demo         set up, then hot upgrade + downgrade a 3-node fleet under load (DEMO_ARGS="--nodes 5")
	make setup        apt packages, .venv (+ .venv-2.17), ansible-test get-pip stand-in (idempotent)
	make test         setup + every gate: $(GATES)
	make ruff         ruff check
	make unit         pytest tests/unit
	make unit-py39    pytest tests/unit/plugins/module_utils on Python 3.9 (skipped without one)
	make erlang       pytest tests/erlang (differential tests against the installed OTP)
	make integration  pytest tests/integration (real release nodes, sshd on 127.0.0.1)
	make sanity       ansible-test sanity with .venv's ansible-core (2.21 on Python 3.12)
	make sanity-2.17  ansible-test sanity, ansible-core 2.17 on Python 3.11
	make lint         ruff + ansible-lint (production profile) + antsibull-changelog lint
	make build        ansible-galaxy collection build into .build/dist, checked for junk
	make bench        run bench/*.py (not part of test)
	make clean        remove build and test output;  make distclean  also the venvs and .cache
	EOF

# ---------------------------------------------------------------------------------------------
# Set-up

setup: setup-apt setup-venv setup-venv-oldest setup-stubs

# Installs the Debian packages that are missing; runs `apt-get update` only when something is.
setup-apt:
	@$(skip_if_setup_done)
	missing=()
	for pkg in $(APT_PACKAGES); do
	    dpkg-query -W -f='$${Status}' "$$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$$pkg")
	done
	if [ $${#missing[@]} -eq 0 ]; then echo "setup: apt packages present"; exit 0; fi
	echo "setup: installing $${missing[*]}"
	sudo=; if [ "$$(id -u)" -ne 0 ]; then sudo=sudo; fi
	$$sudo apt-get update -qq
	$$sudo apt-get install -y -qq -o Dpkg::Use-Pty=0 "$${missing[@]}" </dev/null

# (Re)creates .venv when missing, broken or on another Python; installs the pinned requirements
# when their hash changed (stamp file inside the venv).
setup-venv:
	@$(skip_if_setup_done)
	$(call ensure_venv,$(VENV),$$(.ci/find-python 12 14 || .ci/find-python 11 || true),requirements.txt tests/requirements-ci.txt,tests/requirements-ci.txt)

setup-venv-oldest:
	@$(skip_if_setup_done)
	$(call ensure_venv,$(VENV_OLDEST),$$(.ci/find-python 11 || .ci/find-python 10 12 || true),tests/requirements-sanity-2.17.txt,tests/requirements-sanity-2.17.txt)

# ansible-test bootstraps pip in its venvs from ~/.ansible/test/cache/get_pip_<pip version>.py and
# downloads that file from a host CI cannot reach when it is missing: install the stand-in under
# the name each ansible-test in use asks for (the pip version it pins in get_venv_packages()).
setup-stubs: setup-venv setup-venv-oldest
	@$(skip_if_setup_done)
	for venv in $(VENV) $(VENV_OLDEST); do
	    pip_version=$$("$$venv/bin/python" -c 'import pathlib, re, ansible_test; src = (pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py").read_text(); print(re.search(r"\bpip=.([0-9.]+).", src).group(1))')
	    target="$$HOME/.ansible/test/cache/get_pip_$${pip_version//./_}.py"
	    if [ -e "$$target" ] && ! grep -q 'erlang.otp get-pip stand-in' "$$target"; then
	        echo "setup: keeping $$target (not ours)"
	    elif ! cmp -s tests/utils/get_pip_stub.py "$$target"; then
	        install -D -m 0644 tests/utils/get_pip_stub.py "$$target"
	        echo "setup: installed $$target"
	    fi
	done

# `make test` runs the set-up once as its first gate, then the other gates with SETUP_DONE=1.
skip_if_setup_done = if [ "$(SETUP_DONE)" = 1 ]; then exit 0; fi

# $(1) venv dir, $(2) interpreter (shell expression), $(3) files hashed for the stamp, $(4) requirements
define ensure_venv
python="$(2)"
if [ -z "$$python" ]; then echo "setup: no suitable Python found for $(1)" >&2; exit 1; fi
want=$$("$$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ -x "$(1)/bin/python" ]; then
    have=$$("$(1)/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo broken)
    if [ "$$have" != "$$want" ]; then echo "setup: $(1) is on Python $$have, want $$want: recreating"; rm -rf "$(1)"; fi
fi
if [ ! -x "$(1)/bin/python" ]; then
    echo "setup: creating $(1) with $$python (Python $$want)"
    rm -rf "$(1)"
    "$$python" -m venv "$(1)"
fi
stamp="$(1)/.stamp-$$(cat $(3) | sha256sum | cut -c1-16)"
if [ ! -e "$$stamp" ]; then
    echo "setup: installing $(4) into $(1)"
    # (the grep drops the machine's notes about local package-index folders it lacks)
    "$(1)/bin/python" -m pip install -q -r "$(4)" 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
    rm -f "$(1)"/.stamp-*
    touch "$$stamp"
else
    echo "setup: $(1) up to date ($$("$(1)/bin/python" -m pip show ansible-core 2>/dev/null | sed -n 's/^Version: /ansible-core /p'), Python $$want)"
fi
endef

# ---------------------------------------------------------------------------------------------
# Gates

test:
	@t_start=$$EPOCHREALTIME
	summary=()
	failed=()
	setup_done=0
	for gate in $(GATES); do
	    printf '\n===== gate: %s =====\n' "$$gate"
	    t0=$$EPOCHREALTIME
	    if $(MAKE) "$$gate" SETUP_DONE=$$setup_done; then rc=0; else rc=$$?; fi
	    if [ "$$gate" = setup ]; then setup_done=1; fi
	    took=$$(awk -v a="$$t0" -v b="$$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	    if [ $$rc -ne 0 ]; then
	        printf '\n===== FAILED gate: %s (exit %s, %ss) =====\n' "$$gate" "$$rc" "$$took"
	        summary+=("$$(printf 'FAILED  %-14s %7ss' "$$gate" "$$took")")
	        failed+=("$$gate")
	        if [ "$(KEEP_GOING)" != 1 ] || [ "$$gate" = setup ]; then break; fi
	        continue
	    fi
	    summary+=("$$(printf 'ok      %-14s %7ss' "$$gate" "$$took")")
	    printf '===== ok: %s (%ss) =====\n' "$$gate" "$$took"
	done
	total=$$(awk -v a="$$t_start" -v b="$$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	printf '\n===== summary =====\n'
	printf '  %s\n' "$${summary[@]}"
	if [ $${#failed[@]} -ne 0 ]; then printf '  FAILED: %s (total %ss)\n' "$${failed[*]}" "$$total"; exit 1; fi
	printf '  all %d gates passed in %ss\n' "$${#summary[@]}" "$$total"

ruff: setup-venv
	$(BIN)/ruff check .

# $(1) = pytest arguments. pytest exits 5 when it collected no test: that fails the gate too.
define run_pytest
rc=0
$(PYTEST) $(1) || rc=$$?
if [ $$rc -eq 5 ]; then echo "FAILED: pytest $(1) collected no test (exit 5)" >&2; fi
exit $$rc
endef

# Unit and differential tests in one parallel run (what `make test` uses).
pytest-fast: setup-venv setup-apt
	@$(call run_pytest,$(PYTEST_PARALLEL) tests/unit tests/erlang)

unit: setup-venv
	@$(call run_pytest,$(PYTEST_PARALLEL) tests/unit)

# The module_utils unit tests on the oldest target Python (3.9), in their own small venv.
unit-py39:
	@if ! py=$$(.ci/find-python 9); then echo "unit-py39: no Python 3.9 on this machine: skipped"; exit 0; fi
	$(call ensure_venv,$(VENV_PY39),$$py,tests/requirements-unit-py39.txt,tests/requirements-unit-py39.txt)
	rc=0
	"$(VENV_PY39)/bin/python" -m pytest -p no:cacheprovider tests/unit/plugins/module_utils || rc=$$?
	if [ $$rc -eq 5 ]; then echo "FAILED: unit-py39 collected no test (exit 5)" >&2; fi
	exit $$rc

erlang: setup-venv setup-apt
	@$(call run_pytest,$(PYTEST_PARALLEL) tests/erlang)

integration: setup-venv setup-apt
	@$(call run_pytest,$(INTEGRATION_PARALLEL) tests/integration)

# $(1) = destination. Copies the tracked and untracked-but-not-ignored files (what a commit would
# hold), so ansible-test sees neither venvs nor build output.
define copy_tree
rm -rf "$(1)"
mkdir -p "$(1)"
if git -C "$(ROOT)" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$(ROOT)" ls-files -z -co --exclude-standard \
        | while IFS= read -r -d '' f; do if [ -e "$(ROOT)/$$f" ] || [ -L "$(ROOT)/$$f" ]; then printf '%s\0' "$$f"; fi; done \
        | tar -C "$(ROOT)" --null -T - -cf - | tar -C "$(1)" -xf -
else
    tar -C "$(ROOT)" --exclude=./.git --exclude=./.build --exclude='./.venv*' --exclude=./.cache \
        --exclude=./.ansible --exclude=./tests/output --exclude=__pycache__ -cf - . | tar -C "$(1)" -xf -
fi
# ansible-test lists content with git from the nearest .git upwards: without a repository of its
# own the copy would be listed through the enclosing checkout, where .build/ is ignored.
git -C "$(1)" init -q
endef

# $(1) = venv, $(2) = tree. --local: no delegation venv (nothing to download for it); the
# per-test venvs live in ~/.ansible/test/venv and are shared by all checkouts.
# --python: without it ansible-test probes python3.9 ... python3.14, and pyenv shims exit 127.
define run_sanity
$(call copy_tree,$(2))
cd "$(2)"
pyver=$$("$(1)/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
echo "sanity: ansible-core $$("$(1)/bin/python" -c 'import ansible.release; print(ansible.release.__version__)'), Python $$pyver, in $(2)"
PATH="$(1)/bin:$$PATH" "$(1)/bin/ansible-test" sanity --local --python "$$pyver" $(SANITY_ARGS)
endef

# Then the target-side code (modules, module_utils) on the remote-only Pythons ansible-core 2.21
# supports (3.9-3.11): compile and import tests, for each such interpreter this machine has.
sanity: setup-venv setup-stubs setup-apt
	@$(call run_sanity,$(VENV),$(SANITY_TREE))
	if [ -z "$(SANITY_ARGS)" ]; then
	    for minor in 9 10 11; do
	        if ! py=$$("$(ROOT)/.ci/find-python" "$$minor"); then echo "sanity: no Python 3.$$minor here, compile/import on 3.$$minor skipped"; continue; fi
	        echo "sanity: compile + import on Python 3.$$minor ($$py)"
	        PATH="$$(dirname "$$py"):$(BIN):$$PATH" "$(BIN)/ansible-test" sanity --local --python "3.$$minor" --test compile --test import
	    done
	fi

sanity-2.17: setup-venv-oldest setup-stubs setup-apt
	@$(call run_sanity,$(VENV_OLDEST),$(SANITY_TREE_OLDEST))

ansible-lint: setup-venv
	$(BIN)/ansible-lint

changelog: setup-venv
	$(BIN)/antsibull-changelog lint

lint: ruff ansible-lint changelog

# Builds the collection artifact and fails if it carries anything that must not ship.
build: setup-venv
	@rm -rf "$(DIST)"
	$(BIN)/ansible-galaxy collection build --force --output-path "$(DIST)" .
	tarball=$$(ls "$(DIST)"/erlang-otp-*.tar.gz)
	junk=$$(tar -tzf "$$tarball" | grep -E '(^|/)(\.build|\.venv[^/]*|\.cache|\.git|\.ci|\.ansible|\.pytest_cache|\.hypothesis|\.ruff_cache|__pycache__|bench|demo|tests/output)(/|$$)|\.pyc$$|\.tar\.gz$$|^tests/integration/inventory$$|plugin-cache' || true)
	if [ -n "$$junk" ]; then echo "FAILED: $$tarball contains files that must not ship:" >&2; echo "$$junk" | head -n 20 >&2; exit 1; fi
	echo "build: $$tarball ($$(tar -tzf "$$tarball" | wc -l) entries, $$(du -h "$$tarball" | cut -f1))"

# ---------------------------------------------------------------------------------------------
# Other

# The README's first command: installs what is missing (as `make test` does), then runs a hot
# upgrade and a downgrade by pin of a loopback fleet under load; see demo/run_demo.py.
demo: setup-apt setup-venv
	@$(BIN)/python demo/run_demo.py $(DEMO_ARGS)

bench: setup-venv setup-apt
	@shopt -s nullglob
	benches=(bench/*.py)
	if [ $${#benches[@]} -eq 0 ]; then echo "bench: no bench/*.py yet"; exit 0; fi
	for b in "$${benches[@]}"; do echo "== $$b"; $(BIN)/python "$$b"; done

clean:
	rm -rf "$(BUILD)" tests/output .pytest_cache .ruff_cache .hypothesis changelogs/.plugin-cache.yaml \
	    tests/integration/inventory .ansible
	find . -path ./.git -prune -o -path './.venv*' -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf "$(VENV)" "$(VENV_OLDEST)" "$(VENV_PY39)" .cache
