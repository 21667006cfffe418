"""Realistic sample CSVs in the challenge's shape: no header, comma separated, some broken rows.

Deterministic for a given seed. Streams rows to the file, so a million employees cost no memory.
"""

from __future__ import annotations

import csv
import os
import random
from datetime import UTC, datetime, timedelta

DEPARTMENTS = [
    "Product Management",
    "Sales",
    "Research and Development",
    "Business Development",
    "Engineering",
    "Human Resources",
    "Services",
    "Support",
    "Marketing",
    "Training",
    "Legal",
    "Accounting",
]
_ROLES = [
    "Accountant",
    "Analyst",
    "Account Executive",
    "Administrative Officer",
    "Assistant Manager",
    "Biostatistician",
    "Business Systems Development Analyst",
    "Chemical Engineer",
    "Civil Engineer",
    "Cost Accountant",
    "Data Coordinator",
    "Data Entry Clerk",
    "Database Administrator",
    "DBA Lead",
    "Design Engineer",
    "Developer",
    "Editor",
    "Environmental Specialist",
    "Executive Secretary",
    "Financial Advisor",
    "Financial Analyst",
    "Food Chemist",
    "General Manager",
    "Geologist",
    "Graphic Designer",
    "Health Coach",
    "Human Resources Assistant",
    "Human Resources Manager",
    "Internal Auditor",
    "Junior Executive",
    "Legal Assistant",
    "Marketing Assistant",
    "Marketing Manager",
    "Mechanical Systems Engineer",
    "Media Manager",
    "Nuclear Power Engineer",
    "Nurse",
    "Nurse Practicioner",
    "Occupational Therapist",
    "Office Assistant",
    "Operator",
    "Paralegal",
    "Payment Adjustment Coordinator",
    "Pharmacist",
    "Physical Therapy Assistant",
    "Programmer",
    "Programmer Analyst",
    "Project Manager",
    "Quality Control Specialist",
    "Quality Engineer",
    "Recruiter",
    "Recruiting Manager",
    "Registered Nurse",
    "Research Assistant",
    "Research Associate",
    "Research Nurse",
    "Safety Technician",
    "Sales Associate",
    "Sales Representative",
    "Senior Cost Accountant",
    "Senior Developer",
    "Senior Editor",
    "Senior Financial Analyst",
    "Senior Quality Engineer",
    "Senior Sales Associate",
    "Software Consultant",
    "Software Engineer",
    "Software Test Engineer",
    "Staff Accountant",
    "Staff Scientist",
    "Statistician",
    "Structural Analysis Engineer",
    "Structural Engineer",
    "Systems Administrator",
    "Tax Accountant",
    "Teacher",
    "Technical Writer",
    "Web Designer",
    "Web Developer",
    "VP Accounting",
    "VP Marketing",
    "VP Product Management",
    "VP Quality Control",
    "VP Sales",
]
_LEVELS = ["", " I", " II", " III", " IV"]
_FIRST = [
    "Harold",
    "Ty",
    "Lyman",
    "Lotti",
    "Marelda",
    "Jamaal",
    "Douglas",
    "Roshelle",
    "Gwen",
    "Ferdinand",
    "María José",
    "Zoë",
    "Łukasz",
    "Søren",
    "Aiko",
    "Chidi",
    "Priya",
    "Mateo",
    "Ingrid",
    "Olamide",
    "Björn",
    "Anaïs",
    "Kenji",
    "Fatima",
    "Dmitri",
    "Lucía",
    "Noah",
    "Amara",
    "Elif",
    "Tomás",
]
_LAST = [
    "Vanlue",
    "Hausman",
    "Hadfield",
    "Seifert",
    "Sweet",
    "Tarr",
    "O'Connor",
    "Nuñez",
    "García",
    "Müller",
    "Nakamura",
    "Okafor",
    "Sharma",
    "Kowalski",
    "Andersson",
    "Dubois",
    "Haddad",
    "Ivanova",
    "Rossi",
    "Smith-Jones",
    "de la Cruz",
    "Nguyen",
    "Kim",
    "Fernández",
    "Al-Sayed",
    "Brown",
]


def job_titles() -> list[str]:
    titles = []
    for role in _ROLES:
        titles.append(role)
        if role.startswith(("Senior", "VP", "DBA")):
            continue
        titles.extend(role + level for level in _LEVELS[1:3])
    return titles


def _write(path: str, rows) -> int:
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def _maybe_break(rng: random.Random, row: list[str], broken: float) -> list[str]:
    """Break a row the way exports break: an empty field (the usual), a bad number, a bad date."""
    if rng.random() >= broken:
        return row
    kind = rng.random()
    row = list(row)
    if kind < 0.7:
        row[rng.randrange(1, len(row))] = ""
    elif kind < 0.85:
        row[-1] = rng.choice(["n/a", "-3", "4.5"])
    elif len(row) > 2:
        row[2] = rng.choice(["2021-02-30T10:00:00Z", "yesterday", "2021/05/01 10:00"])
    else:
        row[1] = ""
    return row


def employee_rows(count: int, departments: int, jobs: int, seed: int = 7, broken: float = 0.01, start_id: int = 1):
    """`count` hired_employees rows; about `broken` of them break a data rule."""
    rng = random.Random(seed)
    start = datetime(2020, 7, 1, tzinfo=UTC)
    span = int(timedelta(days=730).total_seconds())
    for i in range(start_id, start_id + count):
        hired = start + timedelta(seconds=rng.randrange(span))
        row = [
            str(i),
            f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
            hired.strftime("%Y-%m-%dT%H:%M:%SZ"),
            str(rng.randint(1, departments)),
            str(rng.randint(1, jobs)),
        ]
        yield _maybe_break(rng, row, broken)


def write_samples(folder: str, employees: int = 2000, seed: int = 7, broken: float = 0.02) -> dict[str, int]:
    """Write departments.csv, jobs.csv and hired_employees.csv into `folder`; returns rows per file."""
    os.makedirs(folder, exist_ok=True)
    titles = job_titles()
    counts = {
        "departments": _write(
            os.path.join(folder, "departments.csv"), ([str(i), n] for i, n in enumerate(DEPARTMENTS, 1))
        ),
        "jobs": _write(os.path.join(folder, "jobs.csv"), ([str(i), t] for i, t in enumerate(titles, 1))),
    }
    counts["hired_employees"] = _write(
        os.path.join(folder, "hired_employees.csv"),
        employee_rows(employees, len(DEPARTMENTS), len(titles), seed=seed, broken=broken),
    )
    return counts
