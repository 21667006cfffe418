"""CSV cells a spreadsheet would run as formulas (OWASP "CSV injection"), made inert.

Used by every CSV this service writes for people: the reports and the rejected-rows reports of the
loader and the Glue load job (standard library only: the Glue zip ships this module).
"""

from __future__ import annotations

from typing import Any

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula, with a leading apostrophe, which the spreadsheet
    shows as text; numbers and other text as they are."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value
