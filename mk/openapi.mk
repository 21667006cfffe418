# The OpenAPI document (docs/openapi.json), generated from the app's routes and the data dictionary.
# tests/api/test_openapi.py fails when the committed file and the routes disagree: run this and commit.
.PHONY: openapi

openapi: $(VENV)/.run-deps
	$(PY) -m chalicelib.api.openapi docs/openapi.json
