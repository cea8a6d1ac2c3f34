"""Aggregate-only permits: the researcher's query must produce an aggregate, and every row it
returns must stand for enough persons.

Method (docs/workspace.md, "Aggregate-only access"): the query is parsed with sqlglot and
checked at its top level: one SELECT that aggregates (GROUP BY, or aggregate functions only);
each result column is a grouping key, a constant, or an expression over allowed aggregates
(counts, sums, means, spreads, quantiles — never min, max, first, lists or string
aggregates, which hand out one person's value); no grouping by ``person_id``; no sub-query or
window function in the result columns. The service then adds one column to that same SELECT:
``count(DISTINCT s.person_id)`` for each person-bearing source ``s`` of its FROM clause (the
least of them when several; sources an inner join or the WHERE holds equal on ``person_id``
are counted once, by the one whose persons the query already counts if it does, so that the
engine computes that count once): same FROM, WHERE, GROUP BY and HAVING, so it counts the
persons behind each row. A derived table or CTE counts as person-bearing only when its
``person_id`` is a plain copy of a workspace table's ``person_id`` (an alias cannot pass a
record id off as persons). Rows below the threshold are suppressed before anything is returned.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

from havre.workspace.screen import QueryRefused

PERSONS_COLUMN = "__havre_persons"
PERSON = "person_id"
DIALECT = "duckdb"
ALLOWED_AGGREGATES = frozenset(
    {
        "Count",
        "CountIf",
        "Sum",
        "Avg",
        "Median",
        "PercentileCont",
        "ApproxQuantile",
        "Stddev",
        "StddevSamp",
        "StddevPop",
        "Variance",
        "VariancePop",
        "Corr",
        "CovarPop",
        "CovarSamp",
        "ApproxDistinct",
        "LogicalAnd",
        "LogicalOr",
        "Kurtosis",
        "Skewness",
        "RegrSlope",
        "RegrIntercept",
        "RegrR2",
        "RegrCount",
        "RegrAvgx",
        "RegrAvgy",
        "RegrSxx",
        "RegrSyy",
        "RegrSxy",
    }
)
# aggregates sqlglot does not model, known to return a statistic rather than a value
ALLOWED_ANONYMOUS = frozenset({"mean", "fsum", "favg", "sumkahan", "kahan_sum"})
MAX_DEPTH = 32

Schema = Mapping[str, Mapping[str, str]]
FrozenSchema = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


@dataclass(frozen=True)
class AggregatePlan:
    sql: str  # the query to run: the researcher's, with the persons column added last
    person_sources: tuple[str, ...]


def refuse(why: str, hint: str | None = None) -> QueryRefused:
    return QueryRefused(
        f"This project's permit gives aggregate results only: {why}.",
        hint=hint or "group and count (GROUP BY with count, sum, avg...); see docs/workspace.md",
    )


def plan_aggregate(sql: str, schema: Schema | FrozenSchema) -> AggregatePlan:
    """The query to run for an aggregate-only permit, or a refusal saying why. ``schema``:
    as ``freeze`` gives it, for a caller that asks often about one schema (a loaded
    workspace's), or as a mapping."""
    return _plan(sql, schema if isinstance(schema, tuple) else freeze(schema))


def freeze(schema: Schema) -> FrozenSchema:
    """The schema as a key of the plans' cache (sorted tables and columns)."""
    return tuple(sorted((t, tuple(sorted(c.items()))) for t, c in schema.items()))


@functools.lru_cache(maxsize=256)
def _plan(sql: str, frozen: FrozenSchema) -> AggregatePlan:
    # a pure function of the text and the schema: researchers re-run the same queries
    schema = {table: dict(columns) for table, columns in frozen}
    try:
        statements = [s for s in sqlglot.parse(sql, dialect=DIALECT) if s is not None]
    except SqlglotError as exc:
        raise refuse(f"the query could not be analysed ({_first_line(exc)})") from None
    if len(statements) != 1:
        raise refuse("send one statement")
    root = statements[0]
    if not isinstance(root, exp.Select):
        raise refuse(
            "the result must come from one SELECT at the top (no UNION, DESCRIBE or SUMMARIZE "
            "there; a UNION can go in a CTE)"
        )
    keys = _group_keys(root)
    aggregated = False
    for projection in root.selects:
        for star in projection.find_all(exp.Star, exp.Columns):
            if not (isinstance(star, exp.Star) and isinstance(star.parent, exp.Count)):
                raise refuse("star expressions (*, t.*, COLUMNS) return rows, not aggregates")
        aggregated |= _check_projection(projection.unalias(), keys)
    if not aggregated and not root.args.get("group"):
        raise refuse("the query returns rows; it must aggregate them")
    sources = _person_sources(root, schema)
    if not sources:
        raise refuse(
            "no person is reachable in its FROM clause, so the persons behind each row "
            "cannot be counted",
            hint="keep a person_id column (of a workspace table) in the outer FROM",
        )
    counts = [
        exp.Count(this=exp.Distinct(expressions=[exp.column(PERSON, table=s, quoted=True)]))
        for s in sources
    ]
    persons: exp.Expr = (
        counts[0] if len(counts) == 1 else exp.Least(this=counts[0], expressions=counts[1:])
    )
    root.select(exp.alias_(persons, PERSONS_COLUMN, quoted=True), copy=False)
    return AggregatePlan(root.sql(dialect=DIALECT), tuple(sources))


def _normal(expression: exp.Expr) -> str:
    # DuckDB's identifiers ignore case; a literal differing only in case may then match a
    # key, which DuckDB's own binder still refuses if the expression is not grouped
    return str(expression.sql(dialect=DIALECT)).lower()


def _group_keys(root: exp.Select) -> set[str]:
    group = root.args.get("group")
    if group is None:
        return set()
    projections = [p.unalias() for p in root.selects]
    aliases = {p.alias.lower(): p.unalias() for p in root.selects if p.alias}
    if group.args.get("all"):
        return {_normal(p) for p in projections if not _has_aggregate(p)}
    items: list[exp.Expr] = []

    def add(node: exp.Expr) -> None:
        if isinstance(node, exp.Rollup | exp.Cube | exp.GroupingSets | exp.Tuple):
            for child in node.expressions:
                add(child)
        else:
            items.append(node)

    for key in ("expressions", "grouping_sets", "cube", "rollup"):
        for node in group.args.get(key) or []:
            add(node)
    keys: set[str] = set()
    for item in items:
        if isinstance(item, exp.Literal) and not item.is_string:
            index = int(item.name) - 1
            if not 0 <= index < len(projections):
                raise refuse(f"GROUP BY {item.name} names no result column")
            item = projections[index]
        elif isinstance(item, exp.Column) and not item.table and item.name.lower() in aliases:
            item = aliases[item.name.lower()]
        if any(c.name.lower() == PERSON for c in item.find_all(exp.Column)):
            raise refuse("grouping by person_id gives one row per person")
        keys.add(_normal(item))
    return keys


def _is_aggregate(node: exp.Expr) -> bool:
    if isinstance(node, exp.Filter | exp.WithinGroup):
        return _is_aggregate(node.this)
    if isinstance(node, exp.Anonymous):
        return node.name.lower() in ALLOWED_ANONYMOUS
    return isinstance(node, exp.AggFunc)


def _has_aggregate(node: exp.Expr) -> bool:
    return any(_is_aggregate(n) or isinstance(n, exp.AggFunc) for n in node.find_all(exp.Expr))


def _check_projection(expression: exp.Expr, keys: set[str]) -> bool:
    """Refuse what could carry a person's own value; True when the column aggregates."""
    if _normal(expression) in keys:
        return False
    for node in expression.find_all(exp.Expr):
        if isinstance(node, exp.Subquery | exp.Select):
            raise refuse("a sub-query in a result column cannot be checked")
        if isinstance(node, exp.Window):
            raise refuse("window functions return one value per row, not an aggregate")
        if isinstance(node, exp.AggFunc) and type(node).__name__ not in ALLOWED_AGGREGATES:
            name = node.sql_name() if hasattr(node, "sql_name") else type(node).__name__
            raise refuse(
                f"{name.lower()}() can return one person's own value",
                hint="use counts, sums, means, spreads or quantiles; the airlock reviews the rest",
            )
    aggregated = False
    for column in expression.find_all(exp.Column):
        if column.name.lower() == PERSON and not _inside_aggregate(column, expression):
            raise refuse("person_id cannot be a result column")
        if not _covered(column, expression, keys):
            raise refuse(
                f"the column {column.sql(dialect=DIALECT)} is neither grouped nor inside an "
                "allowed aggregate"
            )
    for node in expression.find_all(exp.Expr):
        if _is_aggregate(node):
            aggregated = True
        elif (
            isinstance(node, exp.Anonymous)
            and node.find(exp.Column) is not None
            and not _covered_all(node, expression, keys)
        ):
            raise refuse(f"the function {node.name}() is not an allowed aggregate")
    return aggregated or expression.find(exp.Column) is None


def _inside_aggregate(node: exp.Expr, top: exp.Expr) -> bool:
    current: exp.Expr | None = node
    while current is not None:
        if _is_aggregate(current):
            return True
        if current is top:
            return False
        current = current.parent
    return False


def _covered(node: exp.Expr, top: exp.Expr, keys: set[str]) -> bool:
    current: exp.Expr | None = node
    while current is not None:
        if _is_aggregate(current) or _normal(current) in keys:
            return True
        if current is top:
            return False
        current = current.parent
    return False


def _covered_all(node: exp.Expr, top: exp.Expr, keys: set[str]) -> bool:
    return all(_covered(c, top, keys) for c in node.find_all(exp.Column))


def _person_sources(root: exp.Select, schema: Schema) -> list[str]:
    try:
        qualified = qualify(
            root.copy(),
            schema={t: dict(c) for t, c in schema.items()},
            dialect=DIALECT,
            validate_qualify_columns=False,
        )
        scope = build_scope(qualified)
    except SqlglotError as exc:
        raise refuse(f"the query could not be analysed ({_first_line(exc)})") from None
    if scope is None:
        return []
    # what the FROM clause names (a CTE read under an alias is counted under that alias;
    # ``scope.sources`` also holds every CTE by its own name, which the outer query may not use)
    found = []
    for name, (_node, source) in scope.selected_sources.items():
        if _genuine(source, schema, 0):
            found.append(name)
    return _one_per_person(scope.expression, sorted(found), _counted(scope.expression))


def _counted(select: exp.Expr) -> set[str]:
    """Sources whose ``count(DISTINCT s.person_id)`` the result columns of ``select`` (not
    of a sub-query) already hold."""
    found = set()
    for projection in select.selects if isinstance(select, exp.Select) else []:
        for count in projection.find_all(exp.Count):
            inner = count.this.expressions if isinstance(count.this, exp.Distinct) else []
            if count.parent_select is select and len(inner) == 1 and _is_person(inner[0]):
                found.add(inner[0].table)
    return found


def _is_person(node: exp.Expr) -> bool:
    """``s.person_id``, qualified."""
    return isinstance(node, exp.Column) and bool(node.table) and node.name.lower() == PERSON


def _one_per_person(select: exp.Expr, sources: list[str], counted: set[str]) -> list[str]:
    """One source of each set whose ``person_id`` columns are equal on every row the query
    sees: joined by an INNER JOIN whose ON condition, or by a WHERE, holds
    ``a.person_id = b.person_id`` as one of its top-level conjuncts. Their counts of persons
    are the same, so one is counted: one of ``counted`` if the set has one (the engine then
    computes the query's own count once, not a second equal one; with the two, a query
    counting persons took ~1.75 times as long), else the first by name. An outer join (whose
    other side may be NULL), an equality under OR or NOT, or one between other columns
    leaves both counted."""
    parent = {source: source for source in sources}

    def root(source: str) -> str:
        while parent[source] != source:
            source = parent[source]
        return source

    conditions = [select.args.get("where")]
    for join in select.args.get("joins") or []:
        if not join.side and join.kind in ("", "INNER"):
            conditions.append(join.args.get("on"))
    for condition in conditions:
        if condition is None:
            continue
        top = condition.this if isinstance(condition, exp.Where) else condition
        for conjunct in top.flatten() if isinstance(top, exp.And) else [top]:
            pair = _person_equality(conjunct, parent)
            if pair is not None:
                first, second = sorted(root(name) for name in pair)
                parent[second] = first
    chosen: dict[str, str] = {}
    for source in sources:  # sorted: the first counted member of a set, else its first
        found = chosen.get(root(source))
        if found is None or (source in counted and found not in counted):
            chosen[root(source)] = source
    return sorted(chosen.values())


def _person_equality(node: exp.Expr, sources: Mapping[str, str]) -> tuple[str, str] | None:
    """The two sources of ``a.person_id = b.person_id``, when ``node`` is that."""
    if not isinstance(node, exp.EQ):
        return None
    sides = (node.this, node.expression)
    if not all(_is_person(side) and side.table in sources for side in sides):
        return None
    first, second = (side.table for side in sides)
    return (first, second) if first != second else None


def _genuine(source: exp.Table | Scope, schema: Schema, depth: int) -> bool:
    """Whether ``source`` exposes the real person_id of a workspace table."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(source, exp.Table):
        return PERSON in schema.get(source.name.lower(), {})
    if source.set_operation_scopes:
        return all(_genuine(s, schema, depth + 1) for s in source.set_operation_scopes)
    select = source.expression
    if not isinstance(select, exp.Select):
        return False
    named = [p for p in select.selects if p.alias_or_name.lower() == PERSON]
    if len(named) != 1:
        return False
    column = named[0].unalias()
    if not isinstance(column, exp.Column) or column.name.lower() != PERSON:
        return False
    inner = source.sources.get(column.table)
    return inner is not None and _genuine(inner, schema, depth + 1)


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__
