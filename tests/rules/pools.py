"""Field texts that trip the rules' implementations: per column type, tricky values and the common
form, and a mutator; the fast-path and line-path tests draw fuzzed records from them."""

import random

from chalicelib.rules.dictionary import (
    DATETIME,
    INTEGER,
    MAX_INTEGER,
    STRING,
)

# -- the fast path for CSV records --------------------------------------------------------------------

TRICKY = {
    INTEGER: [
        "1",
        "7",
        "007",
        "0",
        "00",
        "-3",
        "+3",
        " 5",
        "5 ",
        "4.5",
        "1e3",
        "\u00b2",
        "\u0661\u0662",
        "\uff11",
        str(MAX_INTEGER),
        str(MAX_INTEGER + 1),
        "9" * 30,
        "",
        " ",
        "n/a",
        "\t7",
    ],
    STRING: [
        "Ann",
        " Ann ",
        "Ana P\u00e9rez",
        "",
        "   ",
        "\t",
        "a" * 255,
        "a" * 256,
        " " + "a" * 255 + " ",
        "\u00e9" * 255,
        "x\x00y",
        "tab\there",
        "line\nbreak",
        "back\\slash",
        "Robert'); DROP TABLE jobs;--",
        "\u3000Kenji\u3000",
    ],
    DATETIME: [
        "2021-11-07T02:48:42Z",
        "2021-11-07T02:48:42z",
        "2021-11-07 02:48:42Z",
        "2021-11-07t02:48:42Z",
        "2021-02-30T10:00:00Z",
        "2024-02-29T10:00:00Z",
        "0999-01-01T00:00:00Z",
        "1000-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "2021-11-07T24:00:00Z",
        "2021-11-07T02:48+01Z",
        "2021-11-07T02:48:42.5Z",
        "2021-11-07T02:48:4Z",
        "20211107T024842Z",
        "2021-11-07T02:48:42+00:00",
        " 2021-11-07T02:48:42Z",
        "2021-11-07T02:48:42Z ",
        "2021-11-07T02:48:42",
        "2021-11-07",
        "yesterday",
        "",
        "2021-W45-7T02:48:42Z",
        "2021-11-07T024842.5Z",
        "2021-11-07T02:48:42\u0661",
        "\u0662021-11-07T02:48:42Z",
    ],
}
COMMON = {INTEGER: "42", STRING: "Ana P\u00e9rez", DATETIME: "2021-11-07T02:48:42Z"}


def mutated(text: str, rng: random.Random) -> str:
    chars = list(text or "x")
    for _ in range(rng.randint(1, 2)):
        chars[rng.randrange(len(chars))] = rng.choice("0129:-TtZz .+\u00e9\u0661\x00")
    return "".join(chars)
