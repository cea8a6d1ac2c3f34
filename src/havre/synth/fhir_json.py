"""FHIR R4 JSON lines from the flat resource tables, with DuckDB's ``to_json`` (which escapes
quotes, apostrophes and accents correctly), and the FHIR share of dirty records.

FHIR forbids ``null`` values: absent elements are stripped from the JSON, which is also how a
``missing_required`` defect removes a resource's ``subject`` or ``code``.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from havre.synth import defects as d
from havre.synth import vocab
from havre.synth.arrays import Array
from havre.synth.fhir import UNKNOWN_PATIENT_PREFIX, Flat

_REF = "CASE WHEN {col} IS NULL THEN NULL ELSE {{'reference': {col}}} END"
_CODE = (
    "CASE WHEN code IS NULL THEN NULL ELSE {{'coding': [{{'system': '{system}', "
    "'code': code, 'display': display}}]}} END"
)
_SUBJECT = _REF.format(col="subject")
_ENCOUNTER = _REF.format(col="encounter")


def _quantity(value: str, unit: str) -> str:
    return f"{{'value': {value}, 'unit': {unit}, 'system': '{vocab.SYSTEM_UCUM}', 'code': {unit}}}"


def _loinc(code: tuple[str, ...]) -> str:
    return (
        f"{{'coding': [{{'system': '{vocab.SYSTEM_LOINC}', 'code': '{code[0]}', "
        f"'display': '{code[1]}'}}]}}"
    )


TEMPLATES = {
    "patient": f"""{{'resourceType': 'Patient', 'id': id,
        'identifier': [{{'use': 'official', 'system': '{vocab.SYSTEM_INS}', 'value': ins}}],
        'name': [{{'use': 'official', 'family': family, 'given': [given]}}],
        'telecom': [{{'system': 'phone', 'value': phone, 'use': 'mobile'}}],
        'gender': gender, 'birthDate': birth_date, 'deceasedDateTime': deceased,
        'address': [{{'use': 'home', 'line': [line], 'city': city, 'postalCode': postal_code,
                      'country': 'FR'}}]}}""",
    "encounter": f"""{{'resourceType': 'Encounter', 'id': id, 'status': 'finished',
        'class': {{'system': '{vocab.SYSTEM_ACT_CODE}', 'code': class_code,
                   'display': class_display}},
        'subject': {_SUBJECT}, 'period': {{'start': start, 'end': "end"}},
        'serviceProvider': {{'identifier': {{'system': '{vocab.SYSTEM_FINESS}',
                                             'value': provider}}, 'display': provider_name}}}}""",
    "condition": f"""{{'resourceType': 'Condition', 'id': id,
        'clinicalStatus': {{'coding': [{{'system': '{vocab.SYSTEM_CONDITION_CLINICAL}',
                                          'code': 'active'}}]}},
        'category': [{{'coding': [{{'system': '{vocab.SYSTEM_CONDITION_CATEGORY}',
                                    'code': 'encounter-diagnosis'}}]}}],
        'code': {_CODE.format(system=vocab.SYSTEM_ICD10)},
        'subject': {_SUBJECT}, 'encounter': {_ENCOUNTER},
        'onsetDateTime': onset, 'recordedDate': recorded}}""",
    "quantity": f"""{{'resourceType': 'Observation', 'id': id, 'status': 'final',
        'category': [{{'coding': [{{'system': '{vocab.SYSTEM_OBSERVATION_CATEGORY}',
                                    'code': category}}]}}],
        'code': {_CODE.format(system=vocab.SYSTEM_LOINC)},
        'subject': {_SUBJECT}, 'encounter': {_ENCOUNTER}, 'effectiveDateTime': effective,
        'valueQuantity': CASE WHEN "integer" THEN to_json({_quantity("value::BIGINT", "unit")})
                         ELSE to_json({_quantity("value", "unit")}) END}}""",
    "pressure": f"""{{'resourceType': 'Observation', 'id': id, 'status': 'final',
        'category': [{{'coding': [{{'system': '{vocab.SYSTEM_OBSERVATION_CATEGORY}',
                                    'code': 'vital-signs'}}]}}],
        'code': CASE WHEN code IS NULL THEN NULL ELSE {{'coding': [{{
            'system': '{vocab.SYSTEM_LOINC}', 'code': code, 'display': display}}]}} END,
        'subject': {_SUBJECT}, 'encounter': {_ENCOUNTER}, 'effectiveDateTime': effective,
        'component': [
            {{'code': {_loinc(vocab.LOINC_SYSTOLIC)},
              'valueQuantity': {_quantity("systolic", "'mm[Hg]'")}}},
            {{'code': {_loinc(vocab.LOINC_DIASTOLIC)},
              'valueQuantity': {_quantity("diastolic", "'mm[Hg]'")}}}]}}""",
    "medication": f"""{{'resourceType': 'MedicationRequest', 'id': id, 'status': 'active',
        'intent': 'order',
        'medicationCodeableConcept': {_CODE.format(system=vocab.SYSTEM_ATC)},
        'subject': {_SUBJECT}, 'encounter': {_ENCOUNTER}, 'authoredOn': authored}}""",
    "procedure": f"""{{'resourceType': 'Procedure', 'id': id, 'status': 'completed',
        'code': {_CODE.format(system=vocab.SYSTEM_SNOMED)},
        'subject': {_SUBJECT}, 'encounter': {_ENCOUNTER}, 'performedDateTime': performed}}""",
}

# Per shape: (date column, JSON element), (code column vocabulary, JSON element).
DATES = {
    "condition": ("onset", "onsetDateTime"),
    "quantity": ("effective", "effectiveDateTime"),
    "pressure": ("effective", "effectiveDateTime"),
    "medication": ("authored", "authoredOn"),
    "procedure": ("performed", "performedDateTime"),
}
CODES = {
    "condition": ("icd10", "code"),
    "quantity": ("loinc", "code"),
    "pressure": ("loinc", "code"),
    "medication": ("atc", "medicationCodeableConcept"),
}
LEAVES = frozenset(DATES)


def _prepare(flat: Flat) -> pa.Table:
    table = flat.table
    if flat.shape == "pressure":
        size = table.num_rows
        table = table.append_column("code", pa.array([vocab.LOINC_BP_PANEL[0]] * size))
        table = table.append_column("display", pa.array([vocab.LOINC_BP_PANEL[1]] * size))
    return table


def to_json(connection: duckdb.DuckDBPyConnection, shape: str, table: pa.Table) -> pa.Array:
    """One compact JSON document per row, in row order, without null elements."""
    numbered = table.append_column("__row", pa.array(np.arange(table.num_rows)))
    connection.register("resources", numbered)
    try:
        result = connection.sql(
            "SELECT regexp_replace(to_json(" + TEMPLATES[shape] + "), "
            "',\"[A-Za-z]+\":null', '', 'g') AS line FROM resources ORDER BY __row"
        ).to_arrow_table()
    finally:
        connection.unregister("resources")
    return result.column("line").combine_chunks()


@dataclass(frozen=True)
class FhirContext:
    birth: Array  # chunk-local person -> birth day
    end: int


def spoil(
    rng: np.random.Generator,
    flat: Flat,
    table: pa.Table,
    rows: Array,
    kinds: Array,
    context: FhirContext,
) -> tuple[pa.Table, Array]:
    """Field defects on a flat resource table; returns it and the JSON element of each."""
    fields = np.full(len(rows), "", dtype="<U40")
    columns = {name: table.column(name).combine_chunks() for name in table.column_names}

    def put(kind: str, column: str, element: str, values: pa.Array | None = None) -> None:
        chosen = np.flatnonzero(kinds == kind)
        if not chosen.size:
            return
        fields[chosen] = element
        new = values if values is not None else pa.nulls(chosen.size, columns[column].type)
        columns[column] = pc.replace_with_mask(
            columns[column], pa.array(_mask(len(columns[column]), rows[chosen])), new
        )

    def chosen_rows(kind: str) -> Array:
        return np.asarray(rows[kinds == kind])

    if flat.shape in DATES:
        column, element = DATES[flat.shape]
        put(
            d.BAD_DATE,
            column,
            element,
            d.bad_dates(rng, columns[column].take(pa.array(chosen_rows(d.BAD_DATE)))),
        )
        out_of_range = chosen_rows(d.DATE_OUT_OF_RANGE)
        days = d.dates_out_of_range(rng, context.birth[flat.person[out_of_range]], context.end)
        put(d.DATE_OUT_OF_RANGE, column, element, pc.cast(d._dates(days), pa.string()))
    if flat.shape in CODES:
        vocabulary, element = CODES[flat.shape]
        unknown = [
            vocab.dotted_icd10(c) if vocabulary == "icd10" else c
            for c in d.UNKNOWN_CODES[vocabulary]
        ]
        count = int((kinds == d.UNKNOWN_CODE).sum())
        put(
            d.UNKNOWN_CODE,
            "code",
            element,
            pa.array(np.array(unknown)[rng.integers(0, len(unknown), count)]),
        )
    missing = np.flatnonzero(kinds == d.MISSING_REQUIRED)
    drop_code = (rng.random(missing.size) < 0.5) & ("code" in columns)
    for drop, column in ((~drop_code, "subject"), (drop_code, "code")):
        subset = missing[drop]
        if subset.size:
            fields[subset] = column
            columns[column] = pc.replace_with_mask(
                columns[column],
                pa.array(_mask(len(columns[column]), rows[subset])),
                pa.nulls(subset.size, pa.string()),
            )
    strangers = chosen_rows(d.UNKNOWN_PERSON)
    serial = pc.cast(pa.array(rng.integers(0, 10**8, len(strangers))), pa.string())
    put(
        d.UNKNOWN_PERSON,
        "subject",
        "subject",
        pc.binary_join_element_wise(
            pa.scalar("Patient/" + UNKNOWN_PATIENT_PREFIX), pc.utf8_lpad(serial, 8, "0"), ""
        ),
    )
    fields[kinds == d.WRONG_TYPE] = "valueQuantity.value"
    fields[kinds == d.INVALID_UTF8] = "display"
    return pa.table(columns), fields


def _mask(size: int, rows: Array) -> Array:
    mask = np.zeros(size, dtype=bool)
    mask[rows] = True
    return mask


def applicable(shape: str) -> list[str]:
    kinds = [d.DUPLICATE, d.INVALID_UTF8, d.MALFORMED_JSON]
    if shape in LEAVES:
        kinds += [d.BAD_DATE, d.DATE_OUT_OF_RANGE, d.MISSING_REQUIRED, d.UNKNOWN_PERSON]
    if shape in CODES:
        kinds.append(d.UNKNOWN_CODE)
    if shape == "quantity":
        kinds.append(d.WRONG_TYPE)
    return [kind for kind in d.KINDS if kind in kinds]


def lines_bytes(lines: pa.Array) -> tuple[bytes, Array]:
    """The lines joined, each ending with a newline, and each line's starting offset."""
    with_newline = pc.binary_join_element_wise(lines, pa.scalar(""), "\n").cast(pa.large_binary())
    offsets = np.frombuffer(with_newline.buffers()[1], dtype=np.int64)[
        with_newline.offset : with_newline.offset + len(with_newline) + 1
    ]
    data = with_newline.buffers()[2]
    if data is None:
        return b"", offsets[:-1]
    payload = data.to_pybytes()[offsets[0] : offsets[-1]]
    return payload, offsets[:-1] - offsets[0]


def serialize(
    connection: duckdb.DuckDBPyConnection,
    rng: np.random.Generator,
    flat: Flat,
    rate: float,
    clean_only: Array,
    context: FhirContext,
) -> tuple[bytes, int, d.Defects]:
    """NDJSON bytes of a flat resource table, its record count and its defects."""
    table = _prepare(flat)
    n = table.num_rows
    rows, kinds = d.choose(
        rng, rate, clean_only, np.full(n, flat.shape in LEAVES), applicable(flat.shape)
    )
    order = np.argsort(rows, kind="stable")
    rows, kinds = rows[order], kinds[order]
    fields = np.full(len(rows), "", dtype="<U40")
    if len(rows):
        table, fields = spoil(rng, flat, table, rows, kinds, context)
    lines = to_json(connection, flat.shape, table)
    duplicated = rows[kinds == d.DUPLICATE]
    if duplicated.size:
        lines = pa.concat_arrays([lines, lines.take(pa.array(duplicated))])
    wrong = rows[kinds == d.WRONG_TYPE]
    if wrong.size:
        texts = pc.replace_substring_regex(
            lines.take(pa.array(wrong)), '"value":(-?[0-9.]+)', '"value":"\\1"', max_replacements=1
        )
        lines = pc.replace_with_mask(lines, pa.array(_mask(len(lines), wrong)), texts)
    payload, starts = lines_bytes(lines)
    invalid = rows[kinds == d.INVALID_UTF8]
    found = pc.find_substring(lines.take(pa.array(invalid)), '"display":"').to_numpy()
    marker = len('"display":"')
    insert_at = starts[invalid] + np.where(found >= 0, found + marker, len('{"resourceType":"'))
    broken = rows[kinds == d.MALFORMED_JSON]
    length = pc.binary_length(lines.take(pa.array(broken))).to_numpy()
    cut_from = starts[broken] + (length * 0.6).astype(np.int64)
    payload = d.rewrite(payload, insert_at, cut_from, starts[broken] + length)
    final = rows.copy()
    final[kinds == d.DUPLICATE] = n + np.arange(duplicated.size)
    keep = np.argsort(final, kind="stable")
    return payload, len(lines), d.Defects(final[keep], kinds[keep].astype("<U20"), fields[keep])
