"""The tree's shape: tests mirror the chalicelib packages, and package __init__ files stay docstring-only so
that the Glue zip can ship a subset of packages."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
# Test folders for what lives outside chalicelib: the Glue jobs, the CDK app, the Lambda package as deploy
# builds it, the CI/CD workflow, and the hostile-input and concurrency suite that spans every package.
OTHER_TREES = {"glue", "cdk", "packaging", "pipeline", "hardening"}
# The one package whose __init__ is code: `connect(url)` is the database layer's front door.
INIT_WITH_CODE = {"db"}


def chalicelib_packages() -> set[str]:
    return {p.parent.name for p in (ROOT / "chalicelib").glob("*/__init__.py")}


def test_every_chalicelib_package_has_a_test_folder_of_its_name():
    missing = {name for name in chalicelib_packages() if not any((TESTS / name).glob("test_*.py"))}
    assert not missing, f"chalicelib packages without tests/<package>/test_*.py: {sorted(missing)}"


def test_every_test_folder_mirrors_a_package_or_a_tree_with_its_own_tests():
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    strays = folders - chalicelib_packages() - OTHER_TREES
    assert not strays, f"test folders that mirror no chalicelib package: {sorted(strays)}"


def test_package_init_files_hold_only_a_docstring():
    with_code = []
    for init in sorted((ROOT / "chalicelib").glob("*/__init__.py")):
        if init.parent.name in INIT_WITH_CODE:
            continue
        body = ast.parse(init.read_text()).body
        if len(body) != 1 or ast.get_docstring(ast.Module(body=body, type_ignores=[])) is None:
            with_code.append(str(init.relative_to(ROOT)))
    assert not with_code, f"package __init__ files that are not one docstring: {with_code}"
