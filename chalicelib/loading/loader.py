"""Loading CSV files: the one streaming loader behind the S3 trigger, `POST /uploads/{table}` and the CLI.

A file goes in two passes over its bytes, so that a file that cannot be read is refused whole:

1. `check` reads the stream once, start to end: it must be UTF-8 (a BOM is allowed), hold no NUL
   byte and no physical line longer than `MAX_LINE_BYTES`, and parse as CSV (a quote left open, a
   quote followed by text, a field longer than csv's limit are errors); at least one record must have
   the table's number of fields. Any failure raises `UnreadableFile` and nothing has been written.
2. `load` reads the stream again. A background thread parses chunk n+1 and applies the field rules
   while this thread runs chunk n's transaction (`ingest.insert_candidates`: references and duplicates
   looked up, rows classified, valid rows stored through the backend's bulk path, rejections logged).
   Each chunk commits on its own. Plain text (no quote) takes the line path (`loading.lines`: one
   regular expression per table, no Python object per field); the rest the csv reader and
   `validation.candidates`. Both passes read plain text in pieces, not line by line.

A large load into an empty table defers the table's secondary keys (`Database.keys_deferred`, MySQL:
built in one ALTER at the end, restored by the next load if the process dies; docs/loading.md).

The price of the guarantee is reading the file twice: a second S3 GET, pinned to the first one's
ETag, or a second read of a local file or an in-memory body. The alternative, one transaction for the
whole file, would hold locks and undo space for millions of rows. If the load itself stops half-way (the
database went away), the chunks already committed stay: loading the same file again is safe, because
rows identical to the stored ones are no-ops and a rejection is logged once per (source, line, row).

Memory stays bounded whatever the file size: at most three chunks of `chunk_rows` records exist at a
time (being parsed, queued, in a transaction), physical lines are capped, and rejected rows stream to a
spooled temporary file for the report; only the first `KEEP_REJECTIONS` are kept for the answer.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import IO, Any

from chalicelib.db import Database, DatabaseError
from chalicelib.db.schema import DEFER_KEYS_MIN_ROWS  # the loader's own name: tests and the benchmark set it
from chalicelib.loading import ingest, lines
from chalicelib.loading.rejected_report import RejectedRowsReport
from chalicelib.rules import validation
from chalicelib.rules.dictionary import Table
from chalicelib.runtime.log import logger
from chalicelib.runtime.prefetch import Prefetch, tuned_interpreter

CHUNK_ROWS = 50_000  # per transaction; the report summary's upkeep costs per chunk about as much as 10k rows
MAX_LINE_BYTES = 1 << 20  # a record of this service is well under 2 KB; 1 MiB without a newline is not CSV
READ_BYTES = 1 << 20
# The line path's chunks keep no per-field objects once staged: by default twice as many rows per
# transaction, which halves the per-chunk costs (the summary's upsert is about as costly as 10k rows).
LINE_CHUNK_ROWS = 2 * CHUNK_ROWS
FIRST_CHUNK_ROWS = 5_000
PIECE_CHARS = 1 << 16  # the load reads plain text in pieces of whole lines of about this size
LINE_PATH = True  # False: every record through the csv reader (the benchmark measures both)
KEEP_REJECTIONS = 1000  # rejected rows kept in a LoadResult; all of them go to the log and the report
REPORT_MIN_REJECTED = 100  # "many rejections": from this many on, a load writes a rejected-rows report

Opener = Callable[[], Any]  # returns a fresh binary stream (anything with .read(n)) of the file
Progress = Callable[[int, int], None]  # (records done, bytes read)


class UnreadableFile(Exception):
    """The file as a whole cannot be loaded: not UTF-8, not CSV, or not there. Nothing was written."""

    def __init__(self, reason: str, line: int | None = None):
        super().__init__(reason)
        self.reason, self.line = reason, line

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line else self.reason


class LoadStopped(Exception):
    """The database failed part-way through a load: the chunks before `line` are committed and stay;
    loading the same file again finishes it (stored rows are no-ops, rejections are logged once)."""

    def __init__(self, message: str, result: LoadResult | None = None, line: int | None = None):
        super().__init__(message)
        self.result, self.line = result, line

    @classmethod
    def at(cls, line: int, result: LoadResult) -> LoadStopped:
        """The load stopped at `line`, having committed what `result` counts."""
        return cls(
            f"the database became unavailable at line {line}: the rows before it are stored "
            f"({result.records} records committed: {result.inserted} inserted, {result.unchanged} unchanged, "
            f"{result.rejected} rejected), the rest are not; load the same file again to finish "
            "(rows already stored are no-ops)",
            result,
            line,
        )


# -- reading ----------------------------------------------------------------------------------------


class _CheckedBytes(io.RawIOBase):
    """The bytes of a stream as they are read: counted, and checked to be UTF-8 with no NUL byte and no
    overlong line, with the line number of the first offence."""

    def __init__(self, stream: Any):
        super().__init__()
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.bytes_read = 0
        self._newlines = 0  # b"\n" seen before the current block
        self._line_bytes = 0  # bytes since the last line break

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        # A block is never longer than a line may be, so a line inside one block is short enough.
        data = self._stream.read(min(len(buffer), MAX_LINE_BYTES))
        if not data:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise UnreadableFile(
                    "not UTF-8: the file ends inside a multi-byte character", self._newlines + 1
                ) from None
            return 0
        self._check(data)
        n = len(data)
        buffer[:n] = data
        self.bytes_read += n
        self._newlines += data.count(b"\n")
        return n

    def _line_at(self, data: bytes, offset: int) -> int:
        return self._newlines + data.count(b"\n", 0, max(offset, 0)) + 1

    def _check(self, data: bytes) -> None:
        try:
            self._decoder.decode(data)
        except UnicodeDecodeError as exc:
            offset = exc.start - (len(exc.object) - len(data))  # the decoder may hold bytes of the last block
            bad = exc.object[exc.start : exc.start + 1].hex().upper()
            raise UnreadableFile(
                f"not UTF-8: byte 0x{bad} at offset {self.bytes_read + max(offset, 0)} cannot be decoded; "
                "save the file as UTF-8",
                self._line_at(data, offset),
            ) from None
        nul = data.find(b"\x00")
        if nul >= 0:
            raise UnreadableFile(
                "not a text file: it contains NUL bytes (a binary file, or UTF-16; save it as UTF-8)",
                self._line_at(data, nul),
            )
        last = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if last < 0:
            self._line_bytes += len(data)
        else:
            first = min(i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0)
            if self._line_bytes + first > MAX_LINE_BYTES:
                raise UnreadableFile(f"not CSV: a line longer than {MAX_LINE_BYTES} bytes", self._newlines + 1)
            self._line_bytes = len(data) - last - 1
        if self._line_bytes > MAX_LINE_BYTES:
            raise UnreadableFile(f"not CSV: a line longer than {MAX_LINE_BYTES} bytes", self._line_at(data, len(data)))


@contextlib.contextmanager
def _text(open_stream: Opener) -> Iterator[tuple[io.TextIOWrapper, _CheckedBytes]]:
    try:
        stream = open_stream()
    except OSError as exc:
        raise UnreadableFile(f"cannot be read: {exc.strerror or exc}") from None
    checked = _CheckedBytes(stream)
    # newline="": csv sees \r\n, \r and \n line ends itself, and newlines inside quoted fields survive.
    text = io.TextIOWrapper(io.BufferedReader(checked, READ_BYTES), encoding="utf-8-sig", newline="")
    try:
        yield text, checked
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


_CSV_ERRORS = {
    "unexpected end of data": "a quoted field is not closed before the end of the file",
    "expected after": "a quoted field is followed by text before the next comma",
    "field larger than field limit": "a field is longer than any value of this service (an unclosed quote?)",
}


def _records(lines: Iterable[str], before: int = 0) -> Iterator[tuple[int, list[str]]]:
    """(line number where the record starts, fields) for each record of `lines` (physical lines, as a
    text stream with ``newline=""`` gives them), numbered after `before` lines; blank lines are skipped."""
    reader = csv.reader(lines, strict=True)
    line = 0
    try:
        for fields in reader:
            start, line = before + line + 1, reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            yield start, fields
    except csv.Error as exc:
        message = str(exc)
        friendly = next((text for key, text in _CSV_ERRORS.items() if key in message), message)
        raise UnreadableFile(f"not valid CSV: {friendly}", before + reader.line_num or None) from None


class _Pieces:
    """The text in pieces of whole physical lines (the last may lack its line break)."""

    def __init__(self, text: io.TextIOWrapper, size: int | None = None):
        self.text, self.size, self.carry = text, size, ""

    def __iter__(self) -> Iterator[str]:
        while block := self.text.read(self.size or READ_BYTES):
            block = self.carry + block
            cut = block.rfind("\n") + 1
            if block.endswith("\r"):  # its \n may be in the next block
                cut = block.rfind("\n", 0, len(block) - 1) + 1
            self.carry = block[cut:]
            if cut:
                yield block[:cut]
        if self.carry:
            last, self.carry = self.carry, ""
            yield last

    def rest(self, piece: str) -> Iterator[str]:
        """The physical lines from `piece` (the last one yielded) to the end of the text."""
        # The partial line read ahead is completed from the text, so that no line is cut in two.
        head = piece + self.carry + (self.text.readline() if self.carry else "")
        return chain(io.StringIO(head, newline=""), self.text)


def _blocks(text: io.TextIOWrapper, size: int, first: int | None = None) -> Iterator[tuple[int, Any]]:
    """(lines before, a text of `size` whole physical lines, `first` in the first one) while the text is
    plain (`lines.plain_text`); from the first piece that is not, (lines before, an iterator of the rest
    of the text's lines, for the csv reader)."""
    if not LINE_PATH:
        yield 0, text
        return
    pieces = _Pieces(text, PIECE_CHARS)
    before, take, held, held_lines = 0, first or size, [], 0
    for piece in pieces:
        if not lines.plain_text(piece):
            yield before, chain(io.StringIO("".join(held), newline=""), pieces.rest(piece))
            return
        held.append(piece)
        held_lines += piece.count("\n")
        if held_lines >= take:
            joined, cut = "".join(held), 0
            while held_lines >= take:
                start = cut
                for _ in range(take):
                    cut = joined.index("\n", cut) + 1
                yield before, joined[start:cut]
                held_lines, before, take = held_lines - take, before + take, size
            held = [joined[cut:]]
    rest = "".join(held)
    if rest:
        yield before, rest


# -- pass 1: check ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileCheck:
    """What the check pass found: the file can be loaded, and how big it is."""

    records: int
    bytes: int


def check(open_stream: Opener, table: Table, progress: Progress | None = None) -> FileCheck:
    """Read the whole stream and make sure it can be loaded into `table`; raises UnreadableFile.

    Plain lines (no quote, no lone carriage return, none too long for the csv reader) are counted
    without the csv reader: it cannot refuse them, and each is one record of its commas plus one fields.
    """
    records = matching = 0
    width = len(table.columns)
    with _text(open_stream) as (text, counter):
        before, rest, pieces = 0, None, _Pieces(text)
        for piece in pieces if LINE_PATH else ():
            if not lines.plain_text(piece):
                # From here on, the csv reader (a quote may open a field that spans lines).
                rest = pieces.rest(piece)
                break
            records += lines.count_records(piece)
            matching = matching or lines.has_record_of(piece, width)
            before += piece.count("\n")
            if progress is not None:
                progress(records, counter.bytes_read)
        else:
            rest = text if not LINE_PATH else None
        for _, fields in _records(rest or (), before):
            records += 1
            if len(fields) == width:
                matching += 1
            if progress is not None and not records & 0xFFFF:
                progress(records, counter.bytes_read)
        size = counter.bytes_read
    if progress is not None:
        progress(records, size)
    if records and not matching:
        raise UnreadableFile(
            f"not a {table.name} file: no record has its {width} fields ({', '.join(table.column_names)})"
        )
    return FileCheck(records, size)


# -- pass 2: load -----------------------------------------------------------------------------------


@dataclass
class _Chunk:
    candidates: Sequence[validation.Candidate]
    prepared: ingest.Prepared
    bytes_read: int

    def discard(self) -> None:
        self.prepared.discard()


def _chunks(open_stream: Opener, db: Database, table: Table, chunk_rows: int) -> Iterator[_Chunk]:
    """The file's records in chunks of field-checked candidates, prepared for their transaction (run on
    the loader's parsing thread, see `load`): plain lines by the line path (`loading.lines`), the rest
    of the file from the first line that is not plain by the csv reader."""

    def chunk(records: list[tuple[int, list[str]]], bytes_read: int) -> _Chunk:
        batch = validation.candidates(table, records)
        return _Chunk(batch, ingest.Prepared.of(db, table, batch), bytes_read)

    records_of = lines.line_records(_records)
    with _text(open_stream) as (text, counter):
        # A small first chunk: the database starts on it while the parsing thread reads the next.
        lines_per_chunk = LINE_CHUNK_ROWS if chunk_rows == CHUNK_ROWS else chunk_rows
        for before, block in _blocks(text, lines_per_chunk, min(chunk_rows, FIRST_CHUNK_ROWS)):
            if isinstance(block, str):
                read = lines.LineChunk(table, block, before, records_of)
                if read.records:
                    batch = lines.Lazy(read.records, read.candidates)
                    yield _Chunk(batch, lines.prepared(db, table, read), counter.bytes_read)
                continue
            pending: list[tuple[int, list[str]]] = []
            for numbered in _records(block, before):
                pending.append(numbered)
                if len(pending) >= chunk_rows:
                    yield chunk(pending, counter.bytes_read)
                    pending = []
            if pending:
                yield chunk(pending, counter.bytes_read)


@dataclass
class LoadResult:
    """What a load did: counts, the first rejected rows, and where the rejected-rows report went."""

    table: str
    source: str
    records: int = 0
    inserted: int = 0
    unchanged: int = 0
    rejected: int = 0
    bytes: int = 0
    seconds: float = 0.0
    rejections: list[validation.Candidate] = field(default_factory=list)
    report: str | None = None

    def to_dict(self, rejections: bool = True) -> dict:
        body = {
            "table": self.table,
            "source": self.source,
            "received": self.records,
            "inserted": self.inserted,
            "unchanged": self.unchanged,
            "rejected_count": self.rejected,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
        }
        if rejections:
            body["rejected"] = [{"line": c.position, "row": c.raw, "reasons": c.reasons} for c in self.rejections]
            body["rejected_truncated"] = self.rejected > len(self.rejections)
        if self.report:
            body["report"] = self.report
        return body


def load(
    db: Database,
    table: Table,
    open_stream: Opener,
    source: str,
    *,
    checked: FileCheck | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
    report: RejectedRowsReport | None = None,
) -> LoadResult:
    """Load a CSV file (no header row) into `table`, chunk by chunk; each chunk is one transaction.

    `open_stream()` must give a fresh binary stream of the same bytes each time it is called: the file
    is checked whole first (unless `checked` says it was), then read again to load. `source` names the
    file in the rejection log (``s3://bucket/key``, an absolute path): keep it stable, so a re-delivered
    file logs no rejection twice. Rejected rows are logged with their line numbers, and written to
    `report` when one is given. Raises UnreadableFile (nothing written), a DatabaseError (nothing
    written) or LoadStopped (the database failed after some chunks were committed).
    """
    started = time.monotonic()
    if checked is None:
        checked = check(open_stream, table)
    result = LoadResult(table=table.name, source=source)
    db.restore_deferred_keys()  # a load that died with its table's keys dropped: build them first
    # A large first load goes into the primary key alone; the other keys are built once, at the end.
    deferring = db.keys_deferred(table) if checked.records >= DEFER_KEYS_MIN_ROWS else contextlib.nullcontext()
    try:
        # The next chunk is parsed and field-checked on a thread while this one is in its transaction.
        parsed = _chunks(open_stream, db, table, chunk_rows)
        with deferring, tuned_interpreter(), Prefetch(parsed, depth=1, name=f"csv-{table.name}") as chunks:
            for chunk in chunks:
                try:
                    batch = ingest.insert_candidates(db, table, chunk.candidates, source, prepared=chunk.prepared)
                except DatabaseError as exc:
                    if not result.records:
                        raise  # nothing stored: the failure as it is
                    line = chunk.candidates[0].position if chunk.candidates else 0
                    logger.error("load stopped part-way", extra={"source": source, "line": line, "error": str(exc)})
                    raise LoadStopped.at(line, result) from exc
                finally:
                    chunk.discard()
                result.records += len(chunk.candidates)
                result.inserted += batch.inserted
                result.unchanged += batch.unchanged
                result.rejected += len(batch.rejected)
                room = KEEP_REJECTIONS - len(result.rejections)
                if room > 0:
                    result.rejections.extend(batch.rejected[:room])
                if report is not None:
                    report.add(batch.rejected)
                result.bytes = chunk.bytes_read
                if progress is not None:
                    progress(result.records, chunk.bytes_read)
    except UnreadableFile as exc:
        # The check pass read it fine: the file changed under us. The committed chunks stay (loading
        # the same file again completes it); say so rather than pretend nothing was written.
        raise UnreadableFile(
            f"{exc.reason} (the file changed after it was checked; {result.records} records were loaded before this)",
            exc.line,
        ) from None
    result.bytes = checked.bytes
    result.seconds = time.monotonic() - started
    logger.info(
        "file loaded",
        extra={k: v for k, v in result.to_dict(rejections=False).items() if k != "rejected"},
    )
    return result


def open_file(path: str) -> Opener:
    """An opener for a local file (the CLI)."""
    return lambda: open(path, "rb")


def open_bytes(body: bytes) -> Opener:
    """An opener for bytes already in memory (an uploaded body)."""
    return lambda: io.BytesIO(body)


class _Reopened:
    """A caller's open stream, from where it was, as bytes; closing it leaves the caller's stream open."""

    def __init__(self, stream: IO, start: int):
        stream.seek(start)
        self._stream, self._text = stream, isinstance(stream, io.TextIOBase)
        self._left = b""

    def read(self, n: int) -> bytes:
        if not self._text:
            return self._stream.read(n)
        while len(self._left) < n:
            more = self._stream.read(max(n // 4, 1))
            if not more:
                break
            self._left += more.encode("utf-8")
        out, self._left = self._left[:n], self._left[n:]
        return out


def load_csv(db: Database, table: Table, stream: IO, source: str, chunk_rows: int = CHUNK_ROWS) -> LoadResult:
    """`load` from a seekable stream the caller holds open (text or binary), from its current position."""
    start = stream.tell()
    return load(db, table, lambda: _Reopened(stream, start), source, chunk_rows=chunk_rows)
