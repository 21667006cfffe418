"""What the artifact tests share: the modules a runtime provides (`runtime_modules`), and a moto server
the packaged code reaches through AWS_ENDPOINT_URL, so that no moto (nor anything else of this
environment) is on the packaged code's import path."""

from __future__ import annotations

import re
import socket
from importlib import metadata
from pathlib import Path

import pytest


def runtime_modules(*projects: str) -> set[Path]:
    """The installed top-level modules of `projects` and everything they require: what a runtime (Lambda's
    Python: boto3; Glue: also pyspark and awsglue) provides besides the standard library."""
    seen, todo, paths = set(), list(projects), set()
    while todo:
        name = todo.pop()
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        distribution = metadata.distribution(name)
        for requirement in distribution.requires or ():
            if "extra ==" not in requirement:
                todo.append(re.split(r"[ ;<>=!~\[(]", requirement, maxsplit=1)[0])
        for file in distribution.files or ():
            top = file.parts[0]
            if not top.endswith((".dist-info", ".data")) and top != "..":
                paths.add(Path(str(distribution.locate_file(top))))
    return paths


@pytest.fixture(scope="session")
def aws_endpoint():
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
