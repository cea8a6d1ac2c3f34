"""Data quality checks on an OMOP data version, in the spirit of the OHDSI Data Quality
Dashboard: completeness, conformance and plausibility, each a count of violating rows against
a threshold. Checks of one table run as two scans (``count(*) FILTER``): one for the rules that
look nothing up, one joined to person, death, visits and observation periods for the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from havre.cdm import concepts as c
from havre.cdm.omop import LAKE_TABLES, omop_table
from havre.lake.engine import Engine
from havre.lake.manifest import QualityResult

EVENTS = {
    "visit_occurrence": "visit_start_date",
    "condition_occurrence": "condition_start_date",
    "drug_exposure": "drug_exposure_start_date",
    "procedure_occurrence": "procedure_date",
    "measurement": "measurement_date",
    "observation": "observation_date",
}
SPANS = {
    "visit_occurrence": ("visit_start_date", "visit_end_date"),
    "observation_period": ("observation_period_start_date", "observation_period_end_date"),
    "condition_occurrence": ("condition_start_date", "condition_end_date"),
    "drug_exposure": ("drug_exposure_start_date", "drug_exposure_end_date"),
}
SOURCE_FORMATS = {
    "condition_occurrence": ("condition_source_value", r"^[A-Z][0-9]{2}[0-9A-Z]{0,3}$", "ICD-10"),
    "drug_exposure": ("drug_source_value", r"^[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}$", "ATC level 5"),
    "death": ("cause_source_value", r"^[A-Z][0-9]{2}[0-9A-Z]{0,3}$", "ICD-10"),
}
# the tables whose rows refer to a visit (their ``VISIT_REFERENCE`` rule)
VISIT_CHILDREN = ("condition_occurrence", "drug_exposure", "measurement", "procedure_occurrence")
VISIT_REFERENCE = "fk_visit"
Counts = dict[int, tuple[int, int]]  # rule number (in ``rules``) → (rows about, violating)
RANGES = {  # LOINC code → plausible (low, high) of value_as_number
    "4548-4": (3.0, 20.0),
    "62238-1": (1.0, 200.0),
    "39156-5": (10.0, 100.0),
    "8480-6": (50.0, 300.0),
    "8462-4": (20.0, 200.0),
}


def _joins(lookup: Callable[[str], str], person: str = "t.person_id") -> dict[str, str]:
    """The lookups rules may need; ``lookup`` names the relation holding each table (for
    ``visit_occurrence``, only its ``visit_occurrence_id`` is read), ``person`` the id the
    person lookups match. Each gives its columns names of their own (``p_person_id``...), so
    that one relation of ``PERSON_FACTS`` can stand for the person, death and period lookups
    together (``person_facts_sql``)."""
    return {
        "person": (
            "LEFT JOIN (SELECT person_id AS p_person_id, year_of_birth AS p_year_of_birth "
            f"FROM {lookup('person')}) AS p ON p.p_person_id = {person}"
        ),
        "death": (
            "LEFT JOIN (SELECT person_id AS d_person_id, death_date AS d_death_date "
            f"FROM {lookup('death')}) AS d ON d.d_person_id = {person}"
        ),
        "visit": (
            f"LEFT JOIN (SELECT visit_occurrence_id AS vid FROM {lookup('visit_occurrence')}) "
            "AS v ON v.vid = t.visit_occurrence_id"
        ),
        "period": (
            "LEFT JOIN (SELECT DISTINCT person_id AS op_person_id "
            f"FROM {lookup('observation_period')}) AS op ON op.op_person_id = {person}"
        ),
    }


# the lookups one relation of person facts answers at once (``person_facts_sql``)
PERSON_FACTS = frozenset({"person", "death", "period"})


def person_facts_sql(lookup: Callable[[str], str]) -> str:
    """SQL: one row per person id found in person, death or observation_period, with what the
    rules read of each (``fid``, ``p_person_id``, ``p_year_of_birth``, ``d_death_date``,
    ``op_person_id``): a table's rules then join it once instead of up to three times. Only
    when person_id is unique in person and in death (``unique_persons_sql``): a LEFT JOIN to
    a table that repeats a person would repeat the rows it counts."""
    joins = _joins(lookup, person="i.fid")
    return (
        "SELECT i.fid, p_person_id, p_year_of_birth, d_death_date, op_person_id "
        f"FROM (SELECT person_id AS fid FROM {lookup('person')} "
        f"UNION SELECT person_id FROM {lookup('death')} "
        f"UNION SELECT person_id FROM {lookup('observation_period')}) AS i "
        + " ".join(joins[name] for name in ("person", "death", "period"))
        + " WHERE i.fid IS NOT NULL"
    )


def unique_persons_sql(lookup: Callable[[str], str]) -> str:
    """SQL: true when person_id is never repeated nor NULL in person and in death."""
    unique = " AND ".join(
        f"(SELECT count(*) = count(DISTINCT person_id) FROM {lookup(name)})"
        for name in ("person", "death")
    )
    return f"SELECT {unique} AS unique_persons"


@dataclass(frozen=True)
class Rule:
    check: str
    category: str  # completeness, conformance, plausibility
    column: str | None
    description: str
    threshold_pct: float
    violating: str  # SQL condition over ``t`` (and the joined aliases)
    applies: str = "true"  # SQL condition: the rows the rule is about
    joins: tuple[str, ...] = ()
    # the rule reads this one column of ``t`` only: it is counted over the column's distinct
    # values (a regular expression run once per code, not once per row)
    by_value: str | None = None


def rules(table: str, today_year: int) -> list[Rule]:
    out = [
        Rule(
            "is_required",
            "completeness",
            col.name,
            f"{table}.{col.name} is required and must not be empty",
            0.0,
            f"t.{col.name} IS NULL",
        )
        for col in omop_table(table).columns
        if col.required
    ]
    if table == "person":
        out += [
            Rule(
                "person_has_observation_period",
                "completeness",
                None,
                "every person has an observation period",
                0.0,
                "op_person_id IS NULL",
                joins=("period",),
            ),
            Rule(
                "valid_gender",
                "conformance",
                "gender_concept_id",
                "gender is male or female (OMOP 8507 / 8532)",
                0.0,
                f"t.gender_concept_id NOT IN ({c.GENDER_MALE}, {c.GENDER_FEMALE})",
            ),
            Rule(
                "plausible_year_of_birth",
                "plausibility",
                "year_of_birth",
                f"year of birth between 1900 and {today_year}",
                0.0,
                f"t.year_of_birth < 1900 OR t.year_of_birth > {today_year}",
            ),
        ]
    if table in (*EVENTS, "observation_period", "death"):
        out.append(
            Rule(
                "fk_person",
                "conformance",
                "person_id",
                f"{table}.person_id refers to a person",
                0.0,
                "p_person_id IS NULL",
                joins=("person",),
            )
        )
    if table in VISIT_CHILDREN:
        out.append(
            Rule(
                VISIT_REFERENCE,
                "conformance",
                "visit_occurrence_id",
                f"{table}.visit_occurrence_id refers to a visit",
                0.0,
                "vid IS NULL",
                applies="t.visit_occurrence_id IS NOT NULL",
                joins=("visit",),
            )
        )
    if table in SOURCE_FORMATS:
        column, pattern, label = SOURCE_FORMATS[table]
        out.append(
            Rule(
                "source_value_format",
                "conformance",
                column,
                f"{column} is an {label} code",
                5.0,
                f"NOT regexp_matches(t.{column}, '{pattern}')",
                applies=f"t.{column} IS NOT NULL",
                by_value=column,
            )
        )
    if table in EVENTS:
        date = EVENTS[table]
        out += [
            Rule(
                "plausible_after_birth",
                "plausibility",
                date,
                f"{table} happens after the year of birth",
                1.0,
                f"year(t.{date}) < p_year_of_birth",
                joins=("person",),
            ),
            Rule(
                "plausible_before_death",
                "plausibility",
                date,
                f"{table} happens before death (60 days of tolerance)",
                1.0,
                f"t.{date} > d_death_date + 60",
                joins=("death",),
            ),
        ]
    if table in SPANS:
        start, end = SPANS[table]
        out.append(
            Rule(
                "plausible_start_before_end",
                "plausibility",
                end,
                f"{table} does not end before it starts",
                0.0,
                f"t.{end} < t.{start}",
                applies=f"t.{end} IS NOT NULL",
            )
        )
    if table == "visit_occurrence":
        out.append(
            Rule(
                "plausible_stay_length",
                "plausibility",
                "visit_end_date",
                "hospital stays last less than a year",
                1.0,
                # date_diff, not a subtraction: on Spark, a date minus a date is an interval
                "date_diff('day', t.visit_start_date, t.visit_end_date) > 365",
                applies=f"t.visit_concept_id = {c.VISIT_INPATIENT}",
            )
        )
    if table == "measurement":
        out += [
            Rule(
                "plausible_value_range",
                "plausibility",
                "value_as_number",
                f"LOINC {code} values between {low:g} and {high:g}",
                1.0,
                f"t.value_as_number < {low} OR t.value_as_number > {high}",
                applies=f"t.measurement_source_value = '{code}' AND t.value_as_number IS NOT NULL",
            )
            for code, (low, high) in RANGES.items()
        ]
    return out


def count_table(
    engine: Engine,
    table: str,
    today_year: int,
    relation: str | None = None,
    lookup: Callable[[str], str] | None = None,
    skip: frozenset[str] = frozenset(),
    facts: str | None = None,
) -> Counts:
    """The rules of one table (but the checks named in ``skip``) counted in two scans of it,
    read from ``relation`` (by default the table's name; the tables its rules look up are
    named by ``lookup``; ``facts``: a relation of ``person_facts_sql`` over them, joined once
    for every person, death and period lookup). A ``by_value`` rule is counted over the
    distinct values of its column."""
    table_rules = rules(table, today_year)
    lookups = _joins(lookup or _same)
    source = relation or table
    row: dict[str, int | None] = {}
    counted = [(n, r) for n, r in enumerate(table_rules) if r.check not in skip]
    for number, rule in counted:
        if rule.by_value is not None:
            row.update(_count_by_value(engine, source, number, rule, rule.by_value))
    # the rules that look nothing up, then those that do: the joins then carry only the few
    # columns their rules read, not every column the completeness rules scan
    for joined_rules in (False, True):
        numbered = [
            (n, r) for n, r in counted if bool(r.joins) is joined_rules and r.by_value is None
        ]
        if not numbered:
            continue
        measures = ["count(*) AS total_rows"]  # the total of every rule about all rows
        for number, rule in numbered:
            if rule.applies != "true":
                measures.append(f"count(*) FILTER (WHERE {rule.applies}) AS total_{number}")
                condition = f"({rule.applies}) AND ({rule.violating})"
            else:
                condition = rule.violating
            measures.append(f"count(*) FILTER (WHERE {condition}) AS bad_{number}")
        joins = sorted({j for _, rule in numbered for j in rule.joins})
        joined = [lookups[j] for j in joins if facts is None or j not in PERSON_FACTS]
        if facts is not None and PERSON_FACTS & set(joins):
            joined.append(f"LEFT JOIN {facts} AS f ON f.fid = t.person_id")
        query = f"SELECT {', '.join(measures)} FROM {source} AS t {' '.join(joined)}"
        found = engine.sql(query).to_pylist()[0]
        for number, rule in numbered:
            total = found[f"total_{number}"] if rule.applies != "true" else found["total_rows"]
            row.update({f"total_{number}": total, f"bad_{number}": found[f"bad_{number}"]})
    return {
        number: (int(row[f"total_{number}"] or 0), int(row[f"bad_{number}"] or 0))
        for number, _ in counted
    }


def _count_by_value(
    engine: Engine, relation: str, number: int, rule: Rule, column: str
) -> dict[str, int | None]:
    """A rule reading one column, counted over that column's distinct values."""
    grouped = (
        f"SELECT t.{column}, count(*) AS n FROM {relation} AS t WHERE {rule.applies} "
        f"GROUP BY t.{column}"
    )
    found = engine.sql(
        f"SELECT sum(t.n) AS total, sum(t.n) FILTER (WHERE {rule.violating}) AS bad "
        f"FROM ({grouped}) AS t"
    ).to_pylist()[0]
    return {f"total_{number}": found["total"], f"bad_{number}": found["bad"]}


def visit_references(
    engine: Engine,
    today_year: int,
    references: str,
    visits: str,
    tables: tuple[str, ...],
) -> dict[str, Counts]:
    """The ``fk_visit`` rule of several tables in one join: ``references`` holds their
    ``visit_occurrence_id`` values (``tab``: the table's index in ``tables``, ``ref``: the id,
    NULL rows left out), ``visits`` the visits. The hash table is built once, on the visit
    ids, and every table's references probe it (one build per table would hash the visits,
    or the table, again each time). The rule itself, its join included, is the table's own
    (``rules``)."""
    found = [
        next((n, r) for n, r in enumerate(rules(table, today_year)) if r.check == VISIT_REFERENCE)
        for table in tables
    ]
    joins = {j for _, rule in found for j in rule.joins}
    measures = ", ".join(
        f"count(*) FILTER (WHERE t.tab = {i} AND ({rule.applies})) AS total_{i}, "
        f"count(*) FILTER (WHERE t.tab = {i} AND ({rule.applies}) AND ({rule.violating})) "
        f"AS bad_{i}"
        for i, (_, rule) in enumerate(found)
    )
    lookups = _joins(lambda _: visits)
    joined = " ".join(lookups[j] for j in sorted(joins))
    with engine.joins_as_written():
        row = engine.sql(
            f"SELECT {measures} FROM (SELECT tab, ref AS visit_occurrence_id FROM {references}) "
            f"AS t {joined}"
        ).to_pylist()[0]
    return {
        table: {number: (int(row[f"total_{i}"] or 0), int(row[f"bad_{i}"] or 0))}
        for i, (table, (number, _)) in enumerate(zip(tables, found, strict=True))
    }


def table_results(table: str, today_year: int, counts: Counts) -> list[QualityResult]:
    """The results of every rule of a table, from their counts (``count_table``, and those
    counted elsewhere: ``visit_references``)."""
    results = []
    for number, rule in enumerate(rules(table, today_year)):
        total, bad = counts[number]
        pct = 0.0 if total == 0 else 100.0 * bad / total
        results.append(
            QualityResult(
                check=rule.check,
                category=rule.category,
                table=table,
                column=rule.column,
                description=rule.description,
                violating=bad,
                total=total,
                threshold_pct=rule.threshold_pct,
                passed=pct <= rule.threshold_pct,
            )
        )
    return results


def check_table(
    engine: Engine,
    table: str,
    today_year: int,
    relation: str | None = None,
    lookup: Callable[[str], str] | None = None,
) -> list[QualityResult]:
    """All rules of one table in two scans of it (see ``count_table``)."""
    counts = count_table(engine, table, today_year, relation, lookup)
    return table_results(table, today_year, counts)


def run_checks(engine: Engine, today_year: int) -> tuple[QualityResult, ...]:
    """Every rule over the lake tables registered in ``engine`` under their names."""
    return tuple(r for table in LAKE_TABLES for r in check_table(engine, table, today_year))


def _same(table: str) -> str:
    return table
