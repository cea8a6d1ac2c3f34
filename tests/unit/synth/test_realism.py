"""What a study finds in the medium preset population (100,000 persons, fixed seed), computed
from the delivered files the way an analyst would, and checked against the manifest's ground
truth."""

from __future__ import annotations

import collections
import json
import statistics
from collections.abc import Iterator

import duckdb
import numpy as np
import pytest

from havre.cdm.reference import departements
from havre.cdm.territory import commune_territory
from havre.synth import SynthManifest, params


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


def test_residence_follows_the_insee_populations(study: duckdb.DuckDBPyConnection) -> None:
    """Persons per département in proportion to the INSEE populations shipped in geo/."""
    study.register("insee", departements())
    ((correlation, placed, persons),) = one(
        study,
        "WITH n AS (SELECT departement, count(*) AS k FROM ben GROUP BY ALL) "
        "SELECT corr(coalesce(n.k, 0), i.population), sum(n.k), (SELECT count(*) FROM ben) "
        "FROM insee i LEFT JOIN n ON n.departement = i.code_departement "
        "WHERE i.code_departement NOT IN ('975', '977', '978', '984', '986', '987', '988', "
        "'989')",  # collectivities outside the general scheme's territory
    )
    assert placed == persons  # every residence is a known département
    assert float(correlation) > 0.99  # type: ignore[arg-type]
    shares = dict(
        one(study, "SELECT departement, count(*) / sum(count(*)) OVER () FROM ben GROUP BY ALL")
    )
    population = dict(
        zip(
            departements().column("code_departement").to_pylist(),
            departements().column("population").to_pylist(),
            strict=True,
        )
    )
    total = sum(v for k, v in population.items() if v and k not in ("975", "977", "978"))
    for code in ("75", "13", "59", "974", "48"):  # large, overseas, and the smallest
        expected = population[code] / total
        assert abs(float(shares.get(code, 0.0)) - expected) < max(  # type: ignore[arg-type]
            0.2 * expected, 0.0012
        ), code


def test_age_and_sex_follow_the_documented_pyramid(
    study: duckdb.DuckDBPyConnection, medium_delivery: SynthManifest
) -> None:
    """At the start of the period: 5-year bands and sexes in the proportions of the pyramid
    (approximate INSEE 2024 shares), about 52 % women and a fifth aged 65 or more."""
    start = int(medium_delivery.document["arguments"]["start"][:4])
    root = medium_delivery.path.parent / "snds"
    rows = one(
        study,
        f"SELECT least(({start} - BEN_NAI_ANN::INT) // 5, 19) AS band, BEN_SEX_COD::INT AS sex, "
        "count(*) FROM read_csv('" + str(root / "IR_BEN_R.csv") + "', delim=';', "
        "header=true, all_varchar=true) "
        f"WHERE BEN_NAI_ANN::INT < {start} GROUP BY ALL",
    )
    counts = {(int(b), int(s)): int(n) for b, s, n in rows}  # type: ignore[call-overload]
    persons = sum(counts.values())
    expected = np.concatenate([params.PYRAMID_MALE, params.PYRAMID_FEMALE])
    expected = expected / expected.sum()
    found = np.array([counts.get((band, sex), 0) / persons for sex in (1, 2) for band in range(20)])
    assert 0.5 * np.abs(found - expected).sum() < 0.03  # total variation distance
    women = found[20:].sum()
    aged_65 = found[13:20].sum() + found[33:40].sum()
    assert 0.505 < women < 0.535
    assert 0.19 < aged_65 < 0.25


def test_hypertension_and_kidney_disease_show_in_the_claims(
    study: duckdb.DuckDBPyConnection, medium_delivery: SynthManifest
) -> None:
    """Treated hypertension (two antihypertensive dispensings in the last year) finds nearly
    all the true hypertensives, rises with age and is more common among diabetics; kidney
    failure brings ALD 19 and CKD diagnoses at stays."""
    truth = medium_delivery.ground_truth
    study.execute("""
        CREATE OR REPLACE TABLE treated_hypertension AS SELECT nir FROM drugs
         WHERE year(day) = 2024 AND atc IN ('C09AA05', 'C09CA01', 'C08CA01')
         GROUP BY ALL HAVING count(*) >= 2
    """)
    rows = one(
        study,
        "SELECT CASE WHEN age < 40 THEN 0 WHEN age < 65 THEN 1 ELSE 2 END AS band, "
        "avg((nir IN (SELECT nir FROM treated_hypertension))::INT), "
        "sum((nir IN (SELECT nir FROM treated_hypertension))::INT) "
        "FROM people GROUP BY ALL ORDER BY band",
    )
    rates = [float(rate) for _, rate, _ in rows]  # type: ignore[arg-type]
    treated = sum(int(n) for _, _, n in rows)  # type: ignore[call-overload]
    assert rates == sorted(rates) and rates[2] > 10 * rates[0]
    assert 0.85 * truth["hypertensive_at_end"] < treated <= truth["hypertensive_at_end"]
    ((diabetic_rate, other_rate),) = one(
        study,
        "SELECT avg(h::INT) FILTER (WHERE diabetic), avg(h::INT) FILTER (WHERE NOT diabetic) "
        "FROM (SELECT diabetic, nir IN (SELECT nir FROM treated_hypertension) AS h "
        "FROM people WHERE age >= 40)",
    )
    assert float(diabetic_rate) > 1.3 * float(other_rate)  # type: ignore[arg-type]
    root = medium_delivery.path.parent / "snds"
    ((ald_19,),) = one(
        study,
        "SELECT count(DISTINCT BEN_NIR) FROM read_csv('" + str(root / "IR_IMB_R.csv") + "', "
        "delim=';', header=true, all_varchar=true) WHERE IMB_ALD_NUM = '19'",
    )
    ckd_stays = sum(path.read_text().count(";N18") for path in root.glob("T_MCO*[BD].csv"))
    assert truth["ckd_at_end"] > 0 and 0 < int(ald_19) < truth["ckd_at_end"]  # type: ignore[call-overload]
    assert ckd_stays > 0


def test_every_death_has_its_cause(
    study: duckdb.DuckDBPyConnection, medium_delivery: SynthManifest
) -> None:
    """KI_CCI_R holds one cause (an ICD-10 code) for each death, on the beneficiary's date of
    death; diabetes (E11) as a cause is found (nearly) only among treated diabetics."""
    root = medium_delivery.path.parent / "snds"
    ((deaths, same_date, coded, e11_diabetic, e11_other),) = one(
        study,
        "SELECT count(*), count(*) FILTER (WHERE k.BEN_DCD_DTE = b.dead), "
        "count(*) FILTER (WHERE regexp_full_match(k.DCD_CIM_COD, '[A-Z][0-9]{2,3}')), "
        "count(*) FILTER (WHERE k.DCD_CIM_COD LIKE 'E11%' AND k.BEN_NIR IN "
        "  (SELECT nir FROM drugs WHERE atc LIKE 'A10%')), "
        "count(*) FILTER (WHERE k.DCD_CIM_COD LIKE 'E11%' AND k.BEN_NIR NOT IN "
        "  (SELECT nir FROM drugs WHERE atc LIKE 'A10%')) "
        "FROM read_csv('" + str(root / "KI_CCI_R.csv") + "', delim=';', header=true, "
        "all_varchar=true) k LEFT JOIN ben b ON b.nir = k.BEN_NIR",
    )
    assert deaths == medium_delivery.ground_truth["population"]["deaths_in_period"]
    assert same_date == deaths and coded == deaths
    assert int(e11_diabetic) > 0  # type: ignore[call-overload]
    assert int(e11_other) <= 0.1 * int(e11_diabetic)  # type: ignore[call-overload]
