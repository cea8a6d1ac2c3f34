"""Building small data versions by hand, for lake tests."""

from __future__ import annotations

import pyarrow as pa

from havre.core.clock import isoformat
from havre.hub import Hub
from havre.lake import Lake
from havre.lake.manifest import (
    ColumnInfo,
    Counts,
    Encryption,
    IdentifierKind,
    Lineage,
    Manifest,
    QuarantineInfo,
    Reconciliation,
    TableInfo,
)
from havre.lake.version import DataVersionInfo

PEOPLE = pa.table({"person_id": [1, 2, 3], "commune": ["75056", "13055", "2A004"]})
REJECTS = pa.table({"source_file": ["x.csv"], "line_no": [7], "reason": ["bad_date"]})


def make_lake(hub: Hub) -> Lake:
    return Lake(hub.settings, hub.db, hub.keys, hub.clock)


def publish(
    lake: Lake, hub: Hub, dataset: str = "demo", delivery: str = "d" * 64
) -> DataVersionInfo:
    with lake.begin(dataset) as builder:
        files = builder.write_table("person", PEOPLE.to_reader())
        rejects = builder.write_quarantine(REJECTS.to_reader())
        counts = Counts(read=4, loaded=3, quarantined=1)
        manifest = Manifest(
            dataset=dataset,
            version=builder.version,
            created_at=isoformat(hub.clock.now()),
            created_by="operator:test",
            encryption=Encryption(key=builder.key_name, key_version=builder.key_version),
            tables=(
                TableInfo(
                    name="person",
                    rows=3,
                    columns=(
                        ColumnInfo(name="person_id", type="int64", required=True),
                        ColumnInfo(
                            name="commune", type="string", identifier=IdentifierKind.COMMUNE
                        ),
                    ),
                    files=files,
                ),
            ),
            quarantine=QuarantineInfo(
                rows=1,
                by_reason={"bad_date": 1},
                files=rejects,
                encryption=Encryption(
                    key=builder.quarantine_key_name, key_version=builder.quarantine_key_version
                ),
            ),
            reconciliation=Reconciliation(tables={"x": counts}, total=counts),
            lineage=Lineage(
                source_kind="test",
                source_name="test",
                delivery_sha256=delivery,
                source_files=(),
                steps=("hand-made",),
                software={},
                pseudonym_scheme={"label": "none"},
            ),
        )
        with hub.db.transaction() as session:
            return builder.publish(session, manifest)
