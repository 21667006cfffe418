"""The Glue job's field rules (Spark expressions, `hrjobs.field_rules`) value by value, many thousand
values in one Spark job each: the datetime rule against the oracle (tests/rules/datetime_oracle.py, a
statement of the rule independent of both implementations) on every near miss of valid texts, and every
rule against the Python rules (`rows.check_fields`, the definition) on fuzzed records. The file-level
differential (test_differential.py) covers the rest of the load; this covers the rules in depth."""

from __future__ import annotations

import random
import sys

from chalicelib.rules import dictionary
from chalicelib.rules.rows import check_fields
from hrjobs import field_rules
from tests.rules.datetime_oracle import OTHER_FORMS, SEEDS, near_misses, oracle, seconds_of, two_character_changes

EMPLOYEES = dictionary.TABLES["hired_employees"]
WHITESPACE = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())


def spark_rules(spark, table, records: list[list[str]]) -> list[tuple[bool, tuple]]:
    """(field_ok, typed values) of each record under the Spark rules, in the records' order."""
    df = spark.createDataFrame(list(enumerate(records)), "i long, fields array<string>")
    checked = field_rules.check_fields(df, table).orderBy("i").collect()
    return [(row["field_ok"], tuple(row[name] for name in table.column_names)) for row in checked]


def test_the_spark_datetime_rule_decides_every_near_miss_as_the_oracle_does(spark):
    texts = sorted({*OTHER_FORMS, *two_character_changes(), *(t for seed in SEEDS for t in near_misses(seed))})
    assert len(texts) > 30_000
    decided = spark_rules(spark, EMPLOYEES, [["7", "Ann", text, "1", "1"] for text in texts])
    wrong = []
    for text, (ok, values) in zip(texts, decided):
        got, expected = (seconds_of(values[2]) if ok else None), oracle(text)
        if got != expected:
            wrong.append((text, got, expected))
    assert wrong == []
    assert sum(ok for ok, _ in decided) > 1000  # both sides exercised


ODD_INTEGERS = ["+7", "-7", "7.0", "1e3", "1_000", "\u0663", "\u00b2", "\uff17", "", "2147483647", "2147483648"]
ODD_INTEGERS += ["0" * 30 + "7", "0" * 30, "0" * 30 + "2147483648"]  # zeros past a bigint's digits
PLAIN = 0.8  # the share of fields drawn in a plain shape, so that whole records pass often enough


def _integer_text(rng: random.Random) -> str:
    if rng.random() < PLAIN:
        return str(rng.randint(1, 10**6))
    return rng.choice(
        [
            str(rng.randint(0, 2**31 + 5)),
            f"{rng.choice(WHITESPACE)}{rng.randint(1, 99):04d}{rng.choice(WHITESPACE)}",
            rng.choice(ODD_INTEGERS),
            "9" * rng.randint(10, 25),
            "".join(rng.choice("0123456789 \t+-.e\u0663") for _ in range(rng.randint(0, 6))),
        ]
    )


def _string_text(rng: random.Random) -> str:
    core = "".join(rng.choice("abcZ \u00e9\u4e2d\U0001f600\x00,\"'") for _ in range(rng.randint(0, 6)))
    if rng.random() < PLAIN:
        return "Ann " + core.replace("\x00", "")
    pad = "".join(rng.choice(WHITESPACE) for _ in range(rng.randint(0, 2)))
    return rng.choice(
        [
            core,
            pad + core + pad[::-1],
            "x" * rng.choice([254, 255, 256]),
            "\u00e9" * rng.choice([255, 256]) + pad,
            pad,
        ]
    )


def _datetime_text(rng: random.Random) -> str:
    seed = rng.choice(SEEDS)
    if rng.random() < PLAIN:
        return seed
    text = rng.choice(list(near_misses(seed)))
    pad = rng.choice(["", " ", "\t", "\u3000", "\u00a0", "\x1c"])
    return pad + text + pad if rng.random() < 0.3 else text


TEXTS = {dictionary.INTEGER: _integer_text, dictionary.STRING: _string_text, dictionary.DATETIME: _datetime_text}


PLAIN_TEXT = {dictionary.INTEGER: "7", dictionary.STRING: "Ann", dictionary.DATETIME: SEEDS[0]}


def fuzzed_records(table: dictionary.Table, count: int, seed: int) -> list[list[str]]:
    """Each odd integer in each integer column of an otherwise plain record, then `count` fuzzed records."""
    plain = [PLAIN_TEXT[column.type] for column in table.columns]
    records = [
        [*plain[:i], odd, *plain[i + 1 :]]
        for i, column in enumerate(table.columns)
        if column.type == dictionary.INTEGER
        for odd in ODD_INTEGERS
    ]
    rng = random.Random(seed)
    for _ in range(count):
        record = [TEXTS[column.type](rng) for column in table.columns]
        if rng.random() < 0.03:
            record = record[: rng.randint(0, len(record) - 1)] if rng.random() < 0.5 else [*record, "extra"]
        records.append(record)
    return records


def test_the_spark_rules_decide_every_fuzzed_record_as_the_python_rules_do(spark):
    for seed, table in enumerate(dictionary.TABLES.values()):
        records = fuzzed_records(table, 4000, seed)
        decided = spark_rules(spark, table, records)
        wrong = []
        for record, (ok, values) in zip(records, decided):
            typed, _ = check_fields(table, record)
            expected = (typed is not None, typed if typed is not None else (None,) * len(table.columns))
            if (ok, values) != expected:
                wrong.append((record, (ok, values), expected))
        assert wrong[:5] == [], table.name
        accepted = sum(ok for ok, _ in decided)
        assert 400 < accepted < len(records) - 400, (table.name, accepted)  # both sides exercised


def test_the_spark_strip_removes_every_character_python_calls_whitespace():
    assert field_rules._whitespace() == WHITESPACE
