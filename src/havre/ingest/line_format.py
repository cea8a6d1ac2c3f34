"""A fast path for checking delimited records: one match of the whole line.

Most records of a delivery are valid. Checking each field's format with its own regular
expression costs one call per field and record; one pattern for the whole line (each field's
format between the delimiters, then the line end) is matched in a single pass. A line that
matches has passed every check its pattern stands for (``covered``); the other checks (ranges,
real dates, the NIR key, vocabularies, checks across fields, the line checks) still run on it.
A line that does not match goes through every check in order, as without the fast path: the
match only ever decides that a record has no problem, never which problem it has.

On DuckDB the file's reader matches the pattern as it reads (``LineReader(shape=...)``, Arrow's
RE2, at less than half the cost of the engine's ``regexp_full_match``); on Spark the statement
matches it (``havre.ingest.delimited``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from havre.ingest.fields import (
    DATE_PATTERN,
    DECIMAL_PATTERN,
    INTEGER_PATTERN,
    KIND,
    MISSING,
    PATTERN,
    Field,
    Kind,
)
from havre.pseudo.nir import NIR_PATTERN

# the format of each kind's values, as the checks in ``fields`` test them
_KIND_BODY = {
    Kind.INTEGER: INTEGER_PATTERN,
    Kind.DECIMAL: DECIMAL_PATTERN,
    Kind.DATE: DATE_PATTERN,
    Kind.NIR: NIR_PATTERN,
}
# a field's own pattern is embedded only when it plainly cannot reach past its field: no
# '.', no escapes (\S...), no negated class, no anchors inside
_EMBEDDABLE = re.compile(r"\^[A-Za-z0-9\[\]{}()|?*+,:\- ]*\$")


@dataclass(frozen=True)
class LineFormat:
    """``pattern``: the whole line (line end included) of a record whose covered checks all
    pass; ``covered``: field name -> the checks a match passes (``fields.MISSING``...);
    ``body``: the pattern without the line end (for a line read without it)."""

    pattern: str
    covered: dict[str, frozenset[str]]
    body: str


def _body(anchored: str) -> str:
    return anchored[1:-1]


def _field_part(field: Field, free: str) -> tuple[str, frozenset[str]]:
    """The pattern of one field's raw text, and the checks a match of it passes. ``free``:
    the class of a character of free text (not the delimiter, nor a quote in a quoted
    format); the kinds' and embedded patterns match neither."""
    anything = f"{free}*"
    body: str | None = None
    covered: set[str] = set()
    if field.kind in _KIND_BODY:
        body = _body(_KIND_BODY[field.kind])
        covered.add(KIND)
    elif field.pattern is not None and _EMBEDDABLE.fullmatch(field.pattern):
        body = _body(field.pattern)
        covered.add(PATTERN)
    if body is None:
        required = field.required and field.default is None
        # a required text field: any non-empty value passes what the pattern stands for
        return (
            (f"{free}+", frozenset({MISSING}))
            if required
            else (
                anything,
                frozenset(),
            )
        )
    if field.default is not None and re.fullmatch(body, field.default) is None:
        return anything, frozenset()  # an empty value would take a default that fails
    if field.required and field.default is None:
        if re.fullmatch(body, "") is None:
            covered.add(MISSING)
        return f"(?:{body})", frozenset(covered)
    return f"(?:(?:{body})?)", frozenset(covered)


def line_format(
    fields: tuple[Field, ...],
    positions: dict[str, int],
    expected: int,
    delimiter: str,
    line_end: str,
    quote: str = "",
) -> LineFormat:
    """The line pattern of a table whose fields are at ``positions`` among ``expected``
    delimited values, each line ending with ``line_end``. With a ``quote`` (RFC 4180 files),
    a matching line holds none: its fields are bare, split at every delimiter — a line that
    quotes a field goes through every check."""
    free = f"[^{re.escape(delimiter)}{re.escape(quote)}]"
    parts = [f"{free}*"] * expected
    covered: dict[str, frozenset[str]] = {}
    for field in fields:
        if field.name not in positions:
            continue
        part, checks = _field_part(field, free)
        parts[positions[field.name]] = part
        covered[field.name] = checks
    body = re.escape(delimiter).join(parts)
    ending = line_end.replace("\r", r"\r").replace("\n", r"\n")
    return LineFormat(body + ending, covered, body)
