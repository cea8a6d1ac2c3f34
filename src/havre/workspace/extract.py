"""The extraction: SQL over one data version that yields a project's minimized tables.

It runs on any ``Engine`` (DuckDB by default; the SQL keeps to the portable subset of
``havre.lake.engine``, so a Spark engine can run it once transpiled). Steps, all in SQL:

1. ``ws_population``: the persons of the permit's population (docs/projects.md, "row filter"),
   objectors removed;
2. ``ws_persons``: each person's project pseudonym (a compact integer, stable across
   refreshes through the previous mapping) and date offset;
3. maps that renumber visits and generalize locations;
4. one query per granted table: its rows in the period, for persons of the population, with
   each column treated as the plan says.

Nothing here writes files: ``tables()`` hands each table's query to the caller.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from havre.core.errors import StateError
from havre.governance.projects import Population, Sex
from havre.lake.engine import Engine, sql_literal
from havre.workspace.plan import (
    EVENT_DATE,
    ORDER_DATE,
    PERIOD_SPAN,
    PERSON_TABLES,
    ColumnPlan,
    DateMode,
    ExtractPlan,
    TablePlan,
    Treatment,
)
from havre.workspace.pseudonyms import ProjectSecrets, project_key_sql, shift_sql

if TYPE_CHECKING:
    import pyarrow.dataset as ds

GENDER_CONCEPT = {Sex.FEMALE: 8532, Sex.MALE: 8507}
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
OBJECTORS_SCHEMA = pa.schema([pa.field("person_id", pa.int64())])


class LakeSource(Protocol):
    """What the extraction reads: a data version's tables (``LakeVersion`` is one)."""

    @property
    def tables(self) -> list[str]: ...

    def dataset(self, name: str) -> ds.Dataset: ...


@dataclass(frozen=True)
class PreparedCounts:
    persons: int
    objectors_in_version: int


def sql_type(data_type: pa.DataType) -> str:
    if pa.types.is_int64(data_type):
        return "BIGINT"
    if pa.types.is_int32(data_type):
        return "INTEGER"
    if pa.types.is_int16(data_type) or pa.types.is_int8(data_type):
        return "SMALLINT"
    if pa.types.is_floating(data_type):
        return "DOUBLE"
    if pa.types.is_boolean(data_type):
        return "BOOLEAN"
    if pa.types.is_date(data_type):
        return "DATE"
    if pa.types.is_timestamp(data_type):
        return "TIMESTAMP"
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "VARCHAR"
    raise StateError(f"A lake column has the type {data_type}, which a workspace cannot carry.")


def _literal_date(value: dt.date) -> str:
    return f"DATE '{value.isoformat()}'"


def _name(value: str) -> str:
    # names come from the permit and the lake's schemas; anything else never reaches SQL
    if not IDENTIFIER.fullmatch(value):
        raise StateError(f"'{value}' is not a table or column name a workspace accepts.")
    return value


class Extraction:
    """One extraction: register the inputs, build the person tables, then read each table."""

    def __init__(
        self,
        engine: Engine,
        source: LakeSource,
        plan: ExtractPlan,
        secrets: ProjectSecrets,
        previous: pa.Table,
        objectors: pa.Table,
    ) -> None:
        self.engine = engine
        self.source = source
        self.plan = plan
        self.secrets = secrets
        self.previous = previous
        self.objectors = objectors
        self.period = plan.permit.row_filter.period
        self.population = plan.permit.row_filter.population
        self.available = set(source.tables)
        self._registered: set[str] = set()
        self._id_tables: list[str] = []

    # -- inputs ---------------------------------------------------------------------------
    def _source(self, table: str) -> str:
        """The registered relation of a lake table (registered on first use)."""
        name = f"src_{_name(table)}"
        if table not in self._registered:
            if table not in self.available:
                raise StateError(
                    f"The data version has no table '{table}', which the permit needs.",
                    hint="the permit needs an amendment to the data the lake holds",
                )
            self.engine.register(name, self.source.dataset(table))
            self._registered.add(table)
        return name

    def prepare(self) -> PreparedCounts:
        """Population, project pseudonyms, offsets and the maps. Returns what was found."""
        engine = self.engine
        engine.register("ws_objectors", self.objectors)
        engine.register("ws_previous", self.previous)
        engine.register("ws_pads_pseudonym", self.secrets.pseudonym_pads())
        engine.register("ws_pads_shift", self.secrets.shift_pads())
        person = self._source("person")
        engine.execute(
            f"CREATE TEMP TABLE ws_population AS SELECT p.person_id, p.hub_pseudonym "
            f"FROM {person} AS p WHERE p.hub_pseudonym IS NOT NULL "
            f"AND {self._population_sql()} "
            f"AND NOT EXISTS (SELECT 1 FROM ws_objectors AS o WHERE o.person_id = p.person_id)"
        )
        engine.execute(
            "CREATE TEMP TABLE ws_keyed AS SELECT pop.person_id AS lake_person_id, "
            f"{project_key_sql('pop.hub_pseudonym', 'kp')} AS project_key, "
            f"{project_key_sql('pop.hub_pseudonym', 'ks')} AS shift_hex "
            "FROM ws_population AS pop CROSS JOIN ws_pads_pseudonym AS kp "
            "CROSS JOIN ws_pads_shift AS ks"
        )
        # known persons keep their number; newcomers follow the last one, in HMAC order
        engine.execute(
            "CREATE TEMP TABLE ws_persons AS "
            "WITH known AS (SELECT k.lake_person_id, k.project_key, k.shift_hex, "
            "m.project_person_id AS known_id FROM ws_keyed AS k "
            "LEFT JOIN ws_previous AS m ON m.project_key = k.project_key), "
            "top AS (SELECT coalesce(max(project_person_id), 0) AS last_id FROM ws_previous) "
            "SELECT known.lake_person_id, known.project_key, "
            "CAST(CASE WHEN known.known_id IS NOT NULL THEN known.known_id "
            "ELSE top.last_id + row_number() OVER "
            "(PARTITION BY known.known_id IS NULL ORDER BY known.project_key) END AS BIGINT) "
            "AS project_person_id, "
            f"{shift_sql('known.shift_hex', self.secrets.shift_days)} AS shift_days "
            "FROM known CROSS JOIN top"
        )
        if self.plan.needs_visit_ids or self.plan.table("care_site") is not None:
            self._visit_ids()
        if self.plan.table("location") is not None or self.plan.needs_departements:
            self._locations()
        persons = int(_scalar(engine, "SELECT count(*) FROM ws_persons"))
        objecting = int(
            _scalar(
                engine,
                f"SELECT count(*) FROM {person} AS p "
                "WHERE p.person_id IN (SELECT person_id FROM ws_objectors)",
            )
        )
        return PreparedCounts(persons, objecting)

    def _population_sql(self) -> str:
        population: Population = self.population
        start, end = self.period.start, self.period.end
        clauses = ["TRUE"]
        if population.age_min is not None or population.age_max is not None:
            age = f"({start.year} - p.year_of_birth)"
            clauses.append("p.year_of_birth IS NOT NULL")
            if population.age_min is not None:
                clauses.append(f"{age} >= {int(population.age_min)}")
            if population.age_max is not None:
                clauses.append(f"{age} <= {int(population.age_max)}")
        if population.sex:
            concepts = ", ".join(str(GENDER_CONCEPT[s]) for s in population.sex)
            clauses.append(f"p.gender_concept_id IN ({concepts})")
        if population.departements:
            location = self._source("location")
            codes = ", ".join(sql_literal(c) for c in population.departements)
            clauses.append(
                f"EXISTS (SELECT 1 FROM {location} AS l WHERE l.location_id = p.location_id "
                f"AND l.county IN ({codes}))"
            )
        if population.conditions:
            conditions = self._source("condition_occurrence")
            code = "upper(replace(c.condition_source_value, '.', ''))"
            prefixes = " OR ".join(
                f"{code} LIKE {sql_literal(p + '%')}" for p in population.conditions
            )
            clauses.append(
                f"EXISTS (SELECT 1 FROM {conditions} AS c WHERE c.person_id = p.person_id "
                f"AND c.condition_start_date BETWEEN {_literal_date(start)} "
                f"AND {_literal_date(end)} AND ({prefixes}))"
            )
        return " AND ".join(clauses)

    def _visit_ids(self) -> None:
        """Visits of the population in the period, renumbered (what visit ids point to)."""
        if "visit_occurrence" not in self.available:
            self.engine.execute(
                "CREATE TEMP TABLE ws_visit_ids AS SELECT CAST(NULL AS BIGINT) AS lake_id, "
                "CAST(NULL AS BIGINT) AS care_site_id, CAST(NULL AS BIGINT) AS new_id WHERE FALSE"
            )
            return
        self._renumber(
            "visit_occurrence", "visit_occurrence_id", "ws_visit_ids", care_site_id="t.care_site_id"
        )

    def _locations(self) -> None:
        """The locations the workspace may name; without the commune kind, département rows."""
        if "location" not in self.available:
            self.engine.execute(
                "CREATE TEMP TABLE ws_location_ids AS SELECT CAST(NULL AS BIGINT) AS lake_id, "
                "CAST(NULL AS BIGINT) AS new_id WHERE FALSE"
            )
            self.engine.execute(
                "CREATE TEMP TABLE ws_departements AS SELECT CAST(NULL AS VARCHAR) AS county, "
                "CAST(NULL AS BIGINT) AS new_id WHERE FALSE"
            )
            return
        person = self._source("person")
        references = [
            f"SELECT p.location_id AS lake_id FROM {person} AS p "
            "JOIN ws_persons AS w ON w.lake_person_id = p.person_id "
            "WHERE p.location_id IS NOT NULL"
        ]
        if self.plan.table("care_site") is not None and "care_site" in self.available:
            references.append(
                f"SELECT s.location_id AS lake_id FROM {self._care_sites()} AS s "
                "WHERE s.location_id IS NOT NULL"
            )
        self.engine.execute(
            "CREATE TEMP TABLE ws_location_refs AS SELECT DISTINCT lake_id FROM ("
            + " UNION ALL ".join(references)
            + ") AS refs"
        )
        location = self._source("location")
        self.engine.execute(
            "CREATE TEMP TABLE ws_departements AS SELECT d.county, "
            "row_number() OVER (ORDER BY d.county) AS new_id FROM (SELECT DISTINCT l.county "
            f"FROM {location} AS l WHERE l.county IS NOT NULL "
            "AND l.location_id IN (SELECT lake_id FROM ws_location_refs)) AS d"
        )
        self.engine.execute(
            "CREATE TEMP TABLE ws_location_ids AS SELECT l.location_id AS lake_id, d.new_id "
            f"FROM {location} AS l JOIN ws_departements AS d ON d.county = l.county "
            "WHERE l.location_id IN (SELECT lake_id FROM ws_location_refs)"
        )

    def _care_sites(self) -> str:
        """Care sites seen in the workspace's visits (all of them without a visit table)."""
        care_site = self._source("care_site")
        if "visit_occurrence" not in self.available:
            return care_site
        return (
            f"(SELECT * FROM {care_site} AS c "
            "WHERE c.care_site_id IN (SELECT care_site_id FROM ws_visit_ids))"
        )

    # -- the tables -----------------------------------------------------------------------
    def tables(self) -> Iterator[tuple[TablePlan, str]]:
        for table in self.plan.tables:
            yield table, self.table_query(table)

    def table_query(self, table: TablePlan) -> str:
        # the record ids of the table written before are no longer needed
        while self._id_tables:
            self.engine.execute(f"DROP TABLE IF EXISTS {self._id_tables.pop()}")
        if table.name == "location":
            return self._location_query(table)
        joins: list[str] = []
        where: list[str] = []
        relation = self._care_sites() if table.name == "care_site" else self._source(table.name)
        if table.name in PERSON_TABLES:
            joins.append("JOIN ws_persons AS w ON w.lake_person_id = t.person_id")
            where.append(self._period_sql(table.name))
        select = [f"{self._column_sql(table, c, joins)} AS {c.name}" for c in table.columns]
        return (
            f"SELECT {', '.join(select)} FROM {relation} AS t {' '.join(joins)} "
            f"WHERE {' AND '.join(where) or 'TRUE'}"
        )

    def _location_query(self, table: TablePlan) -> str:
        if self.plan.commune_granted:
            select = [
                f"CAST(t.{_name(c.name)} AS {sql_type(c.type)}) AS {c.name}" for c in table.columns
            ]
            return (
                f"SELECT {', '.join(select)} FROM {self._source('location')} AS t "
                "WHERE t.location_id IN (SELECT lake_id FROM ws_location_refs)"
            )
        select = []
        for column in table.columns:
            if column.name == "location_id":
                value = "d.new_id"
            elif column.name == "county":
                value = "d.county"
            else:
                value = "NULL"
            select.append(f"CAST({value} AS {sql_type(column.type)}) AS {column.name}")
        return f"SELECT {', '.join(select)} FROM ws_departements AS d"

    def _column_sql(self, table: TablePlan, column: ColumnPlan, joins: list[str]) -> str:
        name = _name(column.name)
        kind = sql_type(column.type)
        treatment = column.treatment
        if treatment is Treatment.KEEP:
            value = f"t.{name}"
        elif treatment is Treatment.PERSON:
            value = "w.project_person_id"
        elif treatment is Treatment.NULL:
            value = "NULL"
        elif treatment is Treatment.DATE:
            value = self._date_sql(f"t.{name}", column.type)
        elif treatment is Treatment.DEPARTEMENT:
            value = (
                f"CASE WHEN t.{name} LIKE '97%' THEN substr(t.{name}, 1, 3) "
                f"ELSE substr(t.{name}, 1, 2) END"
            )
        elif treatment is Treatment.LOCATION_REF:
            alias = f"loc_{name}"
            joins.append(f"LEFT JOIN ws_location_ids AS {alias} ON {alias}.lake_id = t.{name}")
            value = f"{alias}.new_id"
        elif treatment is Treatment.VISIT_REF or (
            treatment is Treatment.RECORD_ID and table.name == "visit_occurrence"
        ):
            alias = f"vis_{name}"
            joins.append(f"LEFT JOIN ws_visit_ids AS {alias} ON {alias}.lake_id = t.{name}")
            value = f"{alias}.new_id"
        elif treatment is Treatment.RECORD_ID:
            alias = f"rid_{name}"
            ids = self._record_ids(table.name, name)
            joins.append(f"LEFT JOIN {ids} AS {alias} ON {alias}.lake_id = t.{name}")
            value = f"{alias}.new_id"
        else:  # pragma: no cover - every treatment is handled above
            raise StateError(f"No SQL for the treatment {treatment}")
        return f"CAST({value} AS {kind})"

    def _record_ids(self, table: str, column: str) -> str:
        """The table's record ids renumbered (``_renumber``), dropped once it is written."""
        ids = f"ws_ids_{_name(table)}"
        self.engine.execute(f"DROP TABLE IF EXISTS {ids}")
        self._renumber(table, column, ids)
        self._id_tables.append(ids)
        return ids

    def _renumber(self, table: str, column: str, into: str, **carried: str) -> None:
        """``into``: the table's record ids (``lake_id``) in the population and period, with
        ``carried`` columns, renumbered (``new_id``) in person, date and salted-hash order:
        numbered on narrow rows (id, person, date, tie), then joined back, so the window
        never holds the table's wide rows (it cannot spill them)."""
        order = table in ORDER_DATE and ORDER_DATE[table]
        dated = self._date_sql(f"t.{order}", pa.date32()) if order else "NULL"
        self._numbered(
            into,
            {"lake_id": f"t.{column}", **carried},
            f"{dated}, {self._tie(f't.{column}')}",
            f"{self._source(table)} AS t JOIN ws_persons AS w "
            f"ON w.lake_person_id = t.person_id WHERE {self._period_sql(table)}",
        )

    def _numbered(self, name: str, columns: dict[str, str], order: str, rows: str) -> None:
        """``name``: ``columns`` (name → expression) plus ``new_id``, the rows numbered 1..n
        in the order (project person, ``order``). The same numbers as one global
        ``row_number()``, computed in parallel: numbered within each person, then shifted by
        the count of every earlier person's rows (a window without ``PARTITION BY`` runs in
        one task on Spark; the only such window here runs over persons, not records)."""
        ranked = f"{name}_ranked"
        self.engine.execute(f"DROP TABLE IF EXISTS {ranked}")
        self.engine.execute(
            f"CREATE TEMP TABLE {ranked} AS SELECT "
            + "".join(f"{value} AS {column}, " for column, value in columns.items())
            + "w.project_person_id AS ws_person, "
            f"row_number() OVER (PARTITION BY w.project_person_id ORDER BY {order}) AS ws_rank "
            f"FROM {rows}"
        )
        kept = ", ".join(f"r.{column}" for column in columns)
        self.engine.execute(
            f"CREATE TEMP TABLE {name} AS SELECT {kept}, "
            "CAST(o.before_rows + r.ws_rank AS BIGINT) AS new_id FROM "
            f"{ranked} AS r JOIN (SELECT c.ws_person, coalesce(sum(c.n) OVER (ORDER BY "
            "c.ws_person ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before_rows "
            f"FROM (SELECT ws_person, count(*) AS n FROM {ranked} GROUP BY ws_person) AS c) "
            "AS o ON o.ws_person = r.ws_person"
        )
        self.engine.execute(f"DROP TABLE {ranked}")

    def _date_sql(self, value: str, data_type: pa.DataType) -> str:
        mode = self.plan.date_mode
        kind = "TIMESTAMP" if pa.types.is_timestamp(data_type) else "DATE"
        if mode is DateMode.EXACT:
            return value
        if mode is DateMode.MONTH:
            return f"CAST(date_trunc('month', {value}) AS {kind})"
        if kind == "DATE":
            return f"CAST({value} + w.shift_days AS DATE)"
        return f"CAST({value} + w.shift_days * INTERVAL '1' DAY AS TIMESTAMP)"

    def _tie(self, record_id: str) -> str:
        # same-day records are ordered by a salted hash, not by the lake's id: an order
        # shared by two projects would be a fingerprint linking their persons. md5 of the
        # text, not the engine's hash(): DuckDB and Spark give it the same value.
        return f"md5(CAST({record_id} AS VARCHAR) || ':{self.secrets.order_salt}')"

    def _period_sql(self, table: str) -> str:
        start, end = _literal_date(self.period.start), _literal_date(self.period.end)
        if table == "observation_period":
            first, last = PERIOD_SPAN
            return f"t.{first} <= {end} AND t.{last} >= {start}"
        column = EVENT_DATE.get(table)
        if column is None:
            return "TRUE"
        return f"t.{column} BETWEEN {start} AND {end}"

    # -- the mapping ----------------------------------------------------------------------
    def mapping_query(self) -> str:
        """Every person ever numbered in this project (the previous ones included)."""
        return (
            "SELECT project_key, project_person_id FROM ws_persons "
            "UNION SELECT project_key, project_person_id FROM ws_previous "
            "ORDER BY project_person_id"
        )


def _scalar(engine: Engine, query: str) -> Any:
    table = engine.sql(query)
    return table.column(0)[0].as_py() if table.num_rows else None


def empty_objectors() -> pa.Table:
    return OBJECTORS_SCHEMA.empty_table()


def target_schema(table: TablePlan) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.type) for c in table.columns])
