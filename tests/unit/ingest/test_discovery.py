"""Hashing a delivery's files: side by side, numbered and reported as listed."""

from __future__ import annotations

from pathlib import Path

from havre.core.hashing import sha256_file
from havre.ingest.discovery import hash_files


def test_files_are_hashed_and_numbered_in_the_order_given(tmp_path: Path) -> None:
    sizes = [10, 300_000, 0, 5_000_000, 70]  # the largest is hashed first, listed fourth
    entries: list[tuple[Path, str, str, int | None]] = []
    for number, size in enumerate(sizes):
        path = tmp_path / f"T{number}.csv"
        path.write_bytes(bytes([number]) * size)
        entries.append((path, path.name, f"T{number}", None if number % 2 else size))
    reported: list[tuple[str, int, int]] = []
    files = hash_files(entries, tmp_path, lambda *event: reported.append(event))
    assert [f.file_id for f in files] == list(range(len(sizes)))
    assert [f.name for f in files] == [name for _, name, _, _ in entries]
    assert [f.sha256 for f in files] == [sha256_file(path) for path, *_ in entries]
    assert [f.bytes for f in files] == sizes
    assert [f.declared_rows for f in files] == [declared for *_, declared in entries]
    done = [event[1] for event in reported]
    assert done == sorted(done) and done[-1] == sum(sizes) and len(done) == len(sizes)
