"""Delivered text files, line by line, with line numbers — vectorized, in bounded memory.

Files are read in large chunks; NumPy finds the line ends and each chunk becomes one Arrow
batch of (``line_no``, ``raw``) without copying the bytes. ``raw`` keeps its line end (``\n``,
or ``\r\n``): ``line_sql`` decodes it and drops the line end in the engine. Lines stay
bytes until then, so invalid UTF-8 is refused line by line — one bad line is one quarantined
record, not a failed read. ``*.gz`` files are decompressed on the fly.

Given a line pattern (``shape``: a table's whole-line format, see ``havre.ingest.line_format``),
each batch also says which lines match it (``shape_ok``), matched by Arrow's RE2 as the batch
is made: the same engine and pattern as the SQL's ``regexp_full_match``, at less than half
its cost per line, and in the thread that reads the file.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from havre.core.arrays import integers
from havre.core.errors import DataValidationError

CHUNK_BYTES = 8 << 20
# a file is read in at least this many chunks, each of at least MIN_CHUNK_BYTES
CHUNKS_PER_FILE = 8
MIN_CHUNK_BYTES = 256 << 10
BLOCK_BYTES = 128 << 20
SNIFF_BYTES = 1 << 16
LINE_SCHEMA = pa.schema([("line_no", pa.int64()), ("raw", pa.binary())])
SHAPED_LINE_SCHEMA = LINE_SCHEMA.append(pa.field("shape_ok", pa.bool_()))

# SQL: the decoded line without its line end; NULL when the line is not valid UTF-8
LINE_SQL = "left(try(decode(raw)), -1)"
CRLF_LINE_SQL = "left(try(decode(raw)), -2)"


def line_sql(crlf: bool) -> str:
    """SQL decoding ``raw`` for a file with LF (or, with ``crlf``, CR LF) line ends."""
    return CRLF_LINE_SQL if crlf else LINE_SQL


def uses_crlf(path: Path) -> bool:
    """Whether the file's first line ends with CR LF (the rest is taken to do the same)."""
    head = sniff_text(path)
    end = head.find(b"\n")
    return end > 0 and head[end - 1 : end] == b"\r"


ProgressCallback = Callable[[int], None]
# only names shaped like column names are ever echoed in messages (never data values)
_COLUMN_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")


def open_binary(path: Path) -> io.BufferedIOBase:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    return cast(io.BufferedIOBase, path.open("rb"))


def sniff_text(path: Path) -> bytes:
    """The first bytes of a file, refusing what is clearly not text (NUL bytes, bad gzip)."""
    try:
        with open_binary(path) as handle:
            head = handle.read(SNIFF_BYTES)
    except (OSError, EOFError) as exc:
        raise DataValidationError(f"{path.name}: cannot be read ({exc}).") from None
    if b"\0" in head:
        raise DataValidationError(
            f"{path.name}: is a binary file, not a text file.",
            hint="check the delivery: this file is not what its name says",
        )
    return head


def chunk_bytes_for(path: Path) -> int:
    """How much of ``path`` each batch holds: ``CHUNK_BYTES``, or less for a file smaller than
    ``CHUNKS_PER_FILE`` such chunks. The engine's threads take a stream's batches in turn, so
    a file read as one batch (the persons of 100,000 beneficiaries: 6 MB) was checked by one
    thread while the other waited. (A gzipped file's size on disk is used: its chunks are
    smaller still.)"""
    try:
        size = path.stat().st_size
    except OSError:  # reading it will say why
        return CHUNK_BYTES
    return max(MIN_CHUNK_BYTES, min(CHUNK_BYTES, size // CHUNKS_PER_FILE))


class LineReader:
    """Streams a file as Arrow batches of numbered lines (line 1 is the first line)."""

    def __init__(
        self,
        path: Path,
        *,
        chunk_bytes: int | None = None,
        progress: ProgressCallback | None = None,
        crlf: bool = False,
        shape: str | None = None,
    ) -> None:
        self.path = path
        self.shape = shape
        self.schema = LINE_SCHEMA if shape is None else SHAPED_LINE_SCHEMA
        self.line_end = b"\r\n" if crlf else b"\n"
        self.chunk_bytes = chunk_bytes_for(path) if chunk_bytes is None else chunk_bytes
        self.progress = progress
        self.lines = 0
        self.bytes_read = 0
        # set when reading failed: an engine reading the stream reports the failure as its own
        self.error: DataValidationError | None = None

    def batches(self) -> Iterator[pa.RecordBatch]:
        carry = np.empty(0, dtype=np.uint8)
        try:
            with open_binary(self.path) as handle:
                while True:
                    # a fresh buffer per chunk: the batches made from it are handed on, not
                    # copied; the unfinished last line is carried to the front of the next one
                    buffer = np.empty(len(carry) + self.chunk_bytes, dtype=np.uint8)
                    buffer[: len(carry)] = carry
                    got = handle.readinto(buffer.data[len(carry) :])
                    if not got:
                        break
                    self.bytes_read += got
                    if self.progress is not None:
                        self.progress(got)
                    data = buffer[: len(carry) + got]
                    ends = np.flatnonzero(data == 10) + 1
                    if not len(ends):
                        carry = data
                        continue
                    carry = data[ends[-1] :].copy()
                    yield self._batch(data, ends)
        except (OSError, EOFError) as exc:
            self.error = DataValidationError(f"{self.path.name}: read failed ({exc}).")
            raise self.error from None
        if len(carry):
            # the last line has no line end: give it one so every value is trimmed alike
            data = np.concatenate([carry, np.frombuffer(self.line_end, dtype=np.uint8)])
            yield self._batch(data, np.array([len(data)]))

    def reader(self) -> pa.RecordBatchReader:
        """The lines as a stream: the engine's threads take its batches in turn, so the file
        is read while earlier batches are checked, in the memory of a few chunks."""
        return pa.RecordBatchReader.from_batches(self.schema, self.batches())

    def blocks(self, max_bytes: int = BLOCK_BYTES) -> Iterator[pa.Table]:
        """The lines as in-memory tables of about ``max_bytes``, for statements that want
        their input's size known up front (a stream's is not: see ``reader``)."""
        pending: list[pa.RecordBatch] = []
        size = 0
        for batch in self.batches():
            pending.append(batch)
            size += batch.nbytes
            if size >= max_bytes:
                yield pa.Table.from_batches(pending, self.schema)
                pending, size = [], 0
        if pending or self.lines == 0:
            yield pa.Table.from_batches(pending, self.schema)

    def _batch(self, data: npt.NDArray[np.uint8], ends: npt.NDArray[np.int64]) -> pa.RecordBatch:
        """One batch of the lines ending (exclusive) at ``ends`` in ``data``."""
        end = int(ends[-1])
        offsets = np.empty(len(ends) + 1, dtype=np.int32 if end < 2**31 else np.int64)
        offsets[0] = 0
        offsets[1:] = ends
        content = pa.py_buffer(data[:end])
        if offsets.dtype == np.int32:
            raw = pa.Array.from_buffers(
                pa.binary(), len(ends), [None, pa.py_buffer(offsets), content]
            )
        else:  # a chunk past 2 GiB (one huge line): large offsets, then the common type
            raw = pa.Array.from_buffers(
                pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), content]
            ).cast(pa.binary())
        first = self.lines + 1
        self.lines += len(ends)
        numbers = integers(np.arange(first, first + len(ends), dtype=np.int64))
        columns = [numbers, raw]
        if self.shape is not None:
            columns.append(shaped(raw, self.shape))
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)


def shaped(raw: pa.Array, shape: str) -> pa.Array:
    """Which lines (bytes, line end included) match ``shape`` whole, as the SQL's
    ``regexp_full_match(try(decode(raw)), shape)`` says for a line that is UTF-8 (for one that
    is not, the answer is left to the engine, which refuses the line before asking)."""
    return pc.match_substring_regex(raw.view(pa.string()), pattern=f"^(?:{shape})$")


def read_header(path: Path) -> str:
    """The first line of a text file, decoded (a UTF-8 byte-order mark is dropped).

    An empty file, a binary file or a first line that is not UTF-8 is a ``DataValidationError``
    naming the file. The header itself is never echoed: a file without a header would have a
    record, perhaps an identifier, in its first line.
    """
    head = sniff_text(path)
    if not head.strip():
        raise DataValidationError(f"{path.name}: the file is empty.", hint="check the delivery")
    first = head.split(b"\n", 1)[0]
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    try:
        return first.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise DataValidationError(
            f"{path.name}: line 1 is not UTF-8 text.", hint="deliveries are UTF-8"
        ) from None


def check_header(path: Path, header: str, expected: list[str], delimiter: str) -> None:
    """The header must list the expected columns, in order, case-insensitively."""
    found = [name.strip().upper() for name in header.split(delimiter)]
    wanted = [name.upper() for name in expected]
    if found == wanted:
        return
    if len(found) == 1:
        others = [d for d in (";", ",", "\t", "|") if d != delimiter and d in header]
        seen = f" (it looks {others[0]!r}-separated)" if others else ""
        raise DataValidationError(
            f"{path.name}: line 1 is not a {delimiter!r}-separated header{seen}.",
            hint=f"expected the columns {delimiter.join(expected)}",
        )
    if not all(_COLUMN_NAME.fullmatch(name) for name in found):
        raise DataValidationError(
            f"{path.name}: line 1 does not look like a header (a file without its header?).",
            hint=f"expected the columns {delimiter.join(expected)}",
        )
    missing = [name for name in wanted if name not in found]
    extra = [name for name in found if name not in wanted]
    detail = []
    if missing:
        detail.append(f"missing {', '.join(missing)}")
    if extra:
        detail.append(f"unexpected {', '.join(extra[:5])}")
    if not detail:
        detail.append("columns out of order")
    raise DataValidationError(
        f"{path.name}: the header does not match the table ({'; '.join(detail)}).",
        hint=f"expected the columns {delimiter.join(expected)}",
    )
