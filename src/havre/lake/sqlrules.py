"""DuckDB SQL to Spark SQL: sqlglot's transpiler plus the few rules it does not cover.

Pipeline SQL is written once, in DuckDB's dialect (``havre.lake.engine``). sqlglot maps
almost all of it (``sha256`` to ``sha2``, ``encode`` to ``encode(.., 'utf-8')``,
``strptime`` to ``to_timestamp``, ``TIMESTAMP`` to ``TIMESTAMP_NTZ``...). Each rule below is a
spot it leaves as DuckDB wrote it, or maps to something that means another thing in Spark;
``RULES`` applies them in order, on the parsed DuckDB tree, before Spark SQL is generated.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from havre.core.errors import EngineError

Rule = Callable[[exp.Expr], exp.Expr]

UNSIGNED_WIDE = "DECIMAL(20, 0)"  # every UBIGINT fits; Spark has no unsigned types


def _is_type(node: exp.Expr, *types: object) -> bool:
    return isinstance(node, exp.DataType) and node.this in types


def hex_text_to_number(tree: exp.Expr) -> exp.Expr:
    """``CAST('0x' || s AS UBIGINT)`` reads hex text in DuckDB; Spark says ``conv(s, 16, 10)``."""

    def rewrite(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.Cast | exp.TryCast):
            return node
        wide = (exp.DataType.Type.UBIGINT, exp.DataType.Type.UINT, exp.DataType.Type.BIGINT)
        if not _is_type(node.to, *wide):
            return node
        inner = node.this
        while isinstance(inner, exp.Paren):
            inner = inner.this
        if not isinstance(inner, exp.DPipe):
            return node
        prefix = inner.this
        if not (isinstance(prefix, exp.Literal) and prefix.is_string):
            return node
        if prefix.this not in ("0x", "0X"):
            return node
        sixteen, ten = exp.Literal.number(16), exp.Literal.number(10)
        converted = exp.func("conv", inner.expression.copy(), sixteen, ten)
        return exp.Cast(this=converted, to=exp.DataType.build(UNSIGNED_WIDE))

    return tree.transform(rewrite)


def unsigned_types(tree: exp.Expr) -> exp.Expr:
    """Unsigned integer casts become signed types wide enough for every value."""
    wider = {
        exp.DataType.Type.UBIGINT: UNSIGNED_WIDE,
        exp.DataType.Type.UINT: "BIGINT",
        exp.DataType.Type.USMALLINT: "INT",
        exp.DataType.Type.UTINYINT: "SMALLINT",
    }

    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.DataType) and node.this in wider:
            return exp.DataType.build(wider[node.this])
        return node

    return tree.transform(rewrite)


NOT_PORTABLE = {
    # name: why it has no same-valued Spark form
    "random": "random values differ between engines; derive them from a keyed hash",
}


def grouping_hash(tree: exp.Expr) -> exp.Expr:
    """``hash(...)`` becomes Spark's ``xxhash64(...)``: both are 64-bit hashes of the values,
    but not the same numbers. So a hash is a key for grouping and joining inside one run (the
    ingest's duplicate detection), never a value that is stored, shown, or orders rows whose
    order matters; the parity tests would see a result that depends on one. A value that
    must be the same on both engines is ``md5`` or ``sha256`` of the text."""

    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous) and node.name.lower() == "hash":
            return exp.func("xxhash64", *(e.copy() for e in node.expressions))
        return node

    return tree.transform(rewrite)


def refuse_non_portable(tree: exp.Expr) -> exp.Expr:
    """Functions whose values differ between the engines: an error rather than other results."""
    for node in tree.find_all(exp.Func):
        name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
        if isinstance(node, exp.Rand):
            name = "random"
        if name in NOT_PORTABLE:
            raise EngineError(
                f"The SQL uses {name}(), which has no portable form: {NOT_PORTABLE[name]}."
            )
    return tree


def empty_in_list(tree: exp.Expr) -> exp.Expr:
    """``x IN ()`` is an error in Spark (DuckDB too, but generated lists may be empty)."""

    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.In) and not node.expressions and node.args.get("query") is None:
            return exp.false()
        return node

    return tree.transform(rewrite)


def try_decode(tree: exp.Expr) -> exp.Expr:
    """``try(decode(blob))``: the text of UTF-8 bytes, NULL when they are not UTF-8. Spark's
    cast of bytes to text keeps them as they are; ``try_validate_utf8`` then says NULL."""

    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Try) and isinstance(node.this, exp.Decode):
            text = exp.Cast(this=node.this.this.copy(), to=exp.DataType.build("STRING"))
            return exp.func("try_validate_utf8", text)
        return node

    return tree.transform(rewrite)


def full_match(tree: exp.Expr) -> exp.Expr:
    """``regexp_full_match(s, p)``: Spark's ``RLIKE`` finds ``p`` anywhere, so it is anchored
    (``\\z``: the very end; Java's ``$`` also matches before a last line end)."""

    def rewrite(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.RegexpFullMatch):
            return node
        pattern = node.expression
        if isinstance(pattern, exp.Literal) and pattern.is_string:
            anchored: exp.Expr = exp.Literal.string(f"^(?:{pattern.this})\\z")
        else:
            anchored = exp.func(
                "concat", exp.Literal.string("^(?:"), pattern.copy(), exp.Literal.string(")\\z")
            )
        return exp.RegexpLike(this=node.this.copy(), expression=anchored)

    return tree.transform(rewrite)


def list_index(tree: exp.Expr) -> exp.Expr:
    """``list[i]`` is NULL past the end in DuckDB; Spark (ANSI) fails there unless it is
    ``try_element_at`` (1-based, as DuckDB's index; sqlglot made a literal index 0-based)."""

    def rewrite(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.Bracket) or len(node.expressions) != 1:
            return node
        index = node.expressions[0]
        if isinstance(index, exp.Literal) and index.is_string:
            return node  # a struct's field or a map's key: the same on Spark
        if not isinstance(index, exp.Literal):
            # sqlglot shifts a literal index only, so an expression's base is unknown here
            raise EngineError("A list index in pipeline SQL must be a number, for Spark.")
        return exp.func("try_element_at", node.this.copy(), exp.Literal.number(int(index.this) + 1))

    return tree.transform(rewrite)


def left_negative(tree: exp.Expr) -> exp.Expr:
    """``left(s, -n)``: all but the last ``n`` characters in DuckDB, nothing in Spark."""

    def rewrite(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Left) and isinstance(node.expression, exp.Neg):
            cut = node.expression.this.copy()
            keep = exp.Sub(this=exp.Length(this=node.this.copy()), expression=cut)
            return exp.Left(this=node.this.copy(), expression=keep)
        return node

    return tree.transform(rewrite)


# closes the array a text is wrapped in (``json_valid``): only a text that is one JSON value
# leaves it the second and last element
_END = "havre:end-of-text"


def json_valid(tree: exp.Expr) -> exp.Expr:
    """``json_valid(s)``: Spark's parser stops after the first JSON value of a text and
    ignores what follows (``{"a": 1} x``, two records run together). Wrapped as
    ``[s,"<end>"]``, the text is one value only if the end marker parses as the second and
    last element. Spark's parser follows RFC 8259 and refuses repeated keys; DuckDB's also
    takes trailing commas, NaN and repeated keys (docs/ingest.md#spark)."""

    def rewrite(node: exp.Expr) -> exp.Expr:
        if not (isinstance(node, exp.Anonymous) and node.name.lower() == "json_valid"):
            return node
        (text,) = node.expressions
        wrapped = exp.func(
            "concat", exp.Literal.string("["), text.copy(), exp.Literal.string(f',"{_END}"]')
        )
        parsed = exp.func("try_parse_json", wrapped)
        second = exp.func(
            "try_variant_get", parsed, exp.Literal.string("$[1]"), exp.Literal.string("string")
        )
        third = exp.func("variant_get", parsed.copy(), exp.Literal.string("$[2]"))
        one_value = exp.and_(
            exp.EQ(this=second, expression=exp.Literal.string(_END)),
            exp.Is(this=third, expression=exp.null()),
        )
        return exp.func("coalesce", exp.paren(one_value), exp.false())

    return tree.transform(rewrite)


_JSON_TYPES = {"VARCHAR": "STRING", "JSON": "VARIANT"}


def _ddl(structure: object) -> str:
    """Spark's type for a DuckDB JSON structure (``from_json``)."""
    if isinstance(structure, str) and structure.upper() in _JSON_TYPES:
        return _JSON_TYPES[structure.upper()]
    if isinstance(structure, list) and len(structure) == 1:
        return f"ARRAY<{_ddl(structure[0])}>"
    if isinstance(structure, dict) and structure:
        fields = ", ".join(
            f"`{name.replace('`', '``')}`: {_ddl(inner)}" for name, inner in structure.items()
        )
        return f"STRUCT<{fields}>"
    raise EngineError(
        f"from_json structure {json.dumps(structure)}: only VARCHAR and JSON values, lists "
        "and objects of them read the same on Spark."
    )


def from_json(tree: exp.Expr) -> exp.Expr:
    """``from_json(s, '<DuckDB structure>')``: Spark takes a type (``STRUCT<...>``). A JSON
    value stays JSON as a VARIANT, its text given by ``to_json`` on both engines (a number
    written as a string keeps its quotes). Values of another JSON type than the structure's
    read the same: a VARCHAR takes a number or an object as its text, a list or an object
    that is something else is NULL (tests/integration/spark/test_json_parity.py)."""

    def rewrite(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.FromJson):
            return node
        structure = node.expression
        if not (isinstance(structure, exp.Literal) and structure.is_string):
            raise EngineError("from_json in pipeline SQL needs its structure as a literal.")
        ddl = _ddl(json.loads(structure.this))
        return exp.FromJson(this=node.this.copy(), expression=exp.Literal.string(ddl))

    return tree.transform(rewrite)


RULES: tuple[Rule, ...] = (
    refuse_non_portable,
    grouping_hash,
    hex_text_to_number,
    unsigned_types,
    empty_in_list,
    try_decode,
    full_match,
    list_index,
    left_negative,
    json_valid,
    from_json,
)


class StatementKind(StrEnum):
    QUERY = "query"
    CREATE_TEMP = "create_temp"  # CREATE TEMP TABLE name AS SELECT ...
    DROP = "drop"  # DROP TABLE [IF EXISTS] name
    DELETE = "delete"  # DELETE FROM name [WHERE ...]
    INSERT = "insert"  # INSERT INTO name SELECT ... (by position)
    DROP_COLUMN = "drop_column"  # ALTER TABLE name DROP COLUMN [IF EXISTS] column
    OTHER = "other"


@dataclass(frozen=True)
class Statement:
    """A DuckDB statement translated for Spark. Temporary tables become materialized views
    (Spark has no temporary tables), so the engine needs the parts, not just the text."""

    kind: StatementKind
    sql: str  # the Spark SQL of the query (the SELECT of CREATE, the filter of DELETE)
    table: str | None = None
    if_exists: bool = False  # DROP; for CREATE_TEMP: IF NOT EXISTS
    column: str | None = None  # DROP_COLUMN


def _spark(tree: exp.Expr) -> str:
    for rule in RULES:
        tree = rule(tree)
    return tree.sql(dialect="spark")


def _parse(text: str) -> exp.Expr:
    try:
        trees = sqlglot.parse(text, read="duckdb")
    except ParseError as exc:
        raise EngineError(f"The SQL could not be translated for Spark: {exc}") from None
    statements = [t for t in trees if t is not None]
    if len(statements) != 1:
        raise EngineError(f"Expected one SQL statement, got {len(statements)}.")
    return statements[0]


def to_spark(query: str) -> str:
    """The Spark SQL of one DuckDB query."""
    return _spark(_parse(query))


def translate(text: str) -> Statement:
    tree = _parse(text)
    if isinstance(tree, exp.Create) and tree.args.get("expression") is not None:
        kind = str(tree.args.get("kind") or "").upper()
        properties = tree.args.get("properties")
        temporary = properties is not None and any(
            isinstance(p, exp.TemporaryProperty) for p in properties.expressions
        )
        if kind == "TABLE" and temporary:
            name = tree.this.name if isinstance(tree.this, exp.Table) else tree.this.this.name
            return Statement(StatementKind.CREATE_TEMP, _spark(tree.expression), name)
    if isinstance(tree, exp.Create) and isinstance(tree.this, exp.Schema):
        # CREATE TEMP TABLE [IF NOT EXISTS] name (column type, ...): an empty relation
        columns = [c for c in tree.this.expressions if isinstance(c, exp.ColumnDef)]
        empty = exp.select(
            *(exp.cast(exp.null(), c.args["kind"].copy()).as_(c.name) for c in columns)
        ).where(exp.false())
        exists = bool(tree.args.get("exists"))
        return Statement(StatementKind.CREATE_TEMP, _spark(empty), tree.this.this.name, exists)
    if isinstance(tree, exp.Insert) and isinstance(tree.expression, exp.Query):
        return Statement(StatementKind.INSERT, _spark(tree.expression), tree.this.name)
    if isinstance(tree, exp.Alter) and len(tree.args.get("actions") or []) == 1:
        action = tree.args["actions"][0]
        if isinstance(action, exp.Drop) and str(action.args.get("kind")).upper() == "COLUMN":
            return Statement(
                StatementKind.DROP_COLUMN,
                "",
                tree.this.name,
                if_exists=bool(action.args.get("exists")),
                column=action.args["tables"][0].name,
            )
    if isinstance(tree, exp.Drop) and str(tree.args.get("kind") or "").upper() in ("TABLE", "VIEW"):
        tables = tree.args.get("tables") or ([tree.this] if tree.this is not None else [])
        if len(tables) != 1:
            raise EngineError("DROP one table at a time on Spark.")
        return Statement(
            StatementKind.DROP, "", tables[0].name, if_exists=bool(tree.args.get("exists"))
        )
    if isinstance(tree, exp.Delete):
        name = tree.this.name
        where = tree.args.get("where")
        keep: exp.Expr = exp.false()
        if where is not None:
            # rows the condition does not select, NULL included, are kept
            keep = exp.Not(this=exp.func("coalesce", exp.paren(where.this.copy()), exp.false()))
        select = exp.select("*").from_(exp.to_table(name)).where(keep)
        return Statement(StatementKind.DELETE, _spark(select), name)
    if isinstance(tree, exp.Query):
        return Statement(StatementKind.QUERY, _spark(tree))
    return Statement(StatementKind.OTHER, _spark(tree))
