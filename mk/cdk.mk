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

# `make deploy STAGE=dev` with AWS credentials in the environment (the pipeline assumes a role by OIDC).
# The stack's outputs (ApiUrl, ApiKeySecretArn, ...) land in cdk/outputs-$(STAGE).json for the smoke run.
.PHONY: deploy
deploy: cdk-deps
	@test -n "$(STAGE)" || { echo "deploy: set STAGE (dev or prod)" >&2; exit 2; }
	cd $(CDK_DIR) && PATH="$(abspath $(VENV))/bin:$$PATH" JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=1 \
		$(abspath $(CDK)) deploy --require-approval never -c stage=$(STAGE) $(STAGE) \
		--outputs-file outputs-$(STAGE).json

# `make smoke STAGE=dev`: the auto-tester's checks against the deployed stage, from `make deploy`'s outputs.
# Exits non-zero when a check fails, so a pipeline stops before promoting.
.PHONY: smoke
smoke: $(VENV)/.run-deps
	@test -n "$(STAGE)" || { echo "smoke: set STAGE (dev or prod)" >&2; exit 2; }
	$(PY) -m chalicelib.cli autotest \
		--url "$$($(PY) scripts/stack-output.py $(CDK_DIR)/outputs-$(STAGE).json ApiUrl)" \
		--api-key-secret "$$($(PY) scripts/stack-output.py $(CDK_DIR)/outputs-$(STAGE).json ApiKeySecretArn)"

# checkov and the SAM translator pin their own boto3: the deployed-template scan gets a virtualenv of
# its own, inside the project's (tests/cdk/test_deployed_scan.py looks for it there).
CHECKOV_VENV := $(VENV)/checkov

$(CHECKOV_VENV)/.installed: $(CDK_DIR)/requirements-checkov.txt | $(VENV)/bin/python
	$(PY) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q -r $(CDK_DIR)/requirements-checkov.txt
	touch $@

test: $(CHECKOV_VENV)/.installed
