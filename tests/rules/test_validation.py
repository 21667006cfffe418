"""The data rules as pure functions: no database, no HTTP."""

import random
from datetime import datetime

import pytest

from chalicelib.rules.dictionary import (
    DATETIME,
    DEPARTMENTS,
    HIRED_EMPLOYEES,
    INTEGER,
    JOBS,
    MAX_INTEGER,
    STRING,
    TABLES,
)
from chalicelib.rules.validation import (
    Candidate,
    candidates,
    check_fields,
    classify,
    fast_csv_row,
    fast_json_row,
    lookups,
    rejection_fingerprint,
)
from tests.rules.pools import COMMON, TRICKY, mutated

GOOD = ["7", "Ana Pérez", "2021-11-07T02:48:42Z", "1", "2"]


def reasons_for(raw, table=HIRED_EMPLOYEES):
    row, reasons = check_fields(table, raw)
    assert row is None
    return reasons


def test_a_good_csv_row_becomes_typed_values():
    assert check_fields(HIRED_EMPLOYEES, GOOD) == ((7, "Ana Pérez", datetime(2021, 11, 7, 2, 48, 42), 1, 2), [])


def test_a_json_object_row_is_read_by_field_name():
    raw = {"id": 7, "name": "Ana Pérez", "datetime": "2021-11-07T02:48:42Z", "department_id": 1, "job_id": 2}
    assert check_fields(HIRED_EMPLOYEES, raw)[0] == (7, "Ana Pérez", datetime(2021, 11, 7, 2, 48, 42), 1, 2)


@pytest.mark.parametrize("index,field", [(0, "id"), (1, "name"), (2, "datetime"), (3, "department_id"), (4, "job_id")])
@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_every_field_is_required_and_blank_is_missing(index, field, blank):
    raw = list(GOOD)
    raw[index] = blank
    assert reasons_for(raw) == [f"{field}: is required"]


def test_a_missing_json_field_and_null_are_required_failures():
    assert reasons_for({"id": 1}, DEPARTMENTS) == ["department: is required"]
    assert reasons_for({"id": 1, "department": None}, DEPARTMENTS) == ["department: is required"]


@pytest.mark.parametrize("value", ["0", "-3", "4.5", "1e3", "abc", "١٢", True, 4.5, [1], {"a": 1}])
def test_integers_are_whole_positive_numbers(value):
    (reason,) = reasons_for({"id": value, "department": "Sales"}, DEPARTMENTS)
    assert reason.startswith("id: must be")


def test_integers_must_fit_the_column():
    assert check_fields(DEPARTMENTS, [str(MAX_INTEGER), "x"])[0] == (MAX_INTEGER, "x")
    assert reasons_for([str(MAX_INTEGER + 1), "x"], DEPARTMENTS) == [
        f"id: must be at most {MAX_INTEGER}, got {MAX_INTEGER + 1}"
    ]


def test_strings_are_at_most_255_characters_and_unicode_counts_characters():
    assert check_fields(JOBS, ["1", "é" * 255])[0] == (1, "é" * 255)
    assert reasons_for(["1", "x" * 256], JOBS) == ["job: must be at most 255 characters, got 256"]


def test_a_number_is_not_a_string():
    assert reasons_for({"id": 1, "job": 42}, JOBS) == ["job: must be a string, got int"]


def test_surrounding_whitespace_is_not_part_of_a_value():
    assert check_fields(JOBS, [" 3 ", "  DBA Lead "])[0] == (3, "DBA Lead")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2021-11-07T02:48:42Z", datetime(2021, 11, 7, 2, 48, 42)),
        ("2021-11-07T02:48:42", datetime(2021, 11, 7, 2, 48, 42)),  # no offset means UTC
        ("2021-11-07T02:48:42+00:00", datetime(2021, 11, 7, 2, 48, 42)),
        ("2021-11-06T21:48:42-05:00", datetime(2021, 11, 7, 2, 48, 42)),  # offset converted
        ("2021-12-31T23:30:00-01:00", datetime(2022, 1, 1, 0, 30, 0)),  # crosses a year in UTC
        ("2021-11-07 02:48:42Z", datetime(2021, 11, 7, 2, 48, 42)),
        ("2021-11-07T02:48:42.987Z", datetime(2021, 11, 7, 2, 48, 42)),  # the column keeps seconds
        ("2021-11-07T02:48Z", datetime(2021, 11, 7, 2, 48, 0)),
    ],
)
def test_datetimes_are_iso_8601_stored_in_utc(text, expected):
    row = check_fields(HIRED_EMPLOYEES, ["1", "A", text, "1", "1"])[0]
    assert row[2] == expected


@pytest.mark.parametrize(
    "text",
    [
        "2021-11-07",
        "2021-02-30T10:00:00Z",
        "yesterday",
        "2021/05/01 10:00",
        "0999-01-01T00:00:00Z",
        "2021-11-07T25:00:00Z",
        "2021-W45-7T02:48:42Z",  # a week date: fromisoformat reads it, the rule does not
        "2021-11-07T024842.5Z",  # a basic time with a fraction, in the common form's length
        "2021-11-07T024842,5Z",
    ],
)
def test_invalid_datetimes_are_rejected_naming_the_field(text):
    (reason,) = reasons_for(["1", "A", text, "1", "1"])
    assert reason.startswith("datetime: ")


def test_unknown_fields_are_rejected():
    assert reasons_for({"id": 1, "department": "Sales", "budget": 3}, DEPARTMENTS) == ["unknown field(s): budget"]


def test_a_csv_row_with_the_wrong_number_of_fields_is_rejected():
    assert reasons_for(["1", "Sales", "extra"], DEPARTMENTS) == ["expected 2 fields (id, department), got 3"]


def test_sql_looking_strings_are_just_strings():
    text = "Robert'); DROP TABLE departments;--"
    assert check_fields(DEPARTMENTS, ["1", text])[0] == (1, text)


def _classify(rows, stored=None, departments=(1,), jobs=(2,)):
    batch = candidates(HIRED_EMPLOYEES, enumerate(rows))
    return classify(HIRED_EMPLOYEES, batch, stored or {}, {"departments": set(departments), "jobs": set(jobs)})


def test_references_must_name_existing_rows():
    result = _classify([["1", "A", "2021-01-01T00:00:00Z", "9", "8"]])
    assert result.rejected[0].reasons == [
        "department_id: departments 9 does not exist",
        "job_id: jobs 8 does not exist",
    ]


def test_an_identical_stored_row_is_a_no_op_and_a_different_one_a_duplicate():
    stored = {1: (1, "A", datetime(2021, 1, 1), 1, 2), 2: (2, "B", datetime(2021, 1, 1), 1, 2)}
    result = _classify(
        [["1", "A", "2021-01-01T00:00:00Z", "1", "2"], ["2", "Changed", "2021-01-01T00:00:00Z", "1", "2"]], stored
    )
    assert [c.position for c in result.unchanged] == [0]
    assert result.rejected[0].reasons == ["id: 2 already exists with different values"]


def test_a_repeated_id_in_a_batch_is_rejected_after_its_first_occurrence():
    row = ["1", "A", "2021-01-01T00:00:00Z", "1", "2"]
    result = _classify([row, row, ["1", "B", "2021-01-01T00:00:00Z", "1", "2"]])
    assert [c.position for c in result.to_insert] == [0]
    assert [c.reasons for c in result.rejected] == [["id: 1 is repeated in this batch (first at 0)"]] * 2


def test_classify_does_not_change_its_input_so_a_retry_gives_the_same_answer():
    batch = candidates(HIRED_EMPLOYEES, enumerate([["1", "A", "2021-01-01T00:00:00Z", "9", "2"]]))
    first = classify(HIRED_EMPLOYEES, batch, {}, {"departments": set(), "jobs": {2}})
    second = classify(HIRED_EMPLOYEES, batch, {}, {"departments": set(), "jobs": {2}})
    assert first.rejected[0].reasons == second.rejected[0].reasons == ["department_id: departments 9 does not exist"]
    assert batch[0].reasons == []


def test_lookups_name_the_ids_and_the_references_to_check():
    batch = candidates(HIRED_EMPLOYEES, enumerate([["1", "A", "2021-01-01T00:00:00Z", "3", "4"], ["x"]]))
    found = lookups(HIRED_EMPLOYEES, batch)
    assert (found.ids, found.refs) == ({1}, {"departments": {3}, "jobs": {4}})
    assert [c.position for c in found.valid] == [0] and [c.position for c in found.invalid] == [1]


def test_the_same_rejection_has_the_same_fingerprint():
    a = rejection_fingerprint("s3://b/k.csv", "jobs", 3, ["1", ""])
    assert a == rejection_fingerprint("s3://b/k.csv", "jobs", 3, ["1", ""])
    assert a != rejection_fingerprint("s3://b/k.csv", "jobs", 4, ["1", ""])
    assert isinstance(Candidate(0, None).reasons, list)


@pytest.mark.parametrize("table", list(TABLES.values()), ids=list(TABLES))
def test_the_fast_path_gives_what_the_rules_give_or_leaves_the_record_to_them(table):
    fast, rng = fast_csv_row(table), random.Random(20261122)
    accepted = 0
    for _ in range(6000):
        fields = []
        for column in table.columns:
            pool = TRICKY[column.type]
            kind = rng.random()
            fields.append(
                COMMON[column.type]
                if kind < 0.6
                else rng.choice(pool)
                if kind < 0.85
                else mutated(rng.choice(pool), rng)
            )
        if rng.random() < 0.02:
            fields = fields[:-1] if rng.random() < 0.5 else fields + ["extra"]
        row = fast(fields)
        if row is not None:
            accepted += 1
            assert check_fields(table, fields) == (row, []), fields
        (cand,) = candidates(table, [(1, fields)])
        assert (cand.row, cand.reasons) == check_fields(table, fields), fields
    assert accepted > 500  # the fast path does take the common shapes


JSON_TRICKY = {
    INTEGER: [1, 7, 0, -3, MAX_INTEGER, MAX_INTEGER + 1, True, False, 1.0, 2.5, None, "7", " 7", "", [], {}],
    STRING: TRICKY[STRING] + [5, None, True, 1.5, ["a"]],
    DATETIME: TRICKY[DATETIME] + [5, None, True, 1636253322],
}
JSON_COMMON = {INTEGER: 42, STRING: "Ana P\u00e9rez", DATETIME: "2021-11-07T02:48:42Z"}


@pytest.mark.parametrize("table", list(TABLES.values()), ids=list(TABLES))
def test_the_fast_path_for_json_objects_gives_what_the_rules_give_or_leaves_the_object_to_them(table):
    fast, rng = fast_json_row(table), random.Random(20261123)
    accepted = 0
    for _ in range(6000):
        obj = {}
        for column in table.columns:
            kind = rng.random()
            obj[column.name] = (
                JSON_COMMON[column.type]
                if kind < 0.6
                else rng.choice(JSON_TRICKY[column.type])
                if kind < 0.85
                else mutated(str(rng.choice(TRICKY[column.type])), rng)
            )
        roll = rng.random()
        if roll < 0.02:
            obj.pop(rng.choice(table.column_names))
        elif roll < 0.04:
            obj["extra"] = 1
        elif roll < 0.06:
            obj = {**{k: v for k, v in obj.items() if k != table.key}, "ID": obj[table.key]}
        row = fast(obj)
        if row is not None:
            accepted += 1
            assert check_fields(table, obj) == (row, []), obj
        (cand,) = candidates(table, [(1, obj)])
        assert (cand.row, cand.reasons) == check_fields(table, obj), obj
    assert accepted > 500


def test_the_fast_path_takes_the_common_shape_of_every_table():
    for table in TABLES.values():
        fields = [COMMON[c.type] for c in table.columns]
        row = fast_csv_row(table)(fields)
        assert row is not None and check_fields(table, fields) == (row, [])


def _summary(classified):
    return [
        [(c.position, c.row, c.reasons) for c in part]
        for part in (classified.to_insert, classified.unchanged, classified.rejected)
    ]


def test_classify_with_lookups_gives_what_it_gives_without():
    rng = random.Random(7)
    taken_fast = 0
    for _ in range(400):
        rows = []
        for i in range(rng.randint(0, 30)):
            key = rng.randint(1, 40) if rng.random() < 0.3 else 1000 + i
            department = rng.choice([1, 2, 3]) if rng.random() < 0.1 else 1
            job = rng.choice([2, 5]) if rng.random() < 0.1 else 2
            rows.append(
                [str(key), "A", "2021-01-01T00:00:00Z", str(department), str(job)] if rng.random() > 0.05 else ["bad"]
            )
        batch = candidates(HIRED_EMPLOYEES, enumerate(rows))
        stored = {} if rng.random() < 0.6 else {5: (5, "A", datetime(2021, 1, 1), 1, 2)}
        existing = {"departments": {1, 2}, "jobs": {2}}
        found = lookups(HIRED_EMPLOYEES, batch)
        slow = classify(HIRED_EMPLOYEES, batch, stored, existing)
        assert _summary(classify(HIRED_EMPLOYEES, batch, stored, existing, found)) == _summary(slow)
        taken_fast += not stored and all(r.row is None for r in slow.rejected)
    assert taken_fast > 50  # the common case does come up
