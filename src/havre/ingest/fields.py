"""Field specifications and the SQL that checks them, record by record, in one pass.

A table's checks compile to one ``CASE`` whose first true branch names the problem as
``reason|FIELD``; a record with no problem gets NULL. Order: the line itself (encoding, number
of fields), then each field in column order (missing, type or format, range, vocabulary), then
checks across fields (an end before its start). Referential checks come later, in the reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from havre.ingest.reasons import Reason
from havre.lake.engine import sql_literal
from havre.pseudo.nir import NIR_PATTERN

INTEGER_PATTERN = r"^-?[0-9]{1,18}$"
DECIMAL_PATTERN = r"^-?[0-9]{1,15}(\.[0-9]{1,9})?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
MIN_DATE = "1900-01-01"
# checks a match of the whole line can stand for (``line_format``)
MISSING = "missing"
KIND = "kind"
PATTERN = "pattern"


class Kind(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    NIR = "nir"


@dataclass(frozen=True)
class Field:
    """One column of a source table and what a valid value looks like."""

    name: str
    kind: Kind = Kind.TEXT
    required: bool = False
    pattern: str | None = None  # format (regular expression) → ``pattern_reason``
    pattern_reason: Reason = Reason.WRONG_TYPE
    vocabulary: str | None = None  # relation of valid codes (column ``code``) → unknown_code
    values: tuple[str, ...] | None = None  # the allowed codes → unknown_code
    min_value: int | None = None
    max_value: int | None = None
    range_reason: Reason = Reason.WRONG_TYPE
    after: str | None = None  # a DATE that may not be before this other DATE field
    default: str | None = None  # value given to an empty field
    # a further condition a present value must meet ({col} stands for the column) → reason
    check: tuple[str, Reason] | None = None
    identifier: bool = False  # a direct identifier: never copied into the quarantine

    @property
    def column(self) -> str:
        return quote(self.name)


DATE_SUFFIX = "__date"
KNOWN_SUFFIX = "__known"


def date_column(field: Field) -> str:
    """The column holding a DATE field's value cast once (``typed`` checks read it)."""
    return quote(field.name + DATE_SUFFIX)


def known_column(field: Field) -> str:
    """The column saying whether a field's code is in its vocabulary (``typed`` checks)."""
    return quote(field.name + KNOWN_SUFFIX)


def dates_sql(fields: tuple[Field, ...]) -> list[str]:
    """SQL select items for the ``typed`` checks: each DATE field cast once (also stored), and
    each coded field looked up once in its vocabulary (a check written twice, as with a
    ``line_format``, would otherwise look it up twice)."""
    dates = [
        f"TRY_CAST({f.column} AS DATE) AS {date_column(f)}" for f in fields if f.kind is Kind.DATE
    ]
    known = [
        f"upper({f.column}) IN (SELECT code FROM {f.vocabulary}) AS {known_column(f)}"
        for f in fields
        if f.vocabulary is not None
    ]
    return dates + known


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def value_sql(field: Field, raw: str, *, well_formed: bool = False) -> str:
    """SQL: a raw field as staged: empty → NULL (or the default), a NIR without spaces, in
    upper case. Other values are kept as delivered: a stray space fails their checks.
    ``well_formed``: the raw value is known to match its kind's format (a NIR that has
    nothing to clean)."""
    cleaned = f"nullif({raw}, '')"
    if field.kind is Kind.NIR and not well_formed:
        cleaned = f"nullif(upper(replace(trim({raw}), ' ', '')), '')"
    if field.default is not None:
        cleaned = f"coalesce({cleaned}, {sql_literal(field.default)})"
    return cleaned


def _when(condition: str, reason: Reason, field: str | None) -> str:
    problem = reason.value if field is None else f"{reason.value}|{field}"
    return f"WHEN {condition} THEN {sql_literal(problem)}"


def field_checks(
    field: Field, today: str, *, typed: bool = False, covered: frozenset[str] = frozenset()
) -> list[str]:
    """The ``WHEN`` branches of one field. ``typed``: a DATE field's cast is in its
    ``date_column`` and a coded field's lookup in its ``known_column`` (``dates_sql``: each
    computed once instead of in every branch). ``covered``: the checks a
    match of the whole line already passed (``LineFormat``), left out: ``missing``, ``kind``
    (the integer, decimal, date or NIR format), ``pattern``."""
    col = field.column
    as_date = date_column(field) if typed else f"TRY_CAST({col} AS DATE)"
    checks: list[str] = []
    if field.required and field.default is None and MISSING not in covered:
        checks.append(_when(f"{col} IS NULL", Reason.MISSING_REQUIRED, field.name))
    present = f"{col} IS NOT NULL"
    kind_covered = KIND in covered
    if field.kind is Kind.INTEGER:
        if not kind_covered:
            checks.append(
                _when(
                    f"{present} AND NOT regexp_matches({col}, {sql_literal(INTEGER_PATTERN)})",
                    Reason.WRONG_TYPE,
                    field.name,
                )
            )
        bounds = []
        if field.min_value is not None:
            bounds.append(f"TRY_CAST({col} AS BIGINT) < {field.min_value}")
        if field.max_value is not None:
            bounds.append(f"TRY_CAST({col} AS BIGINT) > {field.max_value}")
        if bounds:
            checks.append(
                _when(f"{present} AND ({' OR '.join(bounds)})", field.range_reason, field.name)
            )
    elif field.kind is Kind.DECIMAL:
        if not kind_covered:
            checks.append(
                _when(
                    f"{present} AND NOT regexp_matches({col}, {sql_literal(DECIMAL_PATTERN)})",
                    Reason.WRONG_TYPE,
                    field.name,
                )
            )
    elif field.kind is Kind.DATE:
        # the line's match proves the format, not that the date exists (2023-02-30)
        well_formed = (
            "" if kind_covered else f"NOT regexp_matches({col}, {sql_literal(DATE_PATTERN)}) OR "
        )
        checks.append(
            _when(
                f"{present} AND ({well_formed}{as_date} IS NULL)",
                Reason.BAD_DATE,
                field.name,
            )
        )
        checks.append(
            _when(
                f"{present} AND ({as_date} < DATE {sql_literal(MIN_DATE)} "
                f"OR {as_date} > DATE {sql_literal(today)})",
                Reason.DATE_OUT_OF_RANGE,
                field.name,
            )
        )
    elif field.kind is Kind.NIR:
        if not kind_covered:
            checks.append(
                _when(
                    f"{present} AND NOT regexp_matches({col}, {sql_literal(NIR_PATTERN)})",
                    Reason.BAD_NIR_FORMAT,
                    field.name,
                )
            )
        # Corsican NIRs (2A, 2B) are rare: the plain cast serves the others, cheaper than
        # replacing in every NIR (a NIR past the format check has digits elsewhere)
        head = f"substr({col}, 1, 13)"
        digits = f"replace(replace({head}, '2A', '19'), '2B', '18')"
        number = f"coalesce(TRY_CAST({head} AS BIGINT), TRY_CAST({digits} AS BIGINT))"
        checks.append(
            _when(
                f"{present} AND 97 - {number} % 97 <> TRY_CAST(substr({col}, 14, 2) AS INTEGER)",
                Reason.BAD_NIR_KEY,
                field.name,
            )
        )
    if field.pattern is not None and PATTERN not in covered:
        checks.append(
            _when(
                f"{present} AND NOT regexp_matches({col}, {sql_literal(field.pattern)})",
                field.pattern_reason,
                field.name,
            )
        )
    if field.check is not None:
        condition, reason = field.check
        checks.append(_when(f"{present} AND NOT ({condition.format(col=col)})", reason, field.name))
    if field.values is not None:
        allowed = ", ".join(sql_literal(v) for v in field.values)
        checks.append(
            _when(f"{present} AND {col} NOT IN ({allowed})", Reason.UNKNOWN_CODE, field.name)
        )
    if field.vocabulary is not None:
        unknown = (
            f"NOT {known_column(field)}"
            if typed
            else f"upper({col}) NOT IN (SELECT code FROM {field.vocabulary})"
        )
        checks.append(
            _when(
                f"{present} AND {unknown}",
                Reason.UNKNOWN_CODE,
                field.name,
            )
        )
    return checks


def order_checks(fields: tuple[Field, ...], *, typed: bool = False) -> list[str]:
    by_name = {f.name: f for f in fields}
    checks = []
    for field in fields:
        if field.after is None:
            continue
        before = by_name[field.after]
        start = before.column
        end_date = date_column(field) if typed else f"TRY_CAST({field.column} AS DATE)"
        start_date = date_column(before) if typed else f"TRY_CAST({start} AS DATE)"
        checks.append(
            _when(
                f"{field.column} IS NOT NULL AND {start} IS NOT NULL AND {end_date} < {start_date}",
                Reason.END_BEFORE_START,
                field.name,
            )
        )
    return checks


def line_checks(expected_fields: int) -> list[str]:
    """Checks on the line as a whole (staged columns ``utf8_ok``, ``n_fields``, ``blank``)."""
    return [
        _when("NOT utf8_ok", Reason.INVALID_UTF8, None),
        _when("blank", Reason.EMPTY_LINE, None),
        _when(f"n_fields < {expected_fields}", Reason.TRUNCATED_LINE, None),
        _when(f"n_fields > {expected_fields}", Reason.EXTRA_FIELDS, None),
    ]


def problem_sql(
    fields: tuple[Field, ...],
    today: str,
    *,
    expected_fields: int | None,
    typed: bool = False,
    matched: tuple[str, dict[str, frozenset[str]]] | None = None,
) -> str:
    """SQL: ``reason|FIELD`` of the first problem of a record, NULL when it has none.

    ``matched``: (SQL true when the record's line matched its ``line_format``, the checks
    that match covers per field). A matching record runs only the other checks; any other
    record runs them all, in order.
    """
    full = _first_problem(fields, today, expected_fields, typed, {})
    if matched is None:
        return full
    condition, covered = matched
    rest = _first_problem(fields, today, expected_fields, typed, covered)
    return f"CASE WHEN {condition} AND {rest} IS NULL THEN NULL ELSE {full} END"


def _first_problem(
    fields: tuple[Field, ...],
    today: str,
    expected_fields: int | None,
    typed: bool,
    covered: dict[str, frozenset[str]],
) -> str:
    whens: list[str] = []
    if expected_fields is not None:
        whens.extend(line_checks(expected_fields))
    for field in fields:
        checks = covered.get(field.name, frozenset())
        whens.extend(field_checks(field, today, typed=typed, covered=checks))
    whens.extend(order_checks(fields, typed=typed))
    if not whens:
        return "CAST(NULL AS VARCHAR)"
    return "(CASE\n        " + "\n        ".join(whens) + "\n    END)"


def quarantine_value_sql(fields: tuple[Field, ...], field_name: str, alias: str) -> str:
    """SQL: the offending value for the quarantine — withheld for direct identifiers."""
    branches = [
        f"WHEN {sql_literal(f.name)} THEN left(CAST({alias}.{f.column} AS VARCHAR), 80)"
        for f in fields
        if not f.identifier
    ]
    if not branches:
        return "CAST(NULL AS VARCHAR)"
    return f"CASE {field_name} " + " ".join(branches) + " END"
