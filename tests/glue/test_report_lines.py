"""The Glue load job's rejected-rows report lines: the loader's format, formulas made inert."""

from hrjobs.rows import report_lines


def test_report_lines_match_the_loaders_header_and_neutralize_formulas():
    lines = list(report_lines("departments", [(3, ["id: must be a whole positive number"], ["=1+1", "+Sales"])]))
    assert lines[0] == "line,reasons,id,department"
    assert lines[1] == "3,id: must be a whole positive number,'=1+1,'+Sales"
