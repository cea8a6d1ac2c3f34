"""Delivered text files, line by line, on Spark: the rows of ``LineReader``, read by the executors.

Spark's text source, split on ``\n`` alone, gives a row per line without its line end; it does
not check UTF-8, so a row cast to binary holds the line's bytes as delivered (a lone ``\r``
stays in its line). Two things it loses are put back from the file's first and last bytes,
read on the driver: the UTF-8 byte-order mark it drops from line 1, and whether the last line
had its line end (a CRLF file's last line without one is ended with CR LF, as LineReader does).

It does not say where a line is in the file. Each partition of the scan reads one split of
the file, in order, and ``monotonically_increasing_id`` holds the partition's index and the
row's place in it: a first pass counts the lines of every split, and a line's number is the
count of the splits before its own plus its place in it. One row per split reaches the
driver; no task sees more than its split.

Spark chooses the splits when it plans a query, from the file's size, the partition settings
and the cluster's cores at that moment: two queries may split a file differently, and numbers
counted for one layout would be wrong in another. So the first pass caches the rows with
their ids (memory, then local disk, encrypted like every spill) and every query numbers the
cached rows. A row whose split is not one counted fails its query rather than take a wrong
number (the cache released, then the file scanned again in other splits).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from havre.core.errors import DataValidationError
from havre.lake.textfiles import CHUNK_BYTES, open_binary

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

BYTE_ORDER_MARK = b"\xef\xbb\xbf"
# monotonically_increasing_id(): the partition's index above bit 33, the row's place below
ROW_BITS = 33
# Spark expands glob patterns in the paths it reads: a file name's own brackets are escaped
_GLOB = re.compile(r"([\\*?\[\]{}])")
_CAUSE = re.compile(r"^Caused by: (?:[\w$]+\.)*([\w$]+(?::.*)?)$", re.MULTILINE)


@dataclass(frozen=True)
class SparkLines:
    """A file's numbered lines: ``frame`` (``line_no`` BIGINT, ``raw`` BINARY) and how many
    there are (the header is line 1). ``frame`` reads ``cache``, the executors' copy of the
    file's rows, until ``release``; then a query of it reads the file again, and fails if Spark
    splits it otherwise."""

    frame: DataFrame
    lines: int
    cache: DataFrame

    def count(self) -> int:
        """``Lines.count``: counted when the file was read."""
        return self.lines

    def failure(self) -> DataValidationError | None:
        """``Lines.failure``: none, a file that cannot be read fails ``read_lines`` itself."""
        return None

    @property
    def shaped(self) -> bool:
        """``Lines.shaped``: no, the statements match a line's shape themselves."""
        return False

    def release(self) -> None:
        self.cache.unpersist(blocking=False)


@dataclass(frozen=True)
class _Splits:
    """Per partition of the cached scan: its split's first byte, and the lines before it."""

    starts: list[int]
    before: list[int]
    lines: int


def read_lines(session: SparkSession, path: Path, *, crlf: bool) -> SparkLines:
    """The rows of ``LineReader(path, crlf=crlf)``, read and cached by the executors.

    The file is read once here: a file that cannot be read is a ``DataValidationError`` naming
    it, raised now, not by the first query of its lines."""
    from pyspark import StorageLevel
    from pyspark.sql import functions

    if not path.is_file():
        raise DataValidationError(f"{path.name}: read failed (not a file).")
    marked = _head(path, len(BYTE_ORDER_MARK)) == BYTE_ORDER_MARK
    try:
        scanned = (
            session.read.option("lineSep", "\n")
            .option("wholetext", False)
            # a truncated gzip must fail the read, whatever the session's settings say
            .option("ignoreCorruptFiles", False)
            .option("ignoreMissingFiles", False)
            .text(glob_escaped(path))
        )
    except Exception as exc:
        raise DataValidationError(f"{path.name}: read failed ({java_reason(exc)}).") from None
    cache = scanned.select(
        functions.monotonically_increasing_id().alias("row_id"),
        functions.col("_metadata.file_block_start").alias("split_start"),
        functions.col("value").cast("binary").alias("raw"),
    ).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        splits = _count_splits(cache)
    except Exception as exc:
        cache.unpersist(blocking=False)
        raise DataValidationError(f"{path.name}: read failed ({java_reason(exc)}).") from None
    line_end = b"\r\n" if crlf else b"\n"
    if marked and not splits.lines:
        # the file is a byte-order mark alone: Spark drops it, and with it the only line
        only = session.createDataFrame(
            [(1, BYTE_ORDER_MARK + line_end)], "line_no BIGINT, raw BINARY"
        )
        return SparkLines(frame=only, lines=1, cache=cache)
    line_no = functions.col("line_no")
    lf = functions.lit(bytearray(b"\n"))
    end = lf
    if crlf and splits.lines and not _ends_with_lf(path):
        # LineReader ends a last line left without its line end with the file's: CR LF
        end = functions.when(line_no == splits.lines, functions.lit(bytearray(line_end)))
        end = end.otherwise(lf)
    parts = [functions.col("raw"), end]
    if marked:
        mark = functions.lit(bytearray(BYTE_ORDER_MARK))
        parts.insert(0, functions.when(line_no == 1, mark).otherwise(functions.lit(bytearray())))
    numbered = cache.select(_line_no(splits, path).alias("line_no"), "raw")
    frame = numbered.select("line_no", functions.concat(*parts).alias("raw"))
    return SparkLines(frame=frame, lines=splits.lines, cache=cache)


def _partition() -> Column:
    from pyspark.sql import functions

    return functions.shiftright("row_id", ROW_BITS)


def _count_splits(cache: DataFrame) -> _Splits:
    """The first pass: it fills the cache, and counts the rows each partition holds."""
    from pyspark.sql import functions

    counts = (
        cache.groupBy(_partition().alias("partition"))
        .agg(
            functions.min("split_start").alias("start"),
            functions.count(functions.lit(1)).alias("rows"),
        )
        .collect()
    )
    # a split where no line starts (inside a long line) has no row, and no entry is read
    size = max((row["partition"] for row in counts), default=0) + 1
    starts = [-1] * size
    before = [0] * size
    lines = 0
    for row in sorted(counts, key=lambda row: row["start"]):
        starts[row["partition"]] = row["start"]
        before[row["partition"]] = lines
        lines += row["rows"]
    return _Splits(starts=starts, before=before, lines=lines)


def _line_no(splits: _Splits, path: Path) -> Column:
    """A cached row's line number: the lines of the splits before its own, plus its place."""
    from pyspark.sql import functions

    index = (_partition() + 1).cast("int")
    counted = functions.try_element_at(functions.lit(splits.starts), index)
    place = functions.col("row_id").bitwiseAND((1 << ROW_BITS) - 1)
    number = functions.try_element_at(functions.lit(splits.before), index) + place + 1
    failure = functions.raise_error(
        functions.lit(f"{path.name}: the lines were read in other splits than counted.")
    )
    return (
        functions.when(counted == functions.col("split_start"), number)
        .otherwise(failure)
        .cast("bigint")
    )


def glob_escaped(path: Path) -> str:
    """The file's absolute path as Spark reads it: its own glob characters escaped."""
    return _GLOB.sub(r"\\\1", str(path.resolve()))


def _head(path: Path, size: int) -> bytes:
    try:
        with open_binary(path) as handle:
            return handle.read(size)
    except (OSError, EOFError) as exc:
        raise DataValidationError(f"{path.name}: read failed ({exc}).") from None


def _ends_with_lf(path: Path) -> bool:
    """Whether the file's last byte is LF: Spark's rows are the same with or without it.

    A gzip file is decompressed to its end (its size is not known before)."""
    try:
        with open_binary(path) as handle:
            if not path.name.endswith(".gz"):
                handle.seek(-1, os.SEEK_END)
                return handle.read(1) == b"\n"
            last = b""
            while chunk := handle.read(CHUNK_BYTES):
                last = chunk[-1:]
            return last == b"\n"
    except (OSError, EOFError) as exc:
        raise DataValidationError(f"{path.name}: read failed ({exc}).") from None


def java_reason(exc: BaseException) -> str:
    """The innermost cause Java gives (``EOFException: Unexpected end of input stream``), or
    the first line of the message: never its stack trace."""
    text = str(exc)
    causes = _CAUSE.findall(text)
    if causes:
        return str(causes[-1]).strip()[:300]
    lines = text.strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:300]
