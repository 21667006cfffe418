"""The reports as a web page people can read: both tables and a chart, drawn here as inline SVG.

Pure functions from report data to HTML: no database, no HTTP, no script, nothing fetched at run time.
Every piece of text from the data is escaped (names can contain markup such as ``<script>``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

from chalicelib.reports.queries import (
    DEPARTMENTS_ABOVE_MEAN_COLUMNS,
    HIRES_BY_QUARTER_COLUMNS,
    MAX_YEAR,
    MIN_YEAR,
    QUARTERS,
    DepartmentHires,
)

# Paul Tol's "bright" scheme: distinguishable with the common colour-vision deficiencies.
QUARTER_COLOURS = ("#4477AA", "#66CCEE", "#228833", "#CCBB44")
LABEL_CHARS = 30

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       margin: 2rem auto; max-width: 64rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .25rem; } h2 { font-size: 1.2rem; margin-top: 2.2rem; }
.note { color: #59636e; margin-top: 0; }
form { margin: 1rem 0 1.5rem; } input[type=number] { width: 6rem; font: inherit; padding: .15rem .3rem; }
table { border-collapse: collapse; margin: .5rem 0; min-width: 24rem; }
th, td { padding: .3rem .75rem; border-bottom: 1px solid #d1d9e0; text-align: left; }
th { background: #f6f8fa; position: sticky; top: 0; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:hover { background: #f6f8fa; }
figure { margin: 0; overflow-x: auto; } svg text { font: 12px system-ui, sans-serif; fill: #1f2328; }
"""


def _number(value: int) -> str:
    return f"{value:,}"


def _short(name: str) -> str:
    return name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "\u2026"


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least `value` (an axis end)."""
    if value <= 1:
        return 1
    power = 10 ** int(math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def quarter_chart_svg(year: int, departments: Sequence[tuple[int, str, list[int]]]) -> str:
    """Horizontal stacked bars: one bar per department, one segment per quarter, with a legend and an axis."""
    label_w, bar_w, total_w, row_h, top = 230, 520, 70, 24, 56
    width = label_w + bar_w + total_w
    height = top + row_h * max(len(departments), 1) + 34
    axis_end = _nice_ceiling(max((sum(q) for _, _, q in departments), default=0))
    scale = bar_w / axis_end
    out = [
        f'<svg id="hires-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="hires-chart-title">',
        f'<title id="hires-chart-title">Hires per quarter per department, {year}</title>',
    ]
    for i, (quarter, colour) in enumerate(zip(QUARTERS, QUARTER_COLOURS)):
        x = label_w + i * 70
        out.append(f'<rect class="legend" x="{x}" y="10" width="14" height="14" fill="{colour}"/>')
        out.append(f'<text x="{x + 20}" y="22">{quarter}</text>')
    for tick in range(0, 6):
        value = axis_end * tick / 5
        x = label_w + value * scale
        label = _number(int(value)) if value == int(value) else f"{value:g}"
        out.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 28}" stroke="#d1d9e0"/>')
        out.append(f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle">{label}</text>')
    if not departments:
        out.append(f'<text x="{label_w}" y="{top + 16}">No hires in {year}.</text>')
    for row, (_, name, quarters) in enumerate(departments):
        y = top + row * row_h
        out.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">'
            f"<title>{escape(name)}</title>{escape(_short(name))}</text>"
        )
        x = float(label_w)
        for quarter, colour, hires in zip(QUARTERS, QUARTER_COLOURS, quarters):
            if hires:
                w = hires * scale
                out.append(
                    f'<rect class="bar" data-department="{escape(name)}" data-quarter="{quarter}" data-hires="{hires}" '
                    f'x="{x:.2f}" y="{y + 3}" width="{max(w, 0.5):.2f}" height="{row_h - 6}" fill="{colour}">'
                    f"<title>{escape(name)}, {quarter}: {_number(hires)}</title></rect>"
                )
                x += w
        out.append(f'<text x="{x + 6:.2f}" y="{y + 16}">{_number(sum(quarters))}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _table(table_id: str, columns: Sequence[str], rows: Sequence[dict[str, Any]], empty: str) -> str:
    numeric = {c for c in columns if rows and all(isinstance(r[c], int) for r in rows)}
    head = "".join(f'<th scope="col"{" class=n" if c in numeric else ""}>{escape(c)}</th>' for c in columns)
    if not rows:
        body = f'<tr><td colspan="{len(columns)}">{escape(empty)}</td></tr>'
    else:
        body = "\n".join(
            "<tr>"
            + "".join(
                f'<td class="n">{_number(r[c])}</td>' if c in numeric else f"<td>{escape(str(r[c]))}</td>"
                for c in columns
            )
            + "</tr>"
            for r in rows
        )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>'


def render(
    year: int,
    hires_by_quarter: Sequence[dict[str, Any]],
    departments: Sequence[tuple[int, str, list[int]]],
    department_hires: DepartmentHires,
    above_mean: Sequence[dict[str, Any]],
    api_key: str | None = None,
) -> str:
    """The whole page for `year`. `api_key` (given only when the browser sent it in the URL) is kept in
    the year form so that choosing another year still authenticates."""
    key_field = f'<input type="hidden" name="api_key" value="{escape(api_key)}">' if api_key else ""
    total, n = department_hires.total, department_hires.departments
    without = n - len(departments)
    mean_note = (
        f"Mean over all {_number(n)} departments: {department_hires.mean:,.2f} hires "
        f"({_number(total)} hires; departments with none count as 0). Listed: departments above it, "
        "most hires first, then by id."
        if n
        else "There are no departments."
    )
    chart_note = f"{_number(without)} department(s) with no hire in {year} not shown." if without > 0 else ""
    hires_table = _table("hires-by-quarter-table", HIRES_BY_QUARTER_COLUMNS, hires_by_quarter, f"No hires in {year}.")
    above_mean_table = _table(
        "departments-above-mean-table",
        DEPARTMENTS_ABOVE_MEAN_COLUMNS,
        above_mean,
        "No department hired more than the mean.",
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Hiring reports {year}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Hiring reports {year}</h1>
<p class="note">Hires counted from stored rows (rejected rows never count); dates in UTC.</p>
<form method="get" action="">
<label>Year <input type="number" name="year" value="{year}" min="{MIN_YEAR}" max="{MAX_YEAR}" required></label>
{key_field}<button type="submit">Show</button>
</form>

<h2 id="chart">Hires per quarter per department</h2>
<figure>
{quarter_chart_svg(year, departments)}
<figcaption class="note">{escape(chart_note)}</figcaption>
</figure>

<h2 id="hires-by-quarter">Hires by quarter, per department and job</h2>
{hires_table}

<h2 id="departments-above-mean">Departments hiring above the mean</h2>
<p class="note">{escape(mean_note)}</p>
{above_mean_table}
</body>
</html>
"""
