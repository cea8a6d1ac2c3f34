"""Spark reads a delivered file into exactly the rows ``LineReader`` gives (line_no, raw)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from havre.core.errors import DataValidationError
from havre.lake.spark_lines import read_lines
from havre.lake.textfiles import LineReader

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from havre.lake.spark import SparkEngine

pytestmark = pytest.mark.spark

PARTITION_BYTES = "spark.sql.files.maxPartitionBytes"


def line_reader_rows(path: Path, crlf: bool) -> list[tuple[int, bytes]]:
    table = LineReader(path, crlf=crlf, chunk_bytes=4096).reader().read_all()
    return list(zip(table["line_no"].to_pylist(), table["raw"].to_pylist(), strict=True))


def spark_rows(session: SparkSession, path: Path, crlf: bool) -> list[tuple[int, bytes]]:
    lines = read_lines(session, path, crlf=crlf)
    try:
        table = lines.frame.orderBy("line_no").toArrow()
    finally:
        lines.release()
    assert lines.lines == table.num_rows
    assert str(table.schema.field("line_no").type) == "int64"
    assert str(table.schema.field("raw").type) == "binary"
    return list(zip(table["line_no"].to_pylist(), table["raw"].to_pylist(), strict=True))


def assert_same_rows(session: SparkSession, path: Path, crlf: bool) -> None:
    expected = line_reader_rows(path, crlf)
    assert spark_rows(session, path, crlf) == expected


@pytest.fixture
def small_partitions(spark: SparkEngine) -> Iterator[SparkSession]:
    """The session with 64 KiB file splits: a file of a megabyte is read by many tasks."""
    session = spark.session
    before = session.conf.get(PARTITION_BYTES)
    session.conf.set(PARTITION_BYTES, str(64 << 10))
    try:
        yield session
    finally:
        if before is None:
            session.conf.unset(PARTITION_BYTES)
        else:
            session.conf.set(PARTITION_BYTES, before)


CASES = {
    "lf_ended": (b"H;A\n1;x\n2;y\n", False),
    "lf_open": (b"H;A\n1;x\n2;y", False),
    "crlf_ended": (b"H;A\r\n1;x\r\n2;y\r\n", True),
    "crlf_open": (b"H;A\r\n1;x\r\n2;y", True),
    # a CRLF file cut after the CR of its last line: LineReader still appends CR LF
    "crlf_open_after_cr": (b"H;A\r\n1;x\r\n2;y\r", True),
    # a CRLF file whose last line ends with LF alone keeps it as it is
    "crlf_last_lf": (b"H;A\r\n1;x\n", True),
    "lone_cr": (b"H;A\n1;x\ry\n2;z\n", False),
    "invalid_utf8": (b"H;A\n1;\xff\xfe\n2;\xc3\n\xe9t\xe9\n", False),
    "empty_lines": (b"H;A\n\n1;x\n\n\n", False),
    "only_line_ends": (b"\n\n", False),
    # Spark drops a byte-order mark from line 1; LineReader keeps it (read_header drops it)
    "byte_order_mark": (b"\xef\xbb\xbfH;A\r\n1;x\r\n", True),
    "byte_order_mark_twice": (b"\xef\xbb\xbf\xef\xbb\xbfH;A\n1;x", False),
    "byte_order_mark_empty_line": (b"\xef\xbb\xbf\n1;x\n", False),
    "byte_order_mark_alone": (b"\xef\xbb\xbf", False),
    "byte_order_mark_alone_crlf": (b"\xef\xbb\xbf", True),
    "byte_order_mark_later": (b"H;A\n\xef\xbb\xbf1;x\n", False),
    "single_line": (b"H;A", False),
    "single_line_crlf": (b"H;A", True),
    "single_line_ended": (b"H;A\n", False),
    "empty": (b"", False),
    "empty_crlf": (b"", True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_rows_as_line_reader(spark: SparkEngine, tmp_path: Path, name: str) -> None:
    content, crlf = CASES[name]
    path = tmp_path / f"{name}.csv"
    path.write_bytes(content)
    assert_same_rows(spark.session, path, crlf)


@pytest.mark.parametrize(
    "name", ["lf_open", "crlf_ended", "crlf_open", "invalid_utf8", "byte_order_mark", "empty"]
)
def test_gzip_files_are_decompressed(spark: SparkEngine, tmp_path: Path, name: str) -> None:
    content, crlf = CASES[name]
    path = tmp_path / f"{name}.csv.gz"
    path.write_bytes(gzip.compress(content))
    assert_same_rows(spark.session, path, crlf)


def varied_lines(count: int, end: bytes) -> bytes:
    # lengths from 1 to 120 bytes, some invalid UTF-8, some lone CRs, some empty lines
    lines = [b"H;A"]
    for number in range(1, count):
        body = b"%d;" % number + b"x" * (number * 7919 % 113)
        if number % 501 == 0:
            body += b"\xff"
        if number % 777 == 0:
            body += b"\rcr"
        lines.append(b"" if number % 1000 == 0 else body)
    return end.join(lines)


@pytest.mark.parametrize(("end", "final"), [(b"\n", b"\n"), (b"\r\n", b"")])
def test_numbering_across_partitions(
    small_partitions: SparkSession, tmp_path: Path, end: bytes, final: bytes
) -> None:
    path = tmp_path / "large.csv"
    path.write_bytes(varied_lines(20_000, end) + final)
    lines = read_lines(small_partitions, path, crlf=end == b"\r\n")
    try:
        assert lines.cache.rdd.getNumPartitions() > 5
        # queries number the cached rows: a new split size no longer changes them
        small_partitions.conf.set(PARTITION_BYTES, str(48 << 10))
        table = lines.frame.orderBy("line_no").toArrow()
    finally:
        lines.release()
    expected = LineReader(path, crlf=end == b"\r\n").reader().read_all()
    assert lines.lines == expected.num_rows == 20_000
    assert table["line_no"].to_pylist() == expected["line_no"].to_pylist()
    assert table["raw"].to_pylist() == expected["raw"].to_pylist()


def test_each_file_is_numbered_from_one(spark: SparkEngine, tmp_path: Path) -> None:
    first = tmp_path / "first.csv"
    second = tmp_path / "second.csv"
    first.write_bytes(b"H;A\n1;x\n2;y\n")
    second.write_bytes(b"H;B\n3;z\n")
    assert_same_rows(spark.session, first, False)
    assert_same_rows(spark.session, second, False)
    # both read before either is queried: each keeps its own numbering
    one = read_lines(spark.session, first, crlf=False)
    two = read_lines(spark.session, second, crlf=False)
    try:
        both = one.frame.unionByName(two.frame).orderBy("line_no", "raw").toArrow()
    finally:
        one.release()
        two.release()
    assert both["line_no"].to_pylist() == [1, 1, 2, 2, 3]
    assert both["raw"].to_pylist() == [b"H;A\n", b"H;B\n", b"1;x\n", b"3;z\n", b"2;y\n"]


def test_names_with_glob_characters_are_read_as_they_are(
    spark: SparkEngine, tmp_path: Path
) -> None:
    path = tmp_path / "table [2024] {a,b} *.csv"
    path.write_bytes(b"H;A\n1;x\n")
    (tmp_path / "table 2 a .csv").write_bytes(b"H;A\nother\n")
    assert_same_rows(spark.session, path, False)


def test_another_split_layout_fails_rather_than_misnumbers(
    small_partitions: SparkSession, tmp_path: Path
) -> None:
    path = tmp_path / "large.csv"
    path.write_bytes(varied_lines(20_000, b"\n") + b"\n")
    lines = read_lines(small_partitions, path, crlf=False)
    lines.release()  # without its cache, the next query scans the file again
    small_partitions.conf.set(PARTITION_BYTES, str(48 << 10))
    with pytest.raises(Exception, match="read in other splits than counted"):
        lines.frame.collect()


def test_unreadable_files_name_the_file(spark: SparkEngine, tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match=r"^missing\.csv: read failed"):
        read_lines(spark.session, tmp_path / "missing.csv", crlf=False)
    whole = gzip.compress(b"H;A\n" + b"1;x\n" * 50_000)
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataValidationError, match=r"^truncated\.csv\.gz: read failed") as caught:
        read_lines(spark.session, truncated, crlf=False)
    assert "\tat " not in str(caught.value)  # a reason, not a stack trace
    with pytest.raises(DataValidationError, match=r"^truncated\.csv\.gz: read failed"):
        read_lines(spark.session, truncated, crlf=True)
