"""One chunk of persons, from identities to the bytes of every file part it contributes.

A chunk depends only on the plan, its index and its persons' identities, so chunks can be
made in any process, in any order, and written in chunk order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from havre.synth import care as care_model
from havre.synth import claims, fhir, fhir_json, omop, omop_csv, stays, tables
from havre.synth import history as history_model
from havre.synth.arrays import Array
from havre.synth.csvtext import csv_bytes
from havre.synth.defects import Context, Defects, applicable, choose, spoil_bytes, spoil_table
from havre.synth.geography import Providers, frame, providers
from havre.synth.population import Identities
from havre.synth.seeds import Stream, generator
from havre.synth.truth import Truth, measure


@dataclass(frozen=True)
class Plan:
    """What every chunk needs to know about the delivery."""

    seed: int
    persons: int
    start: int  # days
    end: int
    formats: tuple[str, ...]
    file_format: str  # csv or parquet
    dirty_rate: float

    @property
    def text(self) -> bool:
        return self.file_format == "csv"


@dataclass
class FilePart:
    """A chunk's rows for one file: bytes (CSV, NDJSON) or a table (Parquet)."""

    name: str  # path relative to the delivery root
    payload: bytes | pa.Table
    rows: int
    optout_rows: int
    defects: Defects


@dataclass
class ChunkOutput:
    index: int
    persons: int
    rows: int
    parts: list[FilePart] = field(default_factory=list)
    truth: Truth = field(default_factory=Truth)
    communes: Array = field(default_factory=lambda: np.empty(0, np.int64))
    """Communes (frame indices) and care sites (FINESS) the chunk's OMOP rows refer to."""
    sites: Array = field(default_factory=lambda: np.empty(0, np.int64))


def _snds_part(
    plan: Plan,
    data: claims.TableData,
    rng: np.random.Generator,
    optout: Array,
    context: Context,
) -> FilePart:
    clean_only = optout[data.person]
    rows, kinds = choose(
        rng, plan.dirty_rate, clean_only, data.leaf, applicable(data.spec, data.event, plan.text)
    )
    table, found = data.table, Defects.none()
    later: dict[str, Array] = {}
    if len(rows):
        table, found, later = spoil_table(
            rng, data.spec, table, data.person, rows, kinds, context, plan.text
        )
    name = f"snds/{data.file_table}.{plan.file_format}"
    payload: bytes | pa.Table
    if plan.text:
        payload = spoil_bytes(csv_bytes(table), later, data.spec)
    else:
        payload = table.cast(data.spec.schema())
    return FilePart(name, payload, table.num_rows, int(clean_only.sum()), found)


def make_chunk(plan: Plan, index: int, ids: Identities) -> ChunkOutput:
    """Simulate and serialize one chunk of persons."""
    start, end = plan.start, plan.end
    history = history_model.simulate(ids, start, end, generator(plan.seed, Stream.HISTORY, index))
    care = care_model.simulate(ids, history, start, end, generator(plan.seed, Stream.CARE, index))
    pools: Providers = providers(plan.persons)
    hospital = stays.simulate(ids, history, pools, end, generator(plan.seed, Stream.STAYS, index))
    nir = claims.person_nirs(ids)
    output = ChunkOutput(index=index, persons=len(ids), rows=0)
    defects_rng = generator(plan.seed, Stream.DEFECTS, index)
    optout = ids.optout
    geo = frame()
    context = Context(birth=ids.birth, end=end, places=geo.nir_place[geo.corsica == 0])

    flats = fhir.build(
        ids, history, care, hospital, nir, index, end, generator(plan.seed, Stream.FHIR, index)
    )
    fhir_patients = flats[0].person
    if "snds" in plan.formats:
        parts = [
            *claims.ambulatory(
                ids, history, care, pools, nir, index, generator(plan.seed, Stream.CLAIMS, index)
            ),
            *claims.hospital(ids, hospital, nir, history.years, index),
            claims.long_term_conditions(ids, history, nir),
            claims.deaths(ids, history, nir, end),
        ]
        # A beneficiary row may only be spoiled if the person has no other record.
        has_records = np.zeros(len(ids), dtype=bool)
        for part in parts:
            if part.spec.nir:
                has_records[part.person] = True
        beneficiaries = claims.beneficiaries(ids, history, nir, end)
        beneficiaries.leaf = ~has_records
        for data in [beneficiaries, *parts]:
            output.parts.append(_snds_part(plan, data, defects_rng, optout, context))
    if "fhir" in plan.formats:
        output.parts.extend(_fhir_parts(plan, flats, defects_rng, optout, ids))
    output.parts.append(_optout_part(plan, ids, nir))
    if "omop" in plan.formats:
        warehouse, output.communes, output.sites = _omop_parts(plan, ids, history, flats, index)
        output.parts.extend(warehouse)
    output.rows = sum(part.rows for part in output.parts)
    clinic = int(
        np.unique(
            care.consultations["person"][care.consultations["kind"] == care_model.CLINIC]
        ).size
    )
    output.truth = measure(ids, history, care, end, fhir_patients, clinic)
    return output


def _fhir_parts(
    plan: Plan,
    flats: list[fhir.Flat],
    rng: np.random.Generator,
    optout: Array,
    ids: Identities,
) -> list[FilePart]:
    context = fhir_json.FhirContext(birth=ids.birth, end=plan.end)
    by_resource: dict[str, list[FilePart]] = {}
    connection = duckdb.connect(config={"threads": 1})
    try:
        for flat in flats:
            clean_only = optout[flat.person]
            payload, rows, found = fhir_json.serialize(
                connection, rng, flat, plan.dirty_rate, clean_only, context
            )
            name = f"fhir/{flat.resource}.000.ndjson"
            by_resource.setdefault(name, []).append(
                FilePart(name, payload, rows, int(clean_only.sum()), found)
            )
    finally:
        connection.close()
    merged = []
    for name, parts in by_resource.items():
        offsets = np.cumsum([0] + [part.rows for part in parts[:-1]])
        defects = Defects(
            np.concatenate([p.defects.row + o for p, o in zip(parts, offsets, strict=True)]),
            np.concatenate([p.defects.kind for p in parts]),
            np.concatenate([p.defects.field for p in parts]),
        )
        merged.append(
            FilePart(
                name,
                b"".join(p.payload for p in parts if isinstance(p.payload, bytes)),
                sum(p.rows for p in parts),
                sum(p.optout_rows for p in parts),
                defects,
            )
        )
    return merged


def _optout_part(plan: Plan, ids: Identities, nir: pa.Array) -> FilePart:
    chosen = np.flatnonzero(ids.optout)
    table = pa.table(
        {
            tables.OPTOUT_COLUMNS[0]: nir.take(pa.array(chosen)),
            tables.OPTOUT_COLUMNS[1]: pa.array(ids.optout_date[chosen], pa.int32()).cast(
                pa.date32()
            ),
        }
    )
    return FilePart("optout/optout.csv", csv_bytes(table), len(chosen), len(chosen), Defects.none())


def _omop_parts(
    plan: Plan, ids: Identities, history: history_model.History, flats: list[fhir.Flat], index: int
) -> tuple[list[FilePart], Array, Array]:
    """The warehouse's tables for the chunk (the places they name are written at the end)
    and its register of objections, by ``person_id``."""
    rows, communes, sites = omop.build(ids, history, flats, plan.seed, index, plan.end)
    rng = generator(plan.seed, Stream.OMOP, index)
    parts = [omop_part(rng, data, plan, ids) for data in rows]
    patients = flats[0].person
    objectors = patients[ids.optout[patients]]
    table = pa.table(
        {
            omop.OPTOUT_COLUMNS[0]: pa.array([omop.SOURCE_NAME] * len(objectors), pa.string()),
            omop.OPTOUT_COLUMNS[1]: pa.array(
                omop.source_person_ids(plan.seed, ids.index[objectors])
            ),
            omop.OPTOUT_COLUMNS[2]: pa.array(ids.optout_date[objectors], pa.int32()).cast(
                pa.date32()
            ),
        }
    )
    parts.append(
        FilePart(omop.OPTOUT_FILE, csv_bytes(table), len(objectors), len(objectors), Defects.none())
    )
    return parts, communes, sites


def omop_part(
    rng: np.random.Generator, data: omop.OmopRows, plan: Plan, ids: Identities | None
) -> FilePart:
    optout = ids.optout if ids is not None else np.zeros(0, dtype=bool)
    birth = ids.birth if ids is not None else np.zeros(0, dtype=np.int32)
    written = omop_csv.part(rng, data, plan.dirty_rate, optout, birth, plan.seed)
    return FilePart(
        omop.file_name(data.table),
        written.data,
        written.rows,
        written.optout_rows,
        written.defects,
    )
