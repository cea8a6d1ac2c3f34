"""Reading a person-level CSV file for a check, streamed (the file is never held whole)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from havre.core.errors import DataValidationError, UsageError


def csv_header(path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except FileNotFoundError:
        raise UsageError(f"No such input file: {path}") from None
    except UnicodeDecodeError:
        raise DataValidationError(
            f"{path} is not UTF-8 text", hint="re-export it as UTF-8"
        ) from None
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror}") from None
    if not header:
        raise DataValidationError(f"{path} is empty: a header line is expected")
    return header


def open_person_csv(
    path: Path,
    text_columns: Sequence[str],
    number_columns: Sequence[str] = (),
    block_size: int = 1 << 22,
) -> pa.RecordBatchReader:
    """A stream of the named columns: identifiers and levels as text (``01`` stays ``01``),
    values as numbers. Empty fields are missing values."""
    header = csv_header(path)
    wanted = [*text_columns, *number_columns]
    missing = [c for c in wanted if c not in header]
    if missing:
        raise DataValidationError(
            f"{path}: column(s) {', '.join(missing)} not found",
            hint=f"the header has: {', '.join(header)}",
        )
    types: dict[str, pa.DataType] = {c: pa.string() for c in text_columns}
    types.update({c: pa.float64() for c in number_columns})
    try:
        return pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=block_size),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                include_columns=list(dict.fromkeys(wanted)),
                strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise DataValidationError(f"{path} cannot be read as CSV: {exc}") from None
