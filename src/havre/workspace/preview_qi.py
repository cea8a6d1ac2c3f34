"""The person-level table the risk preview measures: one row per person of a prepared
extraction, holding what the extract would let an attacker match on (quasi-identifiers) and
what it must not reveal (sensitive attributes). Each value is read from the extraction's own
SQL for the granted columns, so it is treated exactly as the workspace would treat it
(docs/risk.md, "What the extract lets an attacker match on").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from havre.disclosure.risk import ColumnKind, hierarchy
from havre.governance.projects import SensitiveAttribute
from havre.lake import LakeVersion
from havre.lake.engine import Engine
from havre.workspace.extract import Extraction
from havre.workspace.plan import (
    EVENT_DATE,
    PERSON_TABLES,
    ColumnPlan,
    DateMode,
    ExtractPlan,
    TablePlan,
    Treatment,
)

TABLE = "rp_qi"
EXTRACT = "rp_extract"
NOTHING = "no_quasi_identifier"
PERSON_KEY = ColumnPlan("person_id", pa.int64(), Treatment.PERSON)
GENDER = (
    "CASE x.gender_concept_id WHEN 8532 THEN 'F' WHEN 8507 THEN 'M' "
    "ELSE CAST(x.gender_concept_id AS VARCHAR) END"
)


def _scalar(engine: Engine, query: str) -> Any:
    table = engine.sql(query)  # errors come back as EngineError, never raw DuckDB ones
    return table.column(0)[0].as_py() if table.num_rows else None


def _code(column: str) -> str:
    return f"upper(replace(CAST({column} AS VARCHAR), '.', ''))"


@dataclass(frozen=True)
class Derived:
    """One column of the person table, and where it comes from."""

    column: str
    kind: ColumnKind
    sources: tuple[str, ...]
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind.value,
            "from": list(self.sources),
            "description": self.description,
        }


@dataclass(frozen=True)
class RareCodes:
    """Diagnosis codes few persons of the data version hold: a quasi-identifier on their own
    (an attacker who knows a neighbour has a rare disease)."""

    prevalence: float
    floor: int  # held by fewer persons than this: rare whatever the version's size
    version_persons: int
    codes: pa.Table  # code, persons

    @classmethod
    def of_version(
        cls,
        engine: Engine,
        source: LakeVersion,
        prevalence: float,
        floor: int,
        *,
        wanted: bool = True,
    ) -> RareCodes:
        """The rare codes of a data version (none looked for when the extract has no codes)."""
        empty = pa.table({"code": pa.array([], pa.string()), "persons": pa.array([], pa.int64())})
        persons = source.table("person").rows if "person" in source.tables else 0
        if not wanted or "condition_occurrence" not in source.tables:
            return cls(prevalence, floor, persons, empty)
        engine.register("rp_lake_conditions", source.dataset("condition_occurrence"))
        limit = prevalence * persons
        codes = engine.sql(
            "SELECT code, persons FROM (SELECT "
            f"{_code('c.condition_source_value')} AS code, "
            "COUNT(DISTINCT c.person_id) AS persons FROM rp_lake_conditions AS c "
            "WHERE c.condition_source_value IS NOT NULL GROUP BY 1) AS x "
            "WHERE regexp_matches(code, '^[A-Z][0-9]{2}') "
            f"AND (persons <= {limit!r} OR persons < {int(floor)}) ORDER BY code"
        )
        return cls(prevalence, floor, persons, codes.cast(empty.schema))

    def to_dict(self) -> dict[str, Any]:
        return {
            "prevalence": self.prevalence,
            "fewer_persons_than": self.floor,
            "version_persons": self.version_persons,
            "codes": self.codes.num_rows,
        }


@dataclass
class PersonTable:
    engine: Engine
    quasi_identifiers: list[Derived]
    sensitive: list[Derived]
    columns: list[str]  # every quasi-identifier column built, measured or not
    notes: list[str] = field(default_factory=list)
    extract_relation: str = EXTRACT

    def persons(self) -> int:
        return int(_scalar(self.engine, f"SELECT COUNT(*) FROM {TABLE} WHERE in_extract"))

    def population(self) -> pa.Table:
        """Every person of the run with their quasi-identifiers (the attacker's population)."""
        columns = ", ".join([*self.columns, NOTHING])
        return self.engine.sql(f"SELECT {columns} FROM {TABLE}")


def derive(
    engine: Engine,
    extraction: Extraction,
    source: LakeVersion,
    rare: RareCodes,
    sensitive: Sequence[SensitiveAttribute],
) -> PersonTable:
    """Build the person table of a prepared extraction; its extract is the view ``rp_extract``."""
    builder = _Builder(engine, extraction, source, rare, tuple(sensitive))
    return builder.build()


class _Builder:
    def __init__(
        self,
        engine: Engine,
        extraction: Extraction,
        source: LakeVersion,
        rare: RareCodes,
        sensitive: tuple[SensitiveAttribute, ...],
    ) -> None:
        self.engine = engine
        self.extraction = extraction
        self.plan: ExtractPlan = extraction.plan
        self.source = source
        self.rare = rare
        self.wanted = sensitive
        self.parts: list[tuple[Derived, str, str]] = []  # derived, SQL (person_id, value), default
        self.sensitive: list[Derived] = []
        self.notes: list[str] = []

    # -- reading the extract ----------------------------------------------------------------
    def treatment(self, table: str, column: str) -> Treatment | None:
        plan = self.plan.table(table)
        if plan is None or column not in plan.column_names:
            return None
        return plan.treatment_of(column)

    def kept(self, table: str, column: str) -> bool:
        return self.treatment(table, column) is Treatment.KEEP

    def rows(self, table: str, columns: Sequence[str] = ()) -> str:
        """The extraction's SQL for ``table``: the person key and ``columns``, as treated."""
        plan = self.plan.table(table)
        assert plan is not None
        chosen = tuple(c for c in plan.columns if c.name in columns)
        return self.extraction.table_query(TablePlan(table, (PERSON_KEY, *chosen)))

    def add(self, derived: Derived, sql: str, default: str = "NULL") -> None:
        self.parts.append((derived, sql, default))

    def dated(self, expression: str) -> tuple[str, ColumnKind, str]:
        """A treated date as an attacker can match it, by the plan's date mode."""
        mode = self.plan.date_mode
        if mode is DateMode.EXACT:
            return f"strftime({expression}, '%Y-%m-%d')", ColumnKind.EXACT_DATE, "exact"
        if mode is DateMode.MONTH:
            return f"strftime({expression}, '%Y-%m')", ColumnKind.MONTH, "to the month"
        # An offset of up to D days either way leaves about 2D days of doubt: counted as the
        # year (D = 180 by default), a cautious reading of what a shifted date reveals.
        return f"CAST(year({expression}) AS VARCHAR)", ColumnKind.YEAR, "shifted: to the year"

    # -- the columns ------------------------------------------------------------------------
    def build(self) -> PersonTable:
        self.person()
        self.first_event()
        self.death()
        self.rare_diagnosis()
        self.sensitive_attributes()
        quasi = [d for d, _, _ in self.parts if d.column not in {s.column for s in self.sensitive}]
        selects = [f"{self.in_extract()} AS in_extract", f"'' AS {NOTHING}"]
        joins = []
        for index, (derived, sql, default) in enumerate(self.parts):
            value = f"d{index}.value"
            if default != "NULL":
                value = f"COALESCE({value}, {default})"
            selects.append(f"CAST({value} AS VARCHAR) AS {derived.column}")
            joins.append(f"LEFT JOIN ({sql}) AS d{index} ON d{index}.person_id = p.person_id")
        self.engine.execute(
            f"CREATE TEMP TABLE {TABLE} AS SELECT {', '.join(selects)} FROM "
            "(SELECT project_person_id AS person_id FROM ws_persons) AS p " + " ".join(joins)
        )
        built = [q.column for q in quasi]
        quasi = self.checked(quasi)
        if not quasi:
            self.notes.append(
                "The extract holds no quasi-identifier: every person looks alike to an attacker."
            )
            quasi = [Derived(NOTHING, ColumnKind.OTHER, (), "nothing to match on")]
        columns = ", ".join([*(q.column for q in quasi), *(s.column for s in self.sensitive)])
        self.engine.execute(
            f"CREATE TEMP VIEW {EXTRACT} AS SELECT {columns} FROM {TABLE} WHERE in_extract"
        )
        return PersonTable(self.engine, quasi, self.sensitive, built, self.notes)

    def person(self) -> None:
        if self.plan.table("person") is None:
            return
        year, month = self.kept("person", "year_of_birth"), self.kept("person", "month_of_birth")
        rows = self.rows("person", ("year_of_birth", "month_of_birth"))
        valid_year = "x.year_of_birth BETWEEN 0 AND 9999"
        if year and month:
            month_text = (
                "CASE WHEN x.month_of_birth BETWEEN 1 AND 12 "
                "THEN lpad(CAST(x.month_of_birth AS VARCHAR), 2, '0') ELSE '00' END"
            )
            value = (
                f"CASE WHEN {valid_year} THEN lpad(CAST(x.year_of_birth AS VARCHAR), 4, '0') "
                f"|| '-' || {month_text} END"
            )
            derived = Derived(
                "birth",
                ColumnKind.BIRTH_MONTH,
                ("person.year_of_birth", "person.month_of_birth"),
                "year and month of birth (month 00: unknown)",
            )
            self.add(derived, f"SELECT x.person_id, {value} AS value FROM ({rows}) AS x")
        elif year:
            derived = Derived(
                "birth", ColumnKind.BIRTH_YEAR, ("person.year_of_birth",), "year of birth"
            )
            value = f"CASE WHEN {valid_year} THEN CAST(x.year_of_birth AS VARCHAR) END"
            self.add(derived, f"SELECT x.person_id, {value} AS value FROM ({rows}) AS x")
        elif month:
            derived = Derived(
                "birth", ColumnKind.OTHER, ("person.month_of_birth",), "month of birth alone"
            )
            self.add(derived, f"SELECT x.person_id, x.month_of_birth AS value FROM ({rows}) AS x")
        if self.kept("person", "gender_concept_id"):
            rows = self.rows("person", ("gender_concept_id",))
            self.add(
                Derived("sex", ColumnKind.SEX, ("person.gender_concept_id",), "sex"),
                f"SELECT x.person_id, {GENDER} AS value FROM ({rows}) AS x",
            )
        self.residence()

    def residence(self) -> None:
        treatment = self.treatment("person", "location_id")
        if treatment is None or treatment is Treatment.NULL:
            return
        rows = self.rows("person", ("location_id",))
        if treatment is Treatment.KEEP:
            if "location" not in self.source.tables:
                return
            self.engine.register("rp_lake_location", self.source.dataset("location"))
            # a location without a code stays apart from the others: never merged into one
            code = (
                "COALESCE(CAST(l.location_source_value AS VARCHAR), "
                "'location ' || CAST(x.location_id AS VARCHAR))"
            )
            sql = (
                f"SELECT x.person_id, CASE WHEN x.location_id IS NOT NULL THEN {code} END "
                f"AS value FROM ({rows}) AS x "
                "LEFT JOIN rp_lake_location AS l ON l.location_id = x.location_id"
            )
            kind, what = ColumnKind.COMMUNE, "commune of residence"
        else:
            sql = (
                f"SELECT x.person_id, d.county AS value FROM ({rows}) AS x "
                "LEFT JOIN ws_departements AS d ON d.new_id = x.location_id"
            )
            kind, what = ColumnKind.DEPARTEMENT, "département of residence"
        self.add(Derived("residence", kind, ("person.location_id", "location"), what), sql)

    def first_event(self) -> None:
        parts, sources = [], []
        for table, column in EVENT_DATE.items():
            if table == "death" or self.treatment(table, column) is not Treatment.DATE:
                continue
            rows = self.rows(table, (column,))
            parts.append(
                f"SELECT x.person_id, MIN(x.{column}) AS d FROM ({rows}) AS x GROUP BY x.person_id"
            )
            sources.append(f"{table}.{column}")
        if not parts:
            return
        value, kind, how = self.dated("MIN(u.d)")
        self.add(
            Derived("first_event", kind, tuple(sources), f"date of the first event ({how})"),
            f"SELECT u.person_id, {value} AS value FROM ({' UNION ALL '.join(parts)}) AS u "
            "GROUP BY u.person_id",
        )

    def death(self) -> None:
        if self.plan.table("death") is None:
            return
        if self.treatment("death", "death_date") is Treatment.DATE:
            value, kind, how = self.dated("MIN(x.death_date)")
            rows = self.rows("death", ("death_date",))
            self.add(
                Derived("death_date", kind, ("death.death_date",), f"date of death ({how})"),
                f"SELECT x.person_id, {value} AS value FROM ({rows}) AS x GROUP BY x.person_id",
            )
        elif SensitiveAttribute.DEATH not in self.wanted:
            rows = self.rows("death")
            self.add(
                Derived("deceased", ColumnKind.OTHER, ("death",), "died in the period"),
                f"SELECT DISTINCT x.person_id, 'died' AS value FROM ({rows}) AS x",
            )
        place = self.treatment("death", "death_commune")
        if place in (Treatment.KEEP, Treatment.DEPARTEMENT):
            rows = self.rows("death", ("death_commune",))
            kind = ColumnKind.COMMUNE if place is Treatment.KEEP else ColumnKind.DEPARTEMENT
            self.add(
                Derived("death_place", kind, ("death.death_commune",), f"{kind.value} of death"),
                f"SELECT x.person_id, MIN(CAST(x.death_commune AS VARCHAR)) AS value "
                f"FROM ({rows}) AS x GROUP BY x.person_id",
            )

    def rare_diagnosis(self) -> None:
        if not self.kept("condition_occurrence", "condition_source_value"):
            return
        if self.rare.codes.num_rows == 0:
            self.notes.append("No diagnosis code of the data version is rare.")
            return
        self.engine.register("rp_rare", self.rare.codes)
        rows = self.rows("condition_occurrence", ("condition_source_value",))
        self.add(
            Derived(
                "rare_diagnosis",
                ColumnKind.ICD10,
                ("condition_occurrence.condition_source_value",),
                "the person's rarest diagnosis among the data version's rare codes",
            ),
            "SELECT y.person_id, y.code AS value FROM (SELECT x.person_id, r.code, "
            "row_number() OVER (PARTITION BY x.person_id ORDER BY r.persons, r.code) AS rank "
            f"FROM ({rows}) AS x JOIN rp_rare AS r "
            f"ON r.code = {_code('x.condition_source_value')}) AS y WHERE y.rank = 1",
        )

    def sensitive_attributes(self) -> None:
        for attribute in dict.fromkeys(self.wanted):
            found = self.sensitive_attribute(attribute)
            if found is None:
                self.notes.append(
                    f"The sensitive attribute '{attribute.value}' is not in the extract."
                )
                continue
            derived, sql, default = found
            self.sensitive.append(derived)
            self.add(derived, sql, default)

    def sensitive_attribute(self, attribute: SensitiveAttribute) -> tuple[Derived, str, str] | None:
        if attribute is SensitiveAttribute.DEATH:
            if self.plan.table("death") is None:
                return None
            rows = self.rows("death")
            derived = Derived("death", ColumnKind.OTHER, ("death",), "died in the period")
            sql = f"SELECT DISTINCT x.person_id, 'yes' AS value FROM ({rows}) AS x"
            return derived, sql, "'no'"
        table, column, what = {
            SensitiveAttribute.DIAGNOSIS: (
                "condition_occurrence",
                "condition_source_value",
                "most frequent ICD-10 category",
            ),
            SensitiveAttribute.DRUG: ("drug_exposure", "drug_source_value", "most frequent drug"),
        }[attribute]
        if not self.kept(table, column):
            return None
        code = _code(f"x.{column}")
        value = f"substr({code}, 1, 3)" if attribute is SensitiveAttribute.DIAGNOSIS else code
        rows = self.rows(table, (column,))
        sql = (
            "SELECT r.person_id, r.v AS value FROM (SELECT g.person_id, g.v, row_number() OVER "
            "(PARTITION BY g.person_id ORDER BY g.n DESC, g.v) AS rank FROM "
            f"(SELECT x.person_id, {value} AS v, COUNT(*) AS n FROM ({rows}) AS x "
            f"WHERE x.{column} IS NOT NULL GROUP BY 1, 2) AS g) AS r WHERE r.rank = 1"
        )
        return Derived(attribute.value, ColumnKind.OTHER, (f"{table}.{column}",), what), sql, "NULL"

    def in_extract(self) -> str:
        """Who the extract holds: everyone of the population when it grants ``person``, else
        the persons with a row in a granted table (in the period)."""
        tables = [t.name for t in self.plan.tables if t.name in PERSON_TABLES]
        if "person" in tables:
            return "TRUE"
        if not tables:
            return "FALSE"
        union = " UNION ".join(f"SELECT x.person_id FROM ({self.rows(t)}) AS x" for t in tables)
        return f"p.person_id IN (SELECT m.person_id FROM ({union}) AS m)"

    def checked(self, quasi: list[Derived]) -> list[Derived]:
        """Values that do not fit their kind are measured as they are (no coarser level); a
        rare diagnosis nobody in the extract holds is left out."""
        out = []
        for derived in quasi:
            tree = hierarchy(derived.kind)
            column = derived.column
            if derived.kind is ColumnKind.ICD10 and not _scalar(
                self.engine, f"SELECT COUNT({column}) FROM {TABLE} WHERE in_extract"
            ):
                self.notes.append("No person of the extract holds a rare diagnosis.")
                continue
            if tree.invalid_when is not None:
                bad = tree.invalid_when.replace("{c}", column)
                count = _scalar(
                    self.engine,
                    f"SELECT COUNT(*) FROM {TABLE} WHERE in_extract AND {column} IS NOT NULL "
                    f"AND ({bad})",
                )
                if count:
                    self.notes.append(
                        f"'{column}' holds {int(count):,} value(s) that are not {tree.expected}: "
                        "measured as they are, without coarser levels."
                    )
                    derived = Derived(
                        column, ColumnKind.OTHER, derived.sources, derived.description
                    )
            out.append(derived)
        return out
