"""A clean delivery follows docs/sources.md to the letter: folders, files, columns, codes."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from havre.cdm.reference import nomenclature
from havre.synth import SynthManifest, tables
from havre.synth.nir import valid_key

SOURCES = Path(__file__).resolve().parents[3] / "docs" / "sources.md"
View = Callable[[SynthManifest, str], str]
Sql = Callable[[str], list[tuple[object, ...]]]


def documented_columns() -> dict[str, list[str]]:
    """File (table) -> columns, from the table in docs/sources.md."""
    found = {}
    for line in SOURCES.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `(\w+)` \| `([A-Z0-9_;]+)` \|", line)
        if match:
            found[match.group(1)] = match.group(2).split(";")
    return found


def test_the_generator_writes_the_documented_columns() -> None:
    documented = documented_columns()
    generated = {spec.name.replace("aa", "yy"): spec.column_names for spec in tables.SNDS_TABLES}
    assert documented == generated


def test_layout_and_headers(clean_delivery: SynthManifest) -> None:
    root = clean_delivery.path.parent
    years = [f"{y % 100:02d}" for y in range(2015, 2025)]
    expected = {"IR_BEN_R", "ER_PRS_F", "ER_PHA_F", "ER_BIO_F", "IR_IMB_R", "KI_CCI_R"}
    expected |= {f"T_MCO{yy}{part}" for yy in years for part in "BCD"}
    assert {p.stem for p in (root / "snds").glob("*.csv")} == expected
    assert {p.name for p in (root / "fhir").iterdir()} == {
        "manifest.json",
        *(
            f"{r}.000.ndjson"
            for r in (
                "Patient",
                "Encounter",
                "Condition",
                "Observation",
                "MedicationRequest",
                "Procedure",
            )
        ),
    }
    documented = documented_columns()
    for path in (root / "snds").glob("*.csv"):
        table = re.sub(r"T_MCO\d\d", "T_MCOyy", path.stem)
        header = path.read_bytes().split(b"\n", 1)[0].decode()
        assert header.split(";") == documented[table], path.name
    optout = (root / "optout" / "optout.csv").read_text().splitlines()
    assert optout[0] == "NIR;DATE_OPPOSITION"
    assert all(valid_key(line.split(";")[0]) for line in optout[1:])
    assert len(optout) - 1 == clean_delivery.ground_truth["population"]["opted_out"]


def test_delivery_json_and_export_manifest_match_the_files(clean_delivery: SynthManifest) -> None:
    root = clean_delivery.path.parent
    delivery = json.loads((root / "snds" / "delivery.json").read_text())
    assert delivery["source"] == "snds"
    assert delivery["created_at"] == "2025-01-01T00:00:00Z"
    for entry in delivery["files"]:
        data = (root / "snds" / entry["name"]).read_bytes()
        assert data.count(b"\n") - 1 == entry["rows"]
        assert clean_delivery.files[f"snds/{entry['name']}"]["sha256"] == entry["sha256"]
        import hashlib

        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    export = json.loads((root / "fhir" / "manifest.json").read_text())
    assert export["requiresAccessToken"] is False and export["error"] == []
    for output in export["output"]:
        lines = (root / "fhir" / output["url"]).read_text().splitlines()
        assert len(lines) == output["count"]
        assert all(json.loads(line)["resourceType"] == output["type"] for line in lines)


def test_nirs_are_valid_and_every_event_belongs_to_a_beneficiary(
    clean_delivery: SynthManifest, view: View, sql: Sql
) -> None:
    beneficiaries = view(clean_delivery, "snds/IR_BEN_R.csv")
    rows = sql(f"SELECT BEN_NIR FROM {beneficiaries}")
    assert len(rows) == 3_000
    assert len({r[0] for r in rows}) == 3_000
    assert all(valid_key(str(r[0])) for r in rows)
    for name in ("ER_PRS_F", "IR_IMB_R", "KI_CCI_R", "T_MCO19C"):
        orphans = sql(
            f"SELECT count(*) FROM {view(clean_delivery, f'snds/{name}.csv')} "
            f"WHERE BEN_NIR NOT IN (SELECT BEN_NIR FROM {beneficiaries})"
        )
        assert orphans == [(0,)], name


def test_codes_come_from_the_shipped_nomenclatures(
    clean_delivery: SynthManifest, view: View, sql: Sql
) -> None:
    def values(name: str, column: str) -> set[str]:
        return {
            str(r[0])
            for r in sql(
                f"SELECT DISTINCT {column} FROM {view(clean_delivery, f'snds/{name}.csv')} "
                f"WHERE {column} IS NOT NULL"
            )
        }

    icd10 = set(nomenclature("IR_CIM_V").column("CIM_COD").to_pylist())
    assert values("T_MCO20B", "DGN_PAL") <= icd10
    assert values("T_MCO20D", "ASS_DGN") <= icd10
    assert values("KI_CCI_R", "DCD_CIM_COD") <= icd10
    assert values("IR_IMB_R", "MED_MTF_COD") <= icd10
    assert values("ER_PHA_F", "PHA_ATC_C07") <= set(
        nomenclature("openmedic_ATC5").column("ATC5").to_pylist()
    )
    assert values("ER_BIO_F", "BIO_PRS_IDE") <= set(
        nomenclature("IR_BIO_R").column("BIO_PRS_IDE").to_pylist()
    )
    assert values("ER_PRS_F", "PRS_NAT_REF") <= set(
        nomenclature("IR_NAT_V").column("PRS_NAT").to_pylist()
    )
    assert values("IR_IMB_R", "IMB_ALD_NUM") <= set(
        nomenclature("IR_ALD_V").column("ALD_030_COD").to_pylist()
    )
    cips = values("ER_PHA_F", "PHA_PRS_C13")
    assert all(len(c) == 13 and c.startswith("3400") and c.isdigit() for c in cips)


def test_shapes_of_identifiers_and_dates(
    clean_delivery: SynthManifest, view: View, sql: Sql
) -> None:
    prs = view(clean_delivery, "snds/ER_PRS_F.csv")
    ben = view(clean_delivery, "snds/IR_BEN_R.csv")
    assert sql(
        f"SELECT count(*) FROM {prs} WHERE NOT regexp_full_match(PFS_EXE_NUM, '\\d{{8}}') "
        "OR (ETB_EXE_FIN IS NOT NULL AND NOT regexp_full_match(ETB_EXE_FIN, '\\d{9}'))"
    ) == [(0,)]
    first, last = sql(f"SELECT min(EXE_SOI_DTD::DATE), max(EXE_SOI_DTD::DATE) FROM {prs}")[0]
    assert dt.date(2015, 1, 1) <= first and last <= dt.date(2024, 12, 31)  # type: ignore[operator]
    before_birth = sql(
        f"SELECT count(*) FROM {prs} p JOIN {ben} b USING (BEN_NIR) "
        "WHERE year(p.EXE_SOI_DTD::DATE) < b.BEN_NAI_ANN::INT "
        "OR (b.BEN_DCD_DTE IS NOT NULL AND p.EXE_SOI_DTD::DATE > b.BEN_DCD_DTE::DATE)"
    )
    assert before_birth == [(0,)]
    residence = sql(
        f"SELECT count(*) FROM {ben} WHERE BEN_RES_COM[1:2] <> BEN_RES_DPT[1:2] "
        "OR length(BEN_RES_COM) <> 5 OR BEN_NAI_MOI NOT SIMILAR TO '(0[1-9]|1[0-2])'"
    )
    assert residence == [(0,)]


def test_pharmacy_and_biology_details_hang_on_claim_lines(
    clean_delivery: SynthManifest, view: View, sql: Sql
) -> None:
    prs = view(clean_delivery, "snds/ER_PRS_F.csv")
    for name, natures in (("ER_PHA_F", "('3311','3313')"), ("ER_BIO_F", "('3211')")):
        detail = view(clean_delivery, f"snds/{name}.csv")
        unmatched = sql(
            f"SELECT count(*) FROM {detail} d LEFT JOIN {prs} p USING (CLE_DCI_JNT) "
            f"WHERE p.PRS_NAT_REF IS NULL OR p.PRS_NAT_REF NOT IN {natures}"
        )
        assert unmatched == [(0,)], name


def test_fhir_is_valid_json_linked_to_the_claims(
    clean_delivery: SynthManifest, view: View, sql: Sql
) -> None:
    root = clean_delivery.path.parent / "fhir"
    resources = {
        path.name.split(".")[0]: [json.loads(line) for line in path.read_text().splitlines()]
        for path in root.glob("*.ndjson")
    }
    patients = {p["id"]: p for p in resources["Patient"]}
    encounters = {e["id"] for e in resources["Encounter"]}
    assert patients and encounters
    nirs = {
        str(r[0]) for r in sql(f"SELECT BEN_NIR FROM {view(clean_delivery, 'snds/IR_BEN_R.csv')}")
    }
    for patient in patients.values():
        identifier = patient["identifier"][0]
        assert identifier["system"] == "urn:oid:1.2.250.1.213.1.4.8"
        assert identifier["value"] in nirs
        assert patient["gender"] in ("male", "female")
        assert patient["address"][0]["postalCode"]
    for kind, items in resources.items():
        for item in items:
            assert "null" not in json.dumps(item), kind
            if kind != "Patient":
                assert item["subject"]["reference"].removeprefix("Patient/") in patients
            if "encounter" in item:
                assert item["encounter"]["reference"].removeprefix("Encounter/") in encounters
    codes = {o["code"]["coding"][0]["code"] for o in resources["Observation"]}
    assert {"4548-4", "39156-5", "85354-9"} <= codes
    icd10 = set(nomenclature("IR_CIM_V").column("CIM_COD").to_pylist())
    for condition in resources["Condition"]:
        coding = condition["code"]["coding"][0]
        assert coding["system"] == "http://hl7.org/fhir/sid/icd-10"
        assert coding["code"].replace(".", "") in icd10
    for request in resources["MedicationRequest"]:
        assert (
            request["medicationCodeableConcept"]["coding"][0]["system"] == "http://www.whocc.no/atc"
        )


def test_parquet_has_the_same_columns_with_typed_values(parquet_delivery: SynthManifest) -> None:
    root = parquet_delivery.path.parent / "snds"
    documented = documented_columns()
    for path in root.glob("*.parquet"):
        schema = pq.read_schema(path)
        table = re.sub(r"T_MCO\d\d", "T_MCOyy", path.stem)
        assert schema.names == documented[table], path.name
    prs = pq.read_schema(root / "ER_PRS_F.parquet")
    assert str(prs.field("EXE_SOI_DTD").type) == "date32[day]"
    assert str(prs.field("PRS_PAI_MNT").type) == "double"
    assert str(prs.field("PRS_ACT_QTE").type) == "int64"
    assert str(prs.field("PRS_NAT_REF").type) == "string"
    rows = sum(pq.read_metadata(p).num_rows for p in root.glob("*.parquet"))
    listed = sum(e["rows"] for n, e in parquet_delivery.files.items() if n.startswith("snds/"))
    assert rows == listed
