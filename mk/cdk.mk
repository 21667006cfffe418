# The CDK app (cdk/): `make synth` synthesizes every stage with the pinned CDK CLI (cdk/package.json),
# `make synth STAGE=prod` one of them. `cdk deploy` is run the same way, with AWS credentials.
CDK_DIR := cdk
CDK := $(CDK_DIR)/node_modules/.bin/cdk
STAGE ?=

.PHONY: synth cdk-deps

$(CDK): $(CDK_DIR)/package.json $(CDK_DIR)/package-lock.json
	cd $(CDK_DIR) && npm ci --no-audit --no-fund
	touch $@

cdk-deps: $(VENV)/.dev-deps $(CDK)

# The CLI runs `python main.py` in cdk/ with the venv first on PATH; Chalice packages ../app.py.
synth: cdk-deps
	cd $(CDK_DIR) && PATH="$(abspath $(VENV))/bin:$$PATH" JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=1 \
		$(abspath $(CDK)) synth --quiet $(if $(STAGE),-c stage=$(STAGE)) $(if $(STAGE),$(STAGE),--all)

# checkov and the SAM translator pin their own boto3: the deployed-template scan gets a virtualenv of
# its own, inside the project's (tests/cdk/test_deployed_scan.py looks for it there).
CHECKOV_VENV := $(VENV)/checkov

$(CHECKOV_VENV)/.installed: $(CDK_DIR)/requirements-checkov.txt | $(VENV)/bin/python
	$(PY) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q -r $(CDK_DIR)/requirements-checkov.txt
	touch $@

test: $(CHECKOV_VENV)/.installed
