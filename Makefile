# The README's two commands.  Both create/refresh the Python 3.10 environment (.venv) first;
# scripts/bootstrap.sh returns in well under a second when .venv is up to date.
.PHONY: demo test test-core bootstrap

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	@scripts/demo.sh

# Runs every test, all markers included (slow, lava, nolava), in .venv with SNNCOMPILE_TEST_ENV=full (Lava
# must be importable and no test may skip: tests/conftest.py), then the core-only environment (test-core)
# whatever the first part gave.  Extra pytest arguments (first part only): make test ARGS="-k foo"
test: bootstrap
	@SNNCOMPILE_TEST_ENV=full .venv/bin/python -m pytest -q tests $(ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5): treated as a failure" >&2; fi; \
	scripts/core_env.sh; core=$$?; \
	if [ $$rc -eq 0 ]; then rc=$$core; fi; \
	exit $$rc

# The core-only environment alone: .venv-core from `pip install .` on Python >= 3.11, its nolava tests and a
# newcomer's session (scripts/core_env.sh).
test-core:
	@scripts/core_env.sh
