# The Glue jobs: the zip for --extra-py-files and the job scripts, ready to upload under s3://<bucket>/glue/.
.PHONY: glue-package glue-test

glue-package: $(VENV)/bin/python
	$(PY) glue/build_package.py .local/glue

glue-test: $(VENV)/.dev-deps system-deps mysql
	$(PY) -m pytest tests/glue $(PYTEST_ARGS)
