"""The data a risk assessment reads: a named relation in an engine (DuckDB or Spark).

The permit review builds the relation from the lake; stewards give a Parquet or CSV file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.csv as pacsv

from havre.core.errors import DataValidationError, NotFoundError, UsageError
from havre.core.ids import new_id
from havre.lake.engine import Engine

if TYPE_CHECKING:
    import pyarrow.dataset as ds


def quote(identifier: str) -> str:
    """A SQL identifier, quoted so that any column name is taken literally."""
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True)
class Relation:
    engine: Engine
    name: str

    @property
    def sql(self) -> str:
        return quote(self.name)

    def columns(self) -> list[str]:
        return list(self.engine.sql(f"SELECT * FROM {self.sql} LIMIT 0").schema.names)

    def require(self, columns: Sequence[str], what: str = "extract") -> None:
        present = self.columns()
        missing = [c for c in columns if c not in present]
        if missing:
            raise UsageError(
                f"The {what} has no column {', '.join(repr(c) for c in missing)}",
                hint=f"its columns are: {', '.join(present)}",
            )


def register(engine: Engine, data: pa.Table | ds.Dataset, prefix: str = "risk_input") -> Relation:
    """Make Arrow data (a table or a lazily scanned dataset) a relation of ``engine``."""
    name = new_id(prefix)
    engine.register(name, data)
    return Relation(engine, name)


def open_file(path: Path, columns: Sequence[str] | None = None) -> ds.Dataset:
    """A Parquet or CSV file as a lazily scanned dataset (memory stays bounded).

    CSV columns are read as text: codes such as communes ``01001`` keep their leading zeros,
    and the hierarchies cast what they need.
    """
    import pyarrow.dataset as ds  # on use: importing it loads pandas (~0.2 s of every start)

    if not path.exists():
        raise NotFoundError(f"No file {path}", hint="give the path of a .parquet or .csv file")
    suffix = path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            return ds.dataset(path, format="parquet")
        if suffix in {".csv", ".txt"}:
            header = _header(path)
            delimiter = ";" if header.count(";") > header.count(",") else ","
            names = [name.strip().strip('"') for name in header.split(delimiter)]
            wanted = list(columns) if columns is not None else names
            csv_format = ds.CsvFileFormat(
                parse_options=pacsv.ParseOptions(delimiter=delimiter),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(wanted, pa.string()),
                    strings_can_be_null=True,
                    null_values=[""],
                ),
            )
            return ds.dataset(path, format=csv_format)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataValidationError(
            f"Cannot read {path}: {exc}", hint="check that the file is a valid Parquet or CSV file"
        ) from None
    raise UsageError(
        f"Cannot assess {path.name}: unknown file type {suffix or '(none)'}",
        hint="give a .parquet or .csv file",
    )


def _header(path: Path) -> str:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        line = handle.readline().rstrip("\r\n")
    if not line:
        raise DataValidationError(f"{path} is empty: a CSV needs a header row")
    return line.removeprefix("\ufeff")
