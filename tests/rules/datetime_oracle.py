"""A second statement of the datetime rule, written independently of `chalicelib.rules.fields`: a
character scanner and calendar arithmetic instead of a regular expression and `datetime.fromisoformat`;
and the texts to hold the rule's implementations against it (near misses of valid texts, and the other
forms `fromisoformat` knows). tests/rules checks the Python paths with it, tests/glue the Spark rule."""

from __future__ import annotations

import calendar
import itertools

DIGITS = "0123456789"  # ASCII only: other scripts' digits are not ISO 8601
MIN_YEAR, MAX_YEAR = 1000, 9999  # the years a MySQL DATETIME holds (the spec's bound)


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def epoch_seconds(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """Seconds since 1970-01-01T00:00:00 of a UTC date and time."""
    return days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second


LOWEST = epoch_seconds(MIN_YEAR, 1, 1)
HIGHEST = epoch_seconds(MAX_YEAR + 1, 1, 1) - 1


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text, self.at = text, 0

    def peek(self) -> str:
        return self.text[self.at : self.at + 1]

    def take(self, allowed: str) -> str | None:
        char = self.peek()
        if char and char in allowed:
            self.at += 1
            return char
        return None

    def number(self, width: int) -> int | None:
        chars = self.text[self.at : self.at + width]
        if len(chars) != width or any(c not in DIGITS for c in chars):
            return None
        self.at += width
        return int(chars)

    def digits(self) -> str:
        start = self.at
        while self.peek() and self.peek() in DIGITS:
            self.at += 1
        return self.text[start : self.at]


def oracle(value: str) -> int | None:
    """Seconds since 1970 (UTC, fraction dropped) of an ISO 8601 extended calendar date and time, as the
    spec states the rule; None when the rule refuses the text."""
    s = _Scanner(value.strip())
    parts = []  # YYYY-MM-DD, T (or t, or a space), HH:MM
    for width, separator in ((4, "-"), (2, "-"), (2, "Tt "), (2, ":"), (2, "")):
        number = s.number(width)
        if number is None or (separator and not s.take(separator)):
            return None
        parts.append(number)
    year, month, day, hour, minute = parts
    second = 0
    if s.take(":"):
        second = s.number(2)
        if second is None:
            return None
        if s.take(".,") and not s.digits():
            return None
    offset = 0
    if s.take("Zz"):
        pass
    elif sign := s.take("+-"):
        hours = s.number(2)
        if hours is None:
            return None
        minutes = 0
        if s.peek():
            s.take(":")
            minutes = s.number(2)
            if minutes is None:
                return None
        if hours > 23 or minutes > 59:
            return None
        offset = (hours * 60 + minutes) * 60 * (1 if sign == "+" else -1)
    if s.peek():  # anything left over
        return None
    if not 1 <= month <= 12 or year < 1 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    seconds = epoch_seconds(year, month, day, hour, minute, second) - offset
    return seconds if LOWEST <= seconds <= HIGHEST else None


def seconds_of(moment) -> int:
    """A naive UTC datetime as whole seconds since 1970 (its microseconds ignored), by the same arithmetic."""
    return epoch_seconds(moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


SEEDS = [
    "2021-11-07T02:48:42Z",  # the common form, the fast paths' own
    "2024-02-29T23:59:59Z",
    "1000-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2021-11-07T02:48:42+05:30",
    "2021-11-07 02:48:42.123456-0800",
    "2021-11-07t02:48z",
]
# Characters an ISO 8601 text or a near miss of one is made of.
ALPHABET = DIGITS + "-:TtZz .,+W/_\t\x00e\u0663\uff12\u00a0"


def near_misses(seed: str):
    """`seed` with one character replaced, inserted or deleted, in every way ALPHABET allows."""
    for i in range(len(seed) + 1):
        if i < len(seed):
            yield seed[:i] + seed[i + 1 :]
        for char in ALPHABET:
            yield seed[:i] + char + seed[i:]
            if i < len(seed):
                yield seed[:i] + char + seed[i + 1 :]


def two_character_changes(seed: str = SEEDS[0], alphabet: str = DIGITS[:3] + "9-:TZ W.+") -> list[str]:
    """`seed` with every pair of its characters replaced by every pair from `alphabet`."""
    texts = []
    for i, j in itertools.combinations(range(len(seed)), 2):
        for a, b in itertools.product(alphabet, repeat=2):
            texts.append(seed[:i] + a + seed[i + 1 : j] + b + seed[j + 1 :])
    return texts


# Forms datetime.fromisoformat (Python 3.11) reads that the rule refuses, and forms it refuses that the
# rule takes: the places where an implementation leaning on it would go wrong.
OTHER_FORMS = [
    "2021-W45-7T02:48:42Z", "2021W457T024842Z", "2021-W45T02:48:42Z", "20211107T024842Z", "20211107T02:48:42Z",
    "2021-11-07T024842Z", "2021-11-07T024842.5Z", "2021-11-07T0248Z", "2021-11-07T02Z", "2021-11-07T02:48:42.Z",
    "2021-11-07T02:48:42+05:75", "2021-11-07T02:48:42+0575", "2021-11-07T02:48:42+05:30:15", "2021-311T02:48:42Z",
    "2021-11-07T02:48:42.1234567Z", "2021-11-07T02:48:42,5z", "2021-11-07T02:48:42-00", "2021-11-07T02:48:42+23:59",
    "2021-11-07T02:48:42+24:00", "2021-11-07T02:48:42 +01:00", "2021-11-07T02:48:42+1", "2021-11-07T02:48:42+123",
    "0999-12-31T23:30:00-01:00", "9999-12-31T23:30:00-01:00", "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z",
    "2021-11-07T02:48:42\u00a0", "\u30002021-11-07T02:48:42Z", "2021-11-07T02:48:60Z", "2021-11-07T24:00:00Z",
]  # fmt: skip
