"""HR data migration service: shared library behind the Chalice app, the CLI and the Glue jobs."""

__version__ = "0.1.0"
