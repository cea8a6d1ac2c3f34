"""Numbered lines read in chunks: every byte once, in order, whatever the chunk boundaries."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from havre.core.errors import DataValidationError
from havre.lake.textfiles import (
    CHUNK_BYTES,
    CHUNKS_PER_FILE,
    MIN_CHUNK_BYTES,
    LineReader,
    chunk_bytes_for,
)

CASES = [
    b"a;b\n1;2\n",
    b"a;b\n1;2",  # no line end at the end
    b"a;b\r\n1;2\r\n\r\nlong line " + b"x" * 50 + b"\r\n",
    b"\n\n\n",
    b"x",
    b"",
    b"only one very long line without any end " * 20,
]


@pytest.mark.parametrize("content", CASES)
@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 1 << 20])
def test_lines_are_numbered_and_complete(tmp_path: Path, content: bytes, chunk: int) -> None:
    crlf = b"\r\n" in content
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    reader = LineReader(path, chunk_bytes=chunk, crlf=crlf)
    batches = list(reader.batches())
    raw = [value for batch in batches for value in batch.column("raw").to_pylist()]
    numbers = [value for batch in batches for value in batch.column("line_no").to_pylist()]
    end = b"\r\n" if crlf else b"\n"
    expected = content if not content or content.endswith(b"\n") else content + end
    assert b"".join(raw) == expected
    assert all(line.endswith(b"\n") for line in raw)
    assert numbers == list(range(1, len(raw) + 1))
    assert reader.lines == len(raw)
    assert reader.bytes_read == len(content)


def test_gzip_files_are_read_decompressed(tmp_path: Path) -> None:
    path = tmp_path / "f.ndjson.gz"
    lines = [f'{{"n": {i}}}\n'.encode() for i in range(1000)]
    path.write_bytes(gzip.compress(b"".join(lines)))
    stream = LineReader(path, chunk_bytes=100).reader()
    assert [r for b in stream for r in b.column("raw").to_pylist()] == lines


def test_a_failed_read_is_kept_for_whoever_reads_the_stream(tmp_path: Path) -> None:
    path = tmp_path / "f.csv.gz"
    path.write_bytes(gzip.compress(b"a\nb\n" * 1000)[:-12])  # truncated gzip
    reader = LineReader(path, chunk_bytes=64)
    with pytest.raises(DataValidationError, match=r"f\.csv\.gz: read failed"):
        list(reader.batches())
    assert isinstance(reader.error, DataValidationError)


def test_a_file_is_read_in_several_batches_unless_tiny(tmp_path: Path) -> None:
    """The engine's threads share a stream batch by batch: a middling file must not be one."""
    line = b"x" * 99 + b"\n"
    middling = tmp_path / "middling.csv"
    middling.write_bytes(line * (CHUNKS_PER_FILE * MIN_CHUNK_BYTES // 50))  # 2 x the minimum
    batches = list(LineReader(middling).batches())
    assert len(batches) >= CHUNKS_PER_FILE
    assert sum(b.num_rows for b in batches) == CHUNKS_PER_FILE * MIN_CHUNK_BYTES // 50
    tiny = tmp_path / "tiny.csv"
    tiny.write_bytes(line * 10)
    assert len(list(LineReader(tiny).batches())) == 1
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:  # sparse: only its size is read
        handle.truncate(CHUNKS_PER_FILE * CHUNK_BYTES * 4)
    assert chunk_bytes_for(huge) == CHUNK_BYTES
    assert chunk_bytes_for(tmp_path / "missing.csv") == CHUNK_BYTES
