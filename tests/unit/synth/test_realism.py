"""What a study finds in a medium population (30,000 persons, fixed seed), computed from the
delivered files the way an analyst would, and checked against the manifest's ground truth."""

from __future__ import annotations

import collections
import json
import statistics
from collections.abc import Iterator

import duckdb
import pytest

from havre.cdm.territory import commune_territory
from havre.synth import SynthManifest


@pytest.fixture(scope="module")
def study(medium_delivery: SynthManifest) -> Iterator[duckdb.DuckDBPyConnection]:
    root = medium_delivery.path.parent / "snds"

    def source(name: str) -> str:
        return (
            f"read_csv('{root / name}.csv', delim=';', header=true, all_varchar=true, "
            "quote='', escape='')"
        )

    connection = duckdb.connect()
    connection.register("territory", commune_territory())
    connection.execute(f"""
        CREATE TABLE ben AS SELECT BEN_NIR AS nir, BEN_NAI_ANN::INT AS born,
               BEN_DCD_DTE AS dead, BEN_RES_COM AS commune, BEN_RES_DPT AS departement
          FROM {source("IR_BEN_R")};
        CREATE TABLE prs AS SELECT CLE_DCI_JNT AS k, BEN_NIR AS nir,
               EXE_SOI_DTD::DATE AS day, PSE_SPE_COD AS specialty FROM {source("ER_PRS_F")};
        CREATE TABLE drugs AS SELECT p.nir, p.day, f.PHA_ATC_C07 AS atc
          FROM prs p JOIN {source("ER_PHA_F")} f ON f.CLE_DCI_JNT = p.k;
        CREATE TABLE tests AS SELECT p.nir, p.day, b.BIO_PRS_IDE AS act
          FROM prs p JOIN {source("ER_BIO_F")} b ON b.CLE_DCI_JNT = p.k;
        -- A treated diabetic, in a year: at least two antidiabetic dispensings (ATC A10).
        CREATE TABLE diabetic_years AS SELECT nir, year(day) AS y FROM drugs
         WHERE atc LIKE 'A10%' GROUP BY ALL HAVING count(*) >= 2;
        CREATE TABLE people AS
        SELECT b.*, 2024 - born AS age, t.deprivation_quintile AS q, t.rural,
               b.nir IN (SELECT nir FROM diabetic_years WHERE y = 2024) AS diabetic
          FROM ben b JOIN territory t ON t.code_commune = b.commune WHERE dead IS NULL;
        CREATE TABLE follow_up AS
        SELECT d.nir, d.y, p.rural, p.q,
               EXISTS (SELECT 1 FROM prs v WHERE v.nir = d.nir AND year(v.day) = d.y
                       AND v.specialty = '15') AS eye_exam,
               (SELECT count(*) FROM tests t WHERE t.nir = d.nir AND year(t.day) = d.y
                AND t.act = '1577') AS hba1c_tests
          FROM diabetic_years d JOIN people p USING (nir);
    """)
    yield connection
    connection.close()


def one(connection: duckdb.DuckDBPyConnection, query: str) -> list[tuple[object, ...]]:
    return connection.sql(query).fetchall()


def test_type_2_diabetes_prevalence_is_about_five_percent(
    study: duckdb.DuckDBPyConnection, medium_delivery: SynthManifest
) -> None:
    ((persons, prevalence),) = one(study, "SELECT count(*), avg(diabetic::INT) FROM people")
    assert 0.04 < float(prevalence) < 0.065  # type: ignore[arg-type]
    truth = medium_delivery.ground_truth["diabetes"]
    assert persons == medium_delivery.ground_truth["population"]["alive_at_end"]
    # Treated diabetics found in the claims are nearly all the true ones.
    assert abs(float(prevalence) - truth["prevalence_at_end"]) < 0.006  # type: ignore[arg-type]


def test_prevalence_rises_with_age(study: duckdb.DuckDBPyConnection) -> None:
    rows = one(
        study,
        "SELECT age // 10 AS band, avg(diabetic::INT) FROM people "
        "WHERE age BETWEEN 30 AND 79 GROUP BY ALL ORDER BY band",
    )
    rates = [float(rate) for _, rate in rows]  # type: ignore[arg-type]
    assert rates == sorted(rates)
    assert rates[-1] > 5 * rates[0]


def test_prevalence_rises_with_deprivation(study: duckdb.DuckDBPyConnection) -> None:
    rows = one(study, "SELECT q, avg(diabetic::INT) FROM people GROUP BY q ORDER BY q")
    rates = [float(rate) for _, rate in rows]  # type: ignore[arg-type]
    assert rates[4] > 1.5 * rates[0]
    assert rates[4] > rates[2] > rates[0]


def test_rural_and_deprived_diabetics_are_followed_less(study: duckdb.DuckDBPyConnection) -> None:
    rows = one(
        study,
        "SELECT rural, avg(eye_exam::INT), avg(hba1c_tests), count(*) "
        "FROM follow_up GROUP BY rural ORDER BY rural",
    )
    (_, urban_eye, urban_tests, urban_n), (_, rural_eye, rural_tests, rural_n) = rows
    assert urban_n > 3_000 and rural_n > 1_000  # type: ignore[operator]
    assert float(urban_eye) - float(rural_eye) > 0.12  # type: ignore[arg-type]
    assert float(urban_tests) - float(rural_tests) > 0.4  # type: ignore[arg-type]
    rows = one(study, "SELECT q, avg(eye_exam::INT) FROM follow_up GROUP BY q ORDER BY q")
    assert float(rows[0][1]) - float(rows[4][1]) > 0.1  # type: ignore[arg-type]


def test_complication_hazard_rises_with_hba1c(medium_delivery: SynthManifest) -> None:
    rates = medium_delivery.ground_truth["complication_rates_by_hba1c"]
    microvascular_events = [0, 0, 0, 0]
    person_years = [0.0, 0.0, 0.0, 0.0]
    for kind in ("retinopathy", "nephropathy", "neuropathy"):
        for band in range(4):
            microvascular_events[band] += rates[kind]["events"][band]
            person_years[band] += rates[kind]["diabetic_person_years"][band]
    hazard = [e / y for e, y in zip(microvascular_events, person_years, strict=True)]
    assert hazard == sorted(hazard)
    assert hazard[3] > 3 * hazard[0]
    retinopathy = rates["retinopathy"]["per_1000_person_years"]
    assert retinopathy == sorted(retinopathy)


def test_hba1c_is_higher_at_complication_stays(medium_delivery: SynthManifest) -> None:
    """In the hospital's own records, HbA1c measured at stays for a diabetic complication is
    higher than at its other diabetics' encounters."""
    root = medium_delivery.path.parent / "fhir"
    diagnoses: dict[str, set[str]] = collections.defaultdict(set)
    for line in (root / "Condition.000.ndjson").open():
        condition = json.loads(line)
        diagnoses[condition["encounter"]["reference"]].add(condition["code"]["coding"][0]["code"])
    values: dict[bool, list[float]] = {True: [], False: []}
    for line in (root / "Observation.000.ndjson").open():
        observation = json.loads(line)
        if observation["code"]["coding"][0]["code"] != "4548-4":
            continue
        codes = diagnoses[observation["encounter"]["reference"]]
        complication = any(code[:5] in ("E11.2", "E11.3", "E11.4", "E11.5") for code in codes)
        values[complication].append(observation["valueQuantity"]["value"])
    assert len(values[True]) > 30
    assert statistics.mean(values[True]) - statistics.mean(values[False]) > 0.25


def test_files_agree_with_the_ground_truth(
    study: duckdb.DuckDBPyConnection, medium_delivery: SynthManifest
) -> None:
    root = medium_delivery.path.parent / "snds"
    truth = medium_delivery.ground_truth
    assert medium_delivery.rows("snds/KI_CCI_R.csv") == truth["population"]["deaths_in_period"]
    retinopathy_stays = sum(path.read_text().count(";E113;") for path in root.glob("T_MCO*B.csv"))
    assert retinopathy_stays == truth["complications"]["retinopathy"]["events"]
    by_departement = truth["diabetics_by_departement"]
    assert sum(d["diabetics"] for d in by_departement.values()) == truth["diabetes"]["alive_at_end"]
    found = dict(one(study, "SELECT departement, count(*) FROM people WHERE diabetic GROUP BY ALL"))
    for code in ("75", "13", "59"):
        assert abs(found.get(code, 0) - by_departement[code]["diabetics"]) <= max(  # type: ignore[operator]
            3, 0.15 * by_departement[code]["diabetics"]
        )
