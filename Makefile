# The two commands of the README: `make run` (the demo appliance) and `make test`.
VENV ?= .venv
DEMO ?= demo

.PHONY: run test lint docs clean

run:
	VENV=$(VENV) scripts/install-venv
	@test -f $(DEMO)/server.ini || $(VENV)/bin/appliance init $(DEMO)
	$(VENV)/bin/appliance serve -c $(DEMO)

test:
	VENV=$(VENV) scripts/test $(ARGS)

lint:
	$(VENV)/bin/ruff check .

docs:
	$(VENV)/bin/appliance events --catalogue-markdown > docs/events.md
	$(VENV)/bin/python scripts/role-readmes

clean:
	rm -rf $(VENV) build dist *.egg-info
