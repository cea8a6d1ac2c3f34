"""No NIR, name, street address, phone number or exact birth date reaches the lake or the
quarantine — searched for in the decrypted data, the raw files, the manifests and the audit log.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from havre.core.actor import Actor
from havre.governance.optouts import OptOutRegister
from havre.hub import Hub
from havre.ingest.pipeline import Ingestion
from havre.lake import Lake
from havre.pseudo import Pseudonymizer
from havre.synth import SynthOptions, generate

OPERATOR = Actor.operator()


def _services(hub: Hub) -> tuple[Lake, OptOutRegister, Ingestion]:
    pseudo = Pseudonymizer(hub.keys)
    lake = Lake(hub.settings, hub.db, hub.keys, hub.clock)
    register = OptOutRegister(hub.db, hub.audit, pseudo, hub.settings, hub.clock)
    return lake, register, Ingestion(hub.settings, hub.db, hub.audit, lake, register, pseudo)


def _identifiers(folder: Path) -> set[str]:
    """Every direct identifier the delivery holds: NIRs, names, streets, phone numbers."""
    found: set[str] = set()
    for line in (folder / "snds" / "IR_BEN_R.csv").read_text(errors="replace").splitlines()[1:]:
        nir = line.split(";")[0]
        if len(nir) == 15:
            found |= {nir, nir[:13]}
    for line in (folder / "fhir" / "Patient.000.ndjson").read_bytes().splitlines():
        try:
            patient = json.loads(line)
        except ValueError:
            continue
        for identifier in patient.get("identifier", []):
            value = identifier.get("value", "")
            if len(value) == 15:
                found |= {value, value[:13]}
        for name in patient.get("name", []):
            found |= {name.get("family", "")} | set(name.get("given", []))
        for phone in patient.get("telecom", []):
            found.add(phone.get("value", ""))
        for address in patient.get("address", []):
            found |= set(address.get("line", []))
    return {value for value in found if len(value) >= 4}


def _text(table: pa.Table) -> str:
    return "\n".join(
        " ".join("" if v is None else str(v) for v in column.to_pylist())
        for column in table.columns
    )


@pytest.mark.slow
def test_no_direct_identifier_in_lake_quarantine_manifests_or_audit(
    sqlite_hub: Hub, tmp_path: Path
) -> None:
    folder = tmp_path / "delivery"
    generate(SynthOptions(persons=120, seed=21, out=folder, dirty_rate=0.05))
    identifiers = _identifiers(folder)
    assert len(identifiers) > 100
    lake, register, ingestion = _services(sqlite_hub)
    register.import_file(OPERATOR, folder / "optout" / "optout.csv")
    for source in ("snds", "fhir"):
        ingestion.ingest(OPERATOR, folder / source, source)

    haystacks: list[str] = []
    quarantined = 0
    for dataset in lake.datasets():
        version = lake.open(dataset)
        for table in version.tables:
            haystacks.append(_text(version.read(table)))
        quarantine = version.quarantine().to_table()
        quarantined += quarantine.num_rows
        haystacks.append(_text(quarantine))
        haystacks.append((version.path / "manifest.json").read_text())
    for path in (sqlite_hub.home / "lake").rglob("*.parquet"):
        haystacks.append(path.read_bytes().decode("latin-1"))
        with pytest.raises(OSError):
            pq.read_table(path)  # encrypted: unreadable without the key
    with sqlite_hub.db.engine.connect() as connection:
        for table in ("audit_entries", "lake_versions", "optouts"):
            rows = connection.execute(text(f"SELECT * FROM {table}")).all()
            haystacks.append(" ".join(str(row) for row in rows))
    assert quarantined > 0
    everything = "\n".join(haystacks)
    leaked = sorted(value for value in identifiers if value in everything)
    assert not leaked, f"identifiers found in the lake: {leaked[:10]}"
