"""The Lambda package as deploy builds it: function code holds only the app, a layer holds the run-time
dependencies (`automatic_layer` in .chalice/config.json), and every function uses that layer."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = "python/lib/python3.11/site-packages/"
APP_ENTRIES = {"app.py", "chalicelib", "chalice"}  # chalice: the small runtime `chalice package` adds


def required_projects() -> list[str]:
    names = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==", line.strip())
        if match:
            names.append(match.group(1))
    return names


def top_level_modules(project: str) -> set[str]:
    """Import names a distribution installs, read from its metadata (PyMySQL -> pymysql)."""
    from importlib import metadata

    distribution = metadata.distribution(project)
    top = distribution.read_text("top_level.txt")
    if top:
        return {name for name in top.split() if name and not name.startswith("_")}
    return {
        f.parts[0].removesuffix(".py")
        for f in distribution.files or ()
        if not f.parts[0].endswith((".dist-info", ".data")) and not f.parts[0].startswith("_")
    }


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("chalice-package")
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    subprocess.run(
        [str(Path(sys.executable).parent / "chalice"), "package", "--stage", "dev", str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return out


def _top_entries(archive: Path) -> set[str]:
    with zipfile.ZipFile(archive) as zf:
        return {name.split("/", 1)[0] for name in zf.namelist()}


def test_function_code_holds_only_the_app(package):
    assert _top_entries(package / "deployment.zip") <= APP_ENTRIES


def test_the_layer_holds_every_runtime_dependency_and_no_app_code(package):
    with zipfile.ZipFile(package / "layer-deployment.zip") as zf:
        names = zf.namelist()
    assert all(name.startswith(SITE) for name in names)
    installed = {name[len(SITE) :].split("/", 1)[0].removesuffix(".py") for name in names}
    for project in required_projects():
        assert top_level_modules(project) <= installed, project
    assert not {"app", "chalicelib"} & installed


def test_every_function_uses_the_layer(package):
    template = json.loads((package / "sam.json").read_text())
    layers = [k for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::LayerVersion"]
    assert len(layers) == 1
    functions = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    assert functions
    for name, function in functions.items():
        assert {"Ref": layers[0]} in function["Properties"].get("Layers", []), name
