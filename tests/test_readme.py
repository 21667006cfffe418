"""The README's promises that can drift: the data dictionary table, the two commands, CI."""

from pathlib import Path

from chalicelib.rules.dictionary import markdown_table

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_data_table_is_the_dictionary():
    assert markdown_table() in (ROOT / "README.md").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make run" in readme
    assert "make test" in ci
