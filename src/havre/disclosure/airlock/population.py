"""The population of an output: the set of persons its rows describe.

Its definition hash is the SHA-256 of the sorted set of (project) person ids, so two outputs
computed by different queries over the same persons are recognised as one population (an
earlier release of it is a known margin, not a difference). The set itself is kept encrypted
under the project's key, so the airlock knows exactly how two populations differ (persons
only in one or the other), not only their sizes; it is crypto-shredded with the workspace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from havre.core.hashing import sha256_bytes
from havre.disclosure.releases import PopulationOverlap, PopulationRef


def population_base(project_id: str) -> str:
    """Every output of a project is drawn from its workspace (project pseudonyms stay the same
    across refreshes), so all its populations are compared with one another."""
    return f"project:{project_id}"


@dataclass(frozen=True)
class Population:
    persons: pa.Array  # sorted distinct person ids, as text
    ref: PopulationRef

    def serialize(self) -> bytes:
        return serialize_persons(self.persons)


def serialize_persons(persons: pa.Array) -> bytes:
    sink = pa.BufferOutputStream()
    batch = pa.record_batch([persons], names=["person"])
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


def deserialize_persons(data: bytes) -> pa.Array:
    with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
        table = reader.read_all()
    return table.column("person").combine_chunks()


def population_of(
    rows: pa.Table, person: str, base: str, description: Mapping[str, Any]
) -> Population:
    column = pc.cast(rows.column(person), pa.string())
    unique = pc.drop_null(pc.unique(column.combine_chunks()))
    persons = pc.take(unique, pc.sort_indices(unique))
    definition = sha256_bytes(serialize_persons(persons))
    ref = PopulationRef(
        base=base, definition_hash=definition, size=len(persons), description=dict(description)
    )
    return Population(persons, ref)


def overlap(current: pa.Array, earlier: pa.Array) -> PopulationOverlap:
    """Persons only in the current population, and only in the earlier one (vectorized)."""
    shared_current = pc.sum(pc.is_in(current, value_set=earlier)).as_py() or 0
    shared_earlier = pc.sum(pc.is_in(earlier, value_set=current)).as_py() or 0
    return PopulationOverlap(
        only_current=len(current) - int(shared_current),
        only_earlier=len(earlier) - int(shared_earlier),
    )
