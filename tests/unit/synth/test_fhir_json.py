"""FHIR JSON escapes what names hold and never writes nulls."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pyarrow as pa

from havre.synth.fhir import Flat
from havre.synth.fhir_json import FhirContext, serialize, to_json
from havre.synth.seeds import Stream, generator

TRICKY = ["D'Almeida", 'Le "Grand"', "Back\\slash", "Noël-Müller", "Ñandú 東京"]


def patients(size: int) -> pa.Table:
    return pa.table(
        {
            "id": [f"pat-{i:08d}" for i in range(size)],
            "ins": ["184127645108946"] * size,
            "family": (TRICKY * size)[:size],
            "given": ["Zoé"] * size,
            "gender": ["female"] * size,
            "birth_date": ["1984-12-01"] * size,
            "deceased": [None] * (size - 1) + ["2020-02-29"],
            "line": ["3 place de l'Église"] * size,
            "city": ["L'Haÿ-les-Roses"] * size,
            "postal_code": ["94038"] * size,
            "phone": ["06 39 98 00 00"] * size,
        }
    )


def test_names_with_quotes_and_accents_are_valid_json() -> None:
    connection = duckdb.connect()
    lines = to_json(connection, "patient", patients(len(TRICKY))).to_pylist()
    parsed = [json.loads(line) for line in lines]
    assert [p["name"][0]["family"] for p in parsed] == TRICKY
    assert all("deceasedDateTime" not in p for p in parsed[:-1])
    assert parsed[-1]["deceasedDateTime"] == "2020-02-29"
    assert all("null" not in line for line in lines)
    assert parsed[0]["address"][0]["city"] == "L'Haÿ-les-Roses"


def test_serialized_lines_end_with_newlines_and_count() -> None:
    flat = Flat("Patient", "patient", patients(5), np.arange(5))
    payload, rows, found = serialize(
        duckdb.connect(),
        generator(1, Stream.DEFECTS, 0),
        flat,
        0.0,
        np.zeros(5, dtype=bool),
        FhirContext(birth=np.zeros(5, dtype=np.int32), end=20_000),
    )
    assert rows == 5 and len(found) == 0
    assert payload.endswith(b"\n") and payload.count(b"\n") == 5
    assert [json.loads(line)["id"] for line in payload.splitlines()] == [
        f"pat-{i:08d}" for i in range(5)
    ]
