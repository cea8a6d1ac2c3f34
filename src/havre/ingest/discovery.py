"""Finding and hashing the files of a delivery, before reading any record."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from havre.core.errors import DataValidationError
from havre.core.hashing import sha256_file, sha256_value
from havre.ingest.context import Progress
from havre.ingest.ids import MAX_FILES
from havre.ingest.model import SourceFile

HASHERS = 2  # threads hashing a delivery's files


def hash_files(
    entries: list[tuple[Path, str, str, int | None]], root: Path, progress: Progress
) -> list[SourceFile]:
    """(path, name, table, declared rows) → hashed ``SourceFile``s, numbered in order."""
    if len(entries) > MAX_FILES:
        raise DataValidationError(
            f"{root}: {len(entries)} files; a delivery holds at most {MAX_FILES}.",
            hint="merge the files of each table, or split the delivery",
        )
    sizes = [path.stat().st_size for path, *_ in entries]
    total, done = sum(sizes), 0
    digests: dict[int, str] = {}
    # hashlib lets go of the GIL: files are hashed side by side, the largest first (at 1M
    # persons, 3.3 s on one thread against 2.4 s on two for 4.4 GB in the page cache)
    order = sorted(range(len(entries)), key=lambda number: -sizes[number])
    with ThreadPoolExecutor(max_workers=HASHERS, thread_name_prefix="havre-hash") as pool:
        pending = {pool.submit(sha256_file, entries[number][0]): number for number in order}
        for future in as_completed(pending):
            number = pending[future]
            digests[number] = future.result()
            done += sizes[number]
            progress("hashing the delivery", done, total)
    return [
        SourceFile(number, path, name, table, digests[number], sizes[number], declared)
        for number, (path, name, table, declared) in enumerate(entries)
    ]


def delivery_sha256(files: list[SourceFile]) -> str:
    """The delivery's identity: a hash of its files' names and contents."""
    return sha256_value(sorted([f.name, f.sha256] for f in files))


def relative_name(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return path.name


def parse_instant(text: object) -> dt.datetime | None:
    """An ISO 8601 instant from a delivery's manifest (UTC when it has no zone)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
