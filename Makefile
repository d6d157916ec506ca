# The README's two commands.  Both create/refresh the Python 3.10 environment (.venv) first;
# scripts/bootstrap.sh returns in well under a second when .venv is up to date.
.PHONY: demo test bootstrap

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	@scripts/demo.sh

# Runs every test, all markers included (slow, lava, nolava).  Extra pytest arguments: make test ARGS="-k foo"
test: bootstrap
	@.venv/bin/python -m pytest -q tests $(ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5): treated as a failure" >&2; fi; \
	exit $$rc
