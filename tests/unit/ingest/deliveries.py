"""Small hand-made deliveries that follow docs/sources.md, with the fate of every record.

Each line written is recorded with what ingestion must make of it: its status and, when
quarantined, its reason — so tests compare the whole quarantine, line by line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from havre.core.hashing import sha256_file
from havre.pseudo.nir import nir_key

LOADED, QUARANTINED, OPTED_OUT, DUPLICATE = "loaded", "quarantined", "opted_out", "duplicate"


def nir(body: str) -> str:
    return f"{body}{nir_key(body):02d}"


@dataclass(frozen=True)
class Person:
    nir: str
    rank: int
    year: int
    month: int
    sex: str
    dept: str
    commune: str
    death: str | None = None
    cmu: str = "0"

    @property
    def birth_date(self) -> str:
        return f"{self.year}-{self.month:02d}-15"


PEOPLE = [
    Person(nir("1850575123001"), 1, 1985, 5, "1", "75", "75056"),
    Person(nir("2920313055002"), 1, 1992, 3, "2", "13", "13055", cmu="1"),
    Person(nir("147022A004003"), 1, 1947, 2, "1", "2A", "2A004", death="2021-10-10"),
    Person(nir("2600769123004"), 1, 1960, 7, "2", "69", "69123"),
    Person(nir("1781031555005"), 1, 1978, 10, "1", "31", "31555"),
    Person(nir("2051259350006"), 1, 2005, 12, "2", "59", "59350"),
    # a twin on the same NIR, told apart by the rank of birth
    Person(nir("2051259350006"), 2, 2005, 12, "2", "59", "59350"),
]
OBJECTOR = PEOPLE[4]  # in the opt-out register of the tests
STRANGER = nir("1990175056099")  # valid NIR, not a beneficiary


@dataclass
class Table:
    name: str
    header: list[str]
    lines: list[bytes] = field(default_factory=list)
    fates: list[tuple[str, str | None]] = field(default_factory=list)

    def add(self, values: list[str], fate: str = LOADED, reason: str | None = None) -> int:
        return self.add_raw(";".join(values).encode(), fate, reason)

    def add_raw(self, line: bytes, fate: str = LOADED, reason: str | None = None) -> int:
        self.lines.append(line)
        self.fates.append((fate, reason))
        return len(self.lines) + 1  # line number in the file (header is line 1)

    def write(self, folder: Path) -> Path:
        path = folder / f"{self.name}.csv"
        path.write_bytes(
            ";".join(self.header).encode() + b"\n" + b"".join(x + b"\n" for x in self.lines)
        )
        return path

    def expected(self) -> dict[str, int]:
        counts = {"read": len(self.lines), LOADED: 0, QUARANTINED: 0, OPTED_OUT: 0, DUPLICATE: 0}
        for fate, _ in self.fates:
            counts[fate] += 1
        return counts

    def quarantine(self) -> list[tuple[str, int, str]]:
        return [
            (self.name, number + 2, reason or "")
            for number, (fate, reason) in enumerate(self.fates)
            if fate == QUARANTINED
        ]


HEADERS = {
    "IR_BEN_R": (
        "BEN_NIR;BEN_RNG_GEM;BEN_NAI_ANN;BEN_NAI_MOI;BEN_SEX_COD;"
        "BEN_RES_DPT;BEN_RES_COM;BEN_DCD_DTE;BEN_CMU_TOP;ORG_AFF_BEN;BEN_DTE_INS"
    ),
    "ER_PRS_F": (
        "CLE_DCI_JNT;BEN_NIR;BEN_RNG_GEM;EXE_SOI_DTD;EXE_SOI_DTF;PRS_NAT_REF;"
        "PSE_SPE_COD;PFS_EXE_NUM;ETB_EXE_FIN;PRS_ACT_QTE;PRS_PAI_MNT;BSE_REM_MNT"
    ),
    "ER_PHA_F": "CLE_DCI_JNT;PHA_PRS_C13;PHA_ATC_C07;PHA_ACT_QSN;PHA_ACT_PRU",
    "ER_BIO_F": "CLE_DCI_JNT;BIO_PRS_IDE;BIO_ACT_QSN",
    "T_MCO21B": (
        "ETA_NUM;RSA_NUM;DGN_PAL;DGN_REL;SEJ_NBJ;ENT_MOD;SOR_MOD;"
        "GRG_GHM;BDI_COD;BDI_DEP;AGE_ANN;COD_SEX;SOR_ANN;SOR_MOI"
    ),
    "T_MCO21C": "ETA_NUM;RSA_NUM;BEN_NIR;BEN_RNG_GEM;EXE_SOI_DTD;EXE_SOI_DTF",
    "T_MCO21D": "ETA_NUM;RSA_NUM;DGN_ASS_NUM;ASS_DGN",
    "IR_IMB_R": "BEN_NIR;BEN_RNG_GEM;IMB_ALD_NUM;IMB_ALD_DTD;IMB_ALD_DTF;MED_MTF_COD;IMB_ETM_NAT",
    "KI_CCI_R": "BEN_NIR;BEN_RNG_GEM;BEN_DCD_DTE;DCD_CIM_COD;DCD_DPT_COD;DCD_COM_COD",
}


def _tables() -> dict[str, Table]:
    return {name: Table(name, header.split(";")) for name, header in HEADERS.items()}


def snds_tables(*, dirty: bool, optout: bool = True) -> dict[str, Table]:
    """The claims of PEOPLE; with ``dirty``, one record of every defect kind as well."""
    t = _tables()
    objected = OPTED_OUT if optout else LOADED
    for p in PEOPLE:
        fate = objected if p is OBJECTOR else LOADED
        t["IR_BEN_R"].add(
            [
                p.nir,
                str(p.rank),
                str(p.year),
                f"{p.month:02d}",
                p.sex,
                p.dept,
                p.commune,
                p.death or "",
                p.cmu,
                "011751000",
                "2015-01-01",
            ],
            fate,
        )
    cle = 1000
    for index, p in enumerate(PEOPLE):
        fate = objected if p is OBJECTOR else LOADED
        cle += 1
        t["ER_PRS_F"].add(
            [
                str(cle),
                p.nir,
                str(p.rank),
                "2021-02-03",
                "2021-02-03",
                "1111",
                "1",
                "12345678",
                "",
                "1",
                "25.00",
                "25.00",
            ],
            fate,
        )
        cle += 1
        t["ER_PRS_F"].add(
            [
                str(cle),
                p.nir,
                str(p.rank),
                "2021-02-05",
                "",
                "3313",
                "0",
                "",
                "750100042",
                "1",
                "12.50",
                "10.00",
            ],
            fate,
        )
        t["ER_PHA_F"].add([str(cle), "3400930000001", "A10BA02", "2", "6.25"], fate)
        cle += 1
        t["ER_PRS_F"].add(
            [
                str(cle),
                p.nir,
                str(p.rank),
                "2021-03-01",
                "2021-03-01",
                "3211",
                "0",
                "",
                "",
                "1",
                "8.10",
                "8.10",
            ],
            fate,
        )
        t["ER_BIO_F"].add([str(cle), "1577", "1"], fate)
        rsa = f"{index + 1:06d}"
        t["T_MCO21C"].add(["750100042", rsa, p.nir, str(p.rank), "2021-06-01", "2021-06-04"], fate)
        t["T_MCO21B"].add(
            [
                "750100042",
                rsa,
                "E119",
                "I10",
                "3",
                "8",
                "8",
                "10M02T",
                "75001",
                "75",
                "40",
                p.sex,
                "2021",
                "06",
            ],
            fate,
        )
        t["T_MCO21D"].add(["750100042", rsa, "1", "N183"], fate)
        t["IR_IMB_R"].add([p.nir, str(p.rank), "8", "2019-01-01", "", "E119", "1"], fate)
    dead = PEOPLE[2]
    t["KI_CCI_R"].add([dead.nir, "1", dead.death or "", "I219", "2A", "2A004"])
    if dirty:
        _defects(t, cle)
    return t


def _defects(t: dict[str, Table], cle: int) -> None:
    p = PEOPLE[0]
    broken = p.nir[:13] + f"{(int(p.nir[13:]) % 97) + 1:02d}"
    t["IR_BEN_R"].add(
        [broken, "1", "1970", "01", "1", "75", "75056", "", "0", "011751000", "2015-01-01"],
        QUARANTINED,
        "bad_nir_key",
    )
    t["IR_BEN_R"].add(
        [nir("1700175056010"), "1", "1970", "13", "1", "75", "75056", "", "0", "011751000", ""],
        QUARANTINED,
        "bad_date",
    )
    prs = t["ER_PRS_F"]

    def claim(values: dict[str, str], fate: str, reason: str | None) -> str:
        nonlocal cle
        cle += 1
        row = {
            "CLE_DCI_JNT": str(cle),
            "BEN_NIR": p.nir,
            "BEN_RNG_GEM": "1",
            "EXE_SOI_DTD": "2021-04-01",
            "EXE_SOI_DTF": "2021-04-01",
            "PRS_NAT_REF": "1111",
            "PSE_SPE_COD": "1",
            "PFS_EXE_NUM": "12345678",
            "ETB_EXE_FIN": "",
            "PRS_ACT_QTE": "1",
            "PRS_PAI_MNT": "25.00",
            "BSE_REM_MNT": "25.00",
        }
        row.update(values)
        prs.add([row[c] for c in prs.header], fate, reason)
        return str(cle)

    bad_date = claim({"EXE_SOI_DTD": "2021-13-01"}, QUARANTINED, "bad_date")
    claim(
        {"EXE_SOI_DTD": "1850-01-01", "EXE_SOI_DTF": "1850-01-01"}, QUARANTINED, "date_out_of_range"
    )
    claim({"EXE_SOI_DTF": "2021-03-01"}, QUARANTINED, "end_before_start")
    claim({"PRS_ACT_QTE": "abc"}, QUARANTINED, "wrong_type")
    claim({"PRS_NAT_REF": ""}, QUARANTINED, "missing_required")
    claim({"PRS_NAT_REF": "99999"}, QUARANTINED, "unknown_code")
    claim({"BEN_NIR": STRANGER}, QUARANTINED, "unknown_person")
    claim({"BEN_NIR": broken}, QUARANTINED, "bad_nir_key")
    claim({"BEN_NIR": "12345"}, QUARANTINED, "bad_nir_format")
    prs.add_raw(prs.lines[0], DUPLICATE)
    prs.add_raw(prs.lines[1][:20], QUARANTINED, "truncated_line")
    prs.add_raw(prs.lines[2].replace(b"3211", b"32\xff1"), QUARANTINED, "invalid_utf8")
    prs.add_raw(b"", QUARANTINED, "empty_line")
    conflicting = prs.lines[0].replace(b"2021-02-03;2021-02-03", b"2021-02-04;2021-02-04")
    prs.add_raw(conflicting, QUARANTINED, "conflicting_key")
    pha = t["ER_PHA_F"]
    pha.add([bad_date, "3400930000001", "C09AA05", "1", "3.00"], QUARANTINED, "parent_quarantined")
    pha.add(["999999", "3400930000001", "C09AA05", "1", "3.00"], QUARANTINED, "unknown_claim")
    first_pharmacy = pha.lines[0].split(b";")[0].decode()
    pha.add([first_pharmacy, "3400930000001", "Z99ZZ99", "1", "3.00"], QUARANTINED, "unknown_code")
    pha.add_raw(pha.lines[0], DUPLICATE)
    # lab acts are staged with the drugs, as one relation: their own fields, reasons, counts
    bio = t["ER_BIO_F"]
    first_lab = bio.lines[0].split(b";")[0].decode()
    bio.add([first_lab, "ZZZZ", "1"], QUARANTINED, "unknown_code")
    bio.add(["999998", "1577", "1"], QUARANTINED, "unknown_claim")
    bio.add([bad_date, "1577", "1"], QUARANTINED, "parent_quarantined")
    bio.add([first_lab, "1577", "x"], QUARANTINED, "wrong_type")
    bio.add_raw(bio.lines[0], DUPLICATE)
    t["T_MCO21C"].add(
        ["750100042", "999001", STRANGER, "1", "2021-07-01", "2021-07-02"],
        QUARANTINED,
        "unknown_person",
    )
    t["T_MCO21B"].add(
        [
            "750100042",
            "999001",
            "I500",
            "",
            "1",
            "8",
            "8",
            "05M09T",
            "75001",
            "75",
            "40",
            "1",
            "2021",
            "07",
        ],
        QUARANTINED,
        "parent_quarantined",
    )
    t["T_MCO21D"].add(["750100042", "999002", "1", "N183"], QUARANTINED, "unknown_stay")
    t["IR_IMB_R"].add(
        [p.nir, "1", "8", "2019-01-01", "", "E11.9", "1"], QUARANTINED, "unknown_code"
    )


def write_snds(folder: Path, tables: dict[str, Table], *, manifest: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for table in tables.values():
        path = table.write(folder)
        files.append(
            {
                "name": path.name,
                "table": table.name,
                "rows": len(table.lines),
                "sha256": sha256_file(path),
            }
        )
    if manifest:
        (folder / "delivery.json").write_text(
            json.dumps({"source": "snds", "created_at": "2022-01-01T00:00:00Z", "files": files})
        )
    return folder


def write_optout(path: Path, people: list[Person]) -> Path:
    path.write_text("NIR;DATE_OPPOSITION\n" + "".join(f"{p.nir};2021-01-01\n" for p in people))
    return path


# -- a hospital's FHIR export of the same people --------------------------------------------------
INS = "urn:oid:1.2.250.1.213.1.4.8"
CITIES = {
    "75056": ("75011", "Paris"),
    "13055": ("13005", "Marseille"),
    "2A004": ("20000", "Ajaccio"),
    "69123": ("69003", "Lyon"),
    "31555": ("31000", "Toulouse"),
    "59350": ("59000", "Lille"),
}
PATIENT_NAMES = {0: ("Martin", "Jean"), 1: ("Bernard", "Claire"), 2: ("Dubois", "Paul")}
STREET = "12 rue des Lilas"
PHONE = "0601020304"


@dataclass
class Export:
    files: dict[str, list[bytes]] = field(default_factory=dict)
    fates: dict[str, list[tuple[str, str, str | None]]] = field(default_factory=dict)

    def add(
        self,
        resource: dict[str, object] | bytes,
        fate: str = LOADED,
        reason: str | None = None,
        table: str | None = None,
    ) -> None:
        kind = table or (resource["resourceType"] if isinstance(resource, dict) else "?")
        name = f"{kind}.000.ndjson"
        line = resource if isinstance(resource, bytes) else json.dumps(resource).encode()
        self.files.setdefault(name, []).append(line)
        self.fates.setdefault(name, []).append((str(kind), fate, reason))

    def write(self, folder: Path, *, manifest: bool = True) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        output = []
        for name, lines in self.files.items():
            (folder / name).write_bytes(b"".join(x + b"\n" for x in lines))
            output.append({"type": name.split(".")[0], "url": name, "count": len(lines)})
        if manifest:
            (folder / "manifest.json").write_text(
                json.dumps(
                    {
                        "transactionTime": "2022-01-01T00:00:00Z",
                        "request": "$export",
                        "requiresAccessToken": False,
                        "output": output,
                        "error": [],
                    }
                )
            )
        return folder

    def quarantine(self) -> list[tuple[str, int, str]]:
        return sorted(
            (kind, number + 1, reason or "")
            for name, fates in self.fates.items()
            for number, (kind, fate, reason) in enumerate(fates)
            if fate == QUARANTINED
        )

    def expected(self) -> dict[str, dict[str, int]]:
        tables: dict[str, dict[str, int]] = {}
        for fates in self.fates.values():
            for kind, fate, _ in fates:
                counts = tables.setdefault(
                    kind, {"read": 0, LOADED: 0, QUARANTINED: 0, OPTED_OUT: 0, DUPLICATE: 0}
                )
                counts["read"] += 1
                counts[fate] += 1
        return tables


def patient(index: int, p: Person) -> dict[str, object]:
    family, given = PATIENT_NAMES.get(index, ("Petit", "Anne"))
    postal, city = CITIES[p.commune]
    resource: dict[str, object] = {
        "resourceType": "Patient",
        "id": f"pat-{index}",
        "identifier": [
            {"system": "http://hospital.example/ipp", "value": f"IPP{index:05d}"},
            {"system": INS, "value": p.nir},
        ],
        "name": [{"family": family, "given": [given]}],
        "telecom": [{"system": "phone", "value": PHONE}],
        "gender": "male" if p.sex == "1" else "female",
        "birthDate": p.birth_date,
        "address": [{"line": [STREET], "postalCode": postal, "city": city}],
    }
    if p.death:
        resource["deceasedDateTime"] = f"{p.death}T10:00:00+01:00"
    return resource


def fhir_export(*, dirty: bool, optout: bool = True) -> Export:
    """The hospital's view of PEOPLE[:5] (the twins were never admitted)."""
    export = Export()
    objected = OPTED_OUT if optout else LOADED
    admitted = list(enumerate(PEOPLE[:5]))
    for index, p in admitted:
        export.add(patient(index, p), objected if p is OBJECTOR else LOADED)
    export.add(
        {
            "resourceType": "Organization",
            "id": "org-1",
            "name": "CHU Exemple",
            "identifier": [{"system": "urn:oid:1.2.250.1.71.4.2.2", "value": "750100042"}],
        }
    )
    for index, p in admitted:
        fate = objected if p is OBJECTOR else LOADED
        subject = {"reference": f"Patient/pat-{index}"}
        encounter = {"reference": f"Encounter/enc-{index}"}
        export.add(
            {
                "resourceType": "Encounter",
                "id": f"enc-{index}",
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "IMP",
                },
                "subject": subject,
                "serviceProvider": {"reference": "Organization/org-1"},
                "period": {
                    "start": "2021-06-01T08:00:00+02:00",
                    "end": "2021-06-04T12:00:00+02:00",
                },
            },
            fate,
        )
        export.add(
            {
                "resourceType": "Condition",
                "id": f"cond-{index}",
                "subject": subject,
                "encounter": encounter,
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9"}]},
                "onsetDateTime": "2021-06-01",
            },
            fate,
        )
        export.add(
            {
                "resourceType": "Observation",
                "id": f"hba1c-{index}",
                "status": "final",
                "subject": subject,
                "encounter": encounter,
                "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
                "effectiveDateTime": "2021-06-02T09:00:00+02:00",
                "valueQuantity": {"value": 7.2, "unit": "%", "code": "%"},
            },
            fate,
        )
        export.add(
            {
                "resourceType": "Observation",
                "id": f"bp-{index}",
                "status": "final",
                "subject": subject,
                "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
                "effectiveDateTime": "2021-06-02",
                "component": [
                    {
                        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                        "valueQuantity": {"value": 142, "unit": "mm[Hg]"},
                    },
                    {
                        "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                        "valueQuantity": {"value": 88, "unit": "mm[Hg]"},
                    },
                ],
            },
            fate,
        )
        export.add(
            {
                "resourceType": "MedicationRequest",
                "id": f"med-{index}",
                "status": "active",
                "intent": "order",
                "subject": subject,
                "medicationCodeableConcept": {
                    "coding": [{"system": "http://www.whocc.no/atc", "code": "A10BA02"}]
                },
                "authoredOn": "2021-06-04",
            },
            fate,
        )
        export.add(
            {
                "resourceType": "Procedure",
                "id": f"proc-{index}",
                "status": "completed",
                "subject": subject,
                "encounter": encounter,
                "code": {"coding": [{"system": "https://www.ameli.fr/ccam", "code": "DEQP003"}]},
                "performedDateTime": "2021-06-02",
            },
            fate,
        )
    if dirty:
        export.add(
            b'{"resourceType": "Condition", "id": "broken"',
            QUARANTINED,
            "malformed_json",
            table="Condition",
        )
        export.add(
            {
                "resourceType": "Condition",
                "id": "cond-x",
                "subject": {"reference": "Patient/pat-0"},
                "code": {
                    "coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "Q99.99"}]
                },
                "onsetDateTime": "2021-06-01",
            },
            QUARANTINED,
            "unknown_code",
        )
        export.add(
            {
                "resourceType": "Condition",
                "id": "cond-y",
                "subject": {"reference": "Patient/nobody"},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]},
                "onsetDateTime": "2021-06-01",
            },
            QUARANTINED,
            "unknown_person",
        )
        export.add(
            {
                "resourceType": "Condition",
                "id": "cond-z",
                "subject": {"reference": "Patient/pat-1"},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]},
                "onsetDateTime": "2021-02-30",
            },
            QUARANTINED,
            "bad_date",
        )
        # loaded without their visit, counted in the notes: an Encounter the export does not
        # hold, another patient's
        for number, encounter in enumerate(("Encounter/not-in-the-export", "Encounter/enc-0")):
            export.add(
                {
                    "resourceType": "Condition",
                    "id": f"cond-unlinked-{number}",
                    "subject": {"reference": "Patient/pat-1"},
                    "encounter": {"reference": encounter},
                    "code": {
                        "coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]
                    },
                    "onsetDateTime": "2021-06-01",
                },
            )
        export.add(export.files["Condition.000.ndjson"][0], DUPLICATE, table="Condition")
        bad = dict(patient(9, PEOPLE[0]))
        bad["id"] = "pat-bad"
        bad["identifier"] = [{"system": INS, "value": PEOPLE[0].nir[:13] + "00"}]
        export.add(bad, QUARANTINED, "bad_nir_key")
        export.add(
            {
                "resourceType": "Encounter",
                "id": "enc-bad",
                "subject": {"reference": "Patient/pat-bad"},
                "class": {"code": "AMB"},
                "period": {"start": "2021-01-01"},
            },
            QUARANTINED,
            "parent_quarantined",
        )
        export.add(
            {"resourceType": "Immunization", "id": "imm-1", "status": "completed"},
            QUARANTINED,
            "unsupported_resource",
        )
    return export


# -- an OMOP CDM database's CSV export -----------------------------------------------------------
def write_omop(folder: Path, *, dirty: bool) -> tuple[Path, dict[str, dict[str, int]]]:
    """person 1..4 (4 objected in the tests), with visits, conditions and drugs."""
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, dict[str, int]] = {}

    def write(name: str, header: str, rows: list[tuple[str, str]]) -> None:
        (folder / f"{name}.csv").write_text(
            header + "\n" + "".join(line + "\n" for line, _ in rows)
        )
        counts = {"read": len(rows), LOADED: 0, QUARANTINED: 0, OPTED_OUT: 0, DUPLICATE: 0}
        for _, fate in rows:
            counts[fate] += 1
        expected[name] = counts

    people = [
        ("1,8507,1970,3,15,1970-03-15 00:00:00,0,0,,,,MRN-0001,M,0,,0,,0", LOADED),
        ("2,8532,1985,,,,0,0,,,,MRN-0002,F,0,,0,,0", LOADED),
        ('3,8532,1992,7,,,0,0,,,,"Dupont, Marie",F,0,,0,,0', LOADED),
        ("4,8507,1950,1,,,0,0,,,,MRN-0004,M,0,,0,,0", OPTED_OUT),
    ]
    if dirty:
        people += [
            ("5,8507,,1,,,0,0,,,,MRN-0005,M,0,,0,,0", QUARANTINED),  # no year of birth
            ("1,8507,1970,3,15,1970-03-15 00:00:00,0,0,,,,MRN-0001,M,0,,0,,0", DUPLICATE),
        ]
    write(
        "person",
        "person_id,gender_concept_id,year_of_birth,month_of_birth,day_of_birth,birth_datetime,"
        "race_concept_id,ethnicity_concept_id,location_id,provider_id,care_site_id,"
        "person_source_value,gender_source_value,gender_source_concept_id,race_source_value,"
        "race_source_concept_id,ethnicity_source_value,ethnicity_source_concept_id",
        people,
    )
    visits = [
        (
            f'{10 + p},{p},9202,2021-02-0{p},,2021-02-0{p},,32817,,,"GP, office",0,,,,,',
            OPTED_OUT if p == 4 else LOADED,
        )
        for p in range(1, 5)
    ]
    if dirty:
        visits.append(
            ('15,1,9202,2021-03-05,,2021-03-04,,32817,,,"GP, office",0,,,,,', QUARANTINED)
        )
    write(
        "visit_occurrence",
        "visit_occurrence_id,person_id,visit_concept_id,visit_start_date,visit_start_datetime,"
        "visit_end_date,visit_end_datetime,visit_type_concept_id,provider_id,care_site_id,"
        "visit_source_value,visit_source_concept_id,admitted_from_concept_id,"
        "admitted_from_source_value,discharged_to_concept_id,discharged_to_source_value,"
        "preceding_visit_occurrence_id",
        visits,
    )
    conditions = [
        (
            f"{100 + p},{p},201826,2021-02-0{p},,,,32817,,,,{10 + p},,E11.9,0,",
            OPTED_OUT if p == 4 else LOADED,
        )
        for p in range(1, 5)
    ]
    if dirty:
        conditions += [
            ("105,99,201826,2021-02-01,,,,32817,,,,,,E11.9,0,", QUARANTINED),  # unknown person
            ("106,1,201826,2021-02-31,,,,32817,,,,,,E11.9,0,", QUARANTINED),  # bad date
            ("107,1,201826,1960-02-01,,,,32817,,,,,,E11.9,0,", QUARANTINED),  # before birth
            ('108,1,201826,2021-02-01,,,,32817,,,,,,"E11.9,0,', QUARANTINED),  # open quote
            ("109,x,201826,2021-02-01,,,,32817,,,,,,E11.9,0,", QUARANTINED),  # wrong type
            (",1,201826,2021-02-01,,,,32817,,,,,,E11.9,0,", QUARANTINED),  # no id, first field
            ("110,2,201826,2021-02-02,,,,32817,,,,99,,E11.9,0,", LOADED),  # visit 99: none
            ("112,2,201826,2021-02-02,,,,32817,,,,11,,E11.9,0,", LOADED),  # person 1's visit
            ("111,1,201826,1970-02-10,,,,32817,,,,,,E11.9,0,", QUARANTINED),  # born 1970-03
        ]
    write(
        "condition_occurrence",
        "condition_occurrence_id,person_id,condition_concept_id,condition_start_date,"
        "condition_start_datetime,condition_end_date,condition_end_datetime,"
        "condition_type_concept_id,condition_status_concept_id,stop_reason,provider_id,"
        "visit_occurrence_id,visit_detail_id,condition_source_value,"
        "condition_source_concept_id,condition_status_source_value",
        conditions,
    )
    write("provider", "provider_id,provider_name", [("1,Dr House", QUARANTINED)])
    (folder / "concept.csv").write_text("concept_id,concept_name\n201826,Type 2 diabetes\n")
    return folder, expected
