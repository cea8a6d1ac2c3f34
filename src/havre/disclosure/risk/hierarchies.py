"""Generalization hierarchies of the quasi-identifiers Havre's extracts contain.

Each kind of column has an ordered list of levels, finest first; a level is a SQL expression
(portable subset, see ``havre.lake.engine``) over the column. Level 0 is always the column as
it is. Expressions are functions of the value alone, so they can be applied to an already
grouped table (the analysis rolls classes up instead of rescanning the extract).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from havre.cdm.reference import departements
from havre.lake.engine import sql_literal


class ColumnKind(StrEnum):
    BIRTH_MONTH = "birth_month"
    BIRTH_YEAR = "birth_year"
    AGE = "age"
    COMMUNE = "commune"
    DEPARTEMENT = "departement"
    EXACT_DATE = "exact_date"
    MONTH = "month"  # an event known to the month (YYYY-MM)
    YEAR = "year"  # an event known to the year
    ICD10 = "icd10"
    ATC = "atc"
    SEX = "sex"
    OTHER = "other"


@dataclass(frozen=True)
class Level:
    name: str
    template: str  # SQL with ``{c}`` standing for the quoted column
    # A long CASE (a lookup table written as SQL) is slow per row: the analysis evaluates
    # it once per distinct value of the column and joins the result back.
    lookup: bool = False

    def sql(self, column_sql: str) -> str:
        return self.template.replace("{c}", column_sql)


@dataclass(frozen=True)
class Hierarchy:
    kind: ColumnKind
    levels: tuple[Level, ...]
    # A value that fails this predicate is not of the declared kind (``{c}`` is non-null).
    invalid_when: str | None
    expected: str

    @property
    def top(self) -> int:
        return len(self.levels) - 1

    def level_index(self, name: str) -> int:
        for index, level in enumerate(self.levels):
            if level.name == name:
                return index
        names = ", ".join(level.name for level in self.levels)
        raise ValueError(f"{self.kind.value} has no level {name!r} (levels: {names})")


def _band(year_sql: str, width: int) -> str:
    start = f"CAST(FLOOR({year_sql} / {width}) AS INTEGER) * {width}"
    return f"CAST({start} AS VARCHAR) || '-' || CAST({start} + {width - 1} AS VARCHAR)"


def _age_band(width: int, top: int) -> str:
    age = "TRY_CAST({c} AS INTEGER)"
    # Top-coding: few people are very old, so the oldest share one open band.
    return f"CASE WHEN {age} >= {top} THEN '{top}+' ELSE {_band(age, width)} END"


_TEXT = "CAST({c} AS VARCHAR)"
_YEAR_OF_MONTH = f"TRY_CAST(substr({_TEXT}, 1, 4) AS INTEGER)"
_YEAR = "TRY_CAST({c} AS INTEGER)"
_DATE = "TRY_CAST({c} AS DATE)"
_QUARTER_OF_MONTH = (
    f"CAST(CAST(FLOOR((TRY_CAST(substr({_TEXT}, 6, 2) AS INTEGER) - 1) / 3) AS INTEGER) + 1 "
    "AS VARCHAR)"
)
_DEPARTEMENT = (
    f"CASE WHEN substr({_TEXT}, 1, 2) IN ('97', '98') THEN substr({_TEXT}, 1, 3) "
    f"ELSE substr({_TEXT}, 1, 2) END"
)
# Every INSEE département code in use (a regular expression is far cheaper than a long IN list).
DEPARTEMENT_PATTERN = "^(0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5]|97[1-8]|98[46-9])$"
_ICD10 = f"upper(replace({_TEXT}, '.', ''))"
_ICD10_CATEGORY = f"substr({_ICD10}, 1, 3)"

# WHO ICD-10 (2019) chapters by category range.
ICD10_CHAPTERS: tuple[tuple[str, str, str], ...] = (
    ("A00", "B99", "I"),
    ("C00", "D48", "II"),
    ("D50", "D89", "III"),
    ("E00", "E90", "IV"),
    ("F00", "F99", "V"),
    ("G00", "G99", "VI"),
    ("H00", "H59", "VII"),
    ("H60", "H95", "VIII"),
    ("I00", "I99", "IX"),
    ("J00", "J99", "X"),
    ("K00", "K93", "XI"),
    ("L00", "L99", "XII"),
    ("M00", "M99", "XIII"),
    ("N00", "N99", "XIV"),
    ("O00", "O99", "XV"),
    ("P00", "P96", "XVI"),
    ("Q00", "Q99", "XVII"),
    ("R00", "R99", "XVIII"),
    ("S00", "T98", "XIX"),
    ("V01", "Y98", "XX"),
    ("Z00", "Z99", "XXI"),
    ("U00", "U99", "XXII"),
)


def _icd10_chapter() -> str:
    cases = " ".join(
        f"WHEN {_ICD10_CATEGORY} BETWEEN '{low}' AND '{high}' THEN '{chapter}'"
        for low, high, chapter in ICD10_CHAPTERS
    )
    return f"CASE {cases} ELSE '?' END"


@cache
def _region_of(departement_sql: str) -> str:
    table = departements()
    pairs = zip(
        table.column("code_departement").to_pylist(),
        table.column("code_region").to_pylist(),
        strict=True,
    )
    cases = " ".join(
        f"WHEN {sql_literal(dep)} THEN {sql_literal(region)}"
        for dep, region in pairs
        if dep and region
    )
    # An unknown département becomes '?': coarser, never more precise than the truth.
    return f"CASE {departement_sql} {cases} ELSE '?' END"


@cache
def hierarchy(kind: ColumnKind) -> Hierarchy:
    raw = Level("value", "{c}")
    if kind is ColumnKind.BIRTH_MONTH:
        return Hierarchy(
            kind,
            (
                Level("month", "{c}"),
                Level("year", f"substr({_TEXT}, 1, 4)"),
                Level("5-year band", _band(_YEAR_OF_MONTH, 5)),
                Level("10-year band", _band(_YEAR_OF_MONTH, 10)),
            ),
            f"NOT regexp_matches({_TEXT}, '^[0-9]{{4}}-[0-9]{{2}}')",
            "a month YYYY-MM (or a date)",
        )
    if kind in (ColumnKind.BIRTH_YEAR, ColumnKind.YEAR):
        return Hierarchy(
            kind,
            (
                Level("year", "{c}"),
                Level("5-year band", _band(_YEAR, 5)),
                Level("10-year band", _band(_YEAR, 10)),
            ),
            f"{_YEAR} IS NULL",
            "a year YYYY",
        )
    if kind is ColumnKind.AGE:
        return Hierarchy(
            kind,
            (
                Level("age", "{c}"),
                Level("5-year band", _age_band(5, 90)),
                Level("10-year band", _age_band(10, 90)),
                Level("20-year band", _age_band(20, 80)),
            ),
            f"{_YEAR} IS NULL OR {_YEAR} < 0",
            "an age in whole years",
        )
    if kind is ColumnKind.COMMUNE:
        return Hierarchy(
            kind,
            (
                Level("commune", "{c}"),
                Level("département", _DEPARTEMENT),
                Level("région", _region_of(_DEPARTEMENT), lookup=True),
            ),
            f"NOT regexp_matches({_TEXT}, '^([0-9]{{2}}|2[AB])[0-9]{{3}}$')",
            "a 5-character INSEE commune code (01001, 2A004, 97411)",
        )
    if kind is ColumnKind.DEPARTEMENT:
        return Hierarchy(
            kind,
            (Level("département", "{c}"), Level("région", _region_of(_TEXT), lookup=True)),
            f"NOT regexp_matches({_TEXT}, '{DEPARTEMENT_PATTERN}')",
            "an INSEE département code (01, 2A, 974)",
        )
    if kind is ColumnKind.EXACT_DATE:
        return Hierarchy(
            kind,
            (
                Level("day", "{c}"),
                Level("week", f"CAST(CAST(date_trunc('week', {_DATE}) AS DATE) AS VARCHAR)"),
                Level("month", f"strftime({_DATE}, '%Y-%m')"),
                Level(
                    "quarter",
                    f"CAST(year({_DATE}) AS VARCHAR) || '-Q' || CAST(quarter({_DATE}) AS VARCHAR)",
                ),
                Level("year", f"CAST(year({_DATE}) AS VARCHAR)"),
            ),
            f"{_DATE} IS NULL",
            "a date YYYY-MM-DD",
        )
    if kind is ColumnKind.MONTH:
        return Hierarchy(
            kind,
            (
                Level("month", "{c}"),
                Level("quarter", f"substr({_TEXT}, 1, 4) || '-Q' || {_QUARTER_OF_MONTH}"),
                Level("year", f"substr({_TEXT}, 1, 4)"),
            ),
            f"NOT regexp_matches({_TEXT}, '^[0-9]{{4}}-(0[1-9]|1[0-2])$')",
            "a month YYYY-MM",
        )
    if kind is ColumnKind.ICD10:
        return Hierarchy(
            kind,
            (
                Level("code", "{c}"),
                Level("category", _ICD10_CATEGORY),
                Level("chapter", _icd10_chapter(), lookup=True),
            ),
            f"NOT regexp_matches({_ICD10}, '^[A-Z][0-9]{{2}}')",
            "an ICD-10 code (E11, E119 or E11.9)",
        )
    if kind is ColumnKind.ATC:
        return Hierarchy(
            kind,
            (
                Level("substance", "{c}"),
                Level("chemical subgroup", f"substr({_TEXT}, 1, 5)"),
                Level("pharmacological subgroup", f"substr({_TEXT}, 1, 4)"),
                Level("therapeutic subgroup", f"substr({_TEXT}, 1, 3)"),
                Level("anatomical group", f"substr({_TEXT}, 1, 1)"),
            ),
            f"NOT regexp_matches({_TEXT}, '^[A-Z][0-9]{{2}}')",
            "an ATC code (A10BA02)",
        )
    # Sex and undeclared columns have no coarser level: only records can be suppressed.
    return Hierarchy(kind, (raw,), None, "any value")


# Column names of Havre's sources and of OMOP whose kind is unambiguous.
KNOWN_COLUMNS: dict[str, ColumnKind] = {
    "birth_month": ColumnKind.BIRTH_MONTH,
    "month_of_birth": ColumnKind.BIRTH_MONTH,
    "birth_year": ColumnKind.BIRTH_YEAR,
    "year_of_birth": ColumnKind.BIRTH_YEAR,
    "ben_nai_ann": ColumnKind.BIRTH_YEAR,
    "age": ColumnKind.AGE,
    "age_ann": ColumnKind.AGE,
    "commune": ColumnKind.COMMUNE,
    "code_commune": ColumnKind.COMMUNE,
    "ben_res_com": ColumnKind.COMMUNE,
    "departement": ColumnKind.DEPARTEMENT,
    "code_departement": ColumnKind.DEPARTEMENT,
    "ben_res_dpt": ColumnKind.DEPARTEMENT,
    "sex": ColumnKind.SEX,
    "ben_sex_cod": ColumnKind.SEX,
    "cod_sex": ColumnKind.SEX,
    "icd10": ColumnKind.ICD10,
    "dgn_pal": ColumnKind.ICD10,
    "atc": ColumnKind.ATC,
    "pha_atc_c07": ColumnKind.ATC,
}


def infer_kind(column: str) -> ColumnKind:
    """The kind of a column from its name alone, ``OTHER`` when the name is not a known one."""
    return KNOWN_COLUMNS.get(column.strip().lower(), ColumnKind.OTHER)


def parse_kind(text: str) -> ColumnKind:
    try:
        return ColumnKind(text.strip().lower())
    except ValueError:
        kinds = ", ".join(kind.value for kind in ColumnKind)
        raise ValueError(f"unknown column kind {text!r} (kinds: {kinds})") from None
