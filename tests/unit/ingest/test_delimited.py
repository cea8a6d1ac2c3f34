"""Staging delimited files: what one relation over several files requires of them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from havre.ingest.delimited import DelimitedFormat, stage_delimited
from havre.ingest.fields import Field, Kind
from havre.ingest.model import SourceFile

FIELDS = (Field("CODE", required=True), Field("N", Kind.INTEGER))


def test_files_read_as_one_relation_must_give_the_same_extra_columns(tmp_path: Path) -> None:
    sources = []
    for number in (1, 2):
        path = tmp_path / f"T{number}.csv"
        path.write_bytes(b"CODE;N\nA;1\n")
        sources.append(SourceFile(number, path, path.name, f"T{number}", "0" * 64, 11))

    def extra(source: SourceFile) -> dict[str, str]:
        return {"year": "'15'"} if source.file_id == 1 else {"kind": "'B'"}

    ctx = cast(Any, SimpleNamespace())  # refused before the engine is asked anything
    with pytest.raises(ValueError, match=r"T2\.csv"):
        stage_delimited(
            ctx, "T", sources, FIELDS, DelimitedFormat(delimiter=";"), extra_columns=extra
        )
