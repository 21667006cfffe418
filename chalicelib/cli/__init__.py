"""The command line, ``python -m chalicelib.cli``: the same code paths as the API."""
