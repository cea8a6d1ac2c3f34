"""A small OMOP data version published in a hub's lake, for tests of the catalog wiring."""

from __future__ import annotations

import pyarrow as pa

from havre.cdm.omop import omop_table
from havre.core.clock import isoformat
from havre.hub import Hub
from havre.lake import DataVersionInfo
from havre.lake.manifest import (
    Counts,
    Encryption,
    Lineage,
    Manifest,
    QuarantineInfo,
    Reconciliation,
    TableInfo,
)

TABLES = ("person", "condition_occurrence", "location")


def publish_omop(hub: Hub, dataset: str = "snds") -> DataVersionInfo:
    """Empty tables with the lake's exact OMOP schemas and identifier tags."""
    lake = hub.lake
    rejects = pa.table({"source_file": ["x.csv"], "line_no": [1], "reason": ["bad_date"]})
    with lake.begin(dataset) as builder:
        infos = []
        for name in TABLES:
            spec = omop_table(name)
            files = builder.write_table(name, spec.schema.empty_table().to_reader())
            infos.append(
                TableInfo(
                    name=name,
                    rows=0,
                    columns=tuple(c.info() for c in spec.columns),
                    files=files,
                )
            )
        quarantine = builder.write_quarantine(rejects.to_reader())
        counts = Counts(read=1, quarantined=1)
        manifest = Manifest(
            dataset=dataset,
            version=builder.version,
            created_at=isoformat(hub.clock.now()),
            created_by="operator:test",
            encryption=Encryption(key=builder.key_name, key_version=builder.key_version),
            tables=tuple(infos),
            quarantine=QuarantineInfo(
                rows=1,
                by_reason={"bad_date": 1},
                files=quarantine,
                encryption=Encryption(
                    key=builder.quarantine_key_name, key_version=builder.quarantine_key_version
                ),
            ),
            reconciliation=Reconciliation(tables={"x": counts}, total=counts),
            lineage=Lineage(
                source_kind="test",
                source_name="test",
                delivery_sha256="d" * 64,
                source_files=(),
                steps=("hand-made",),
                software={},
                pseudonym_scheme={"label": "none"},
            ),
        )
        with hub.db.transaction() as session:
            return builder.publish(session, manifest)
