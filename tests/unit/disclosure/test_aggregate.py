"""From person-level rows to cells: persons are counted once, amounts summed per person first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from havre.core.errors import DataValidationError, UsageError
from havre.disclosure.aggregate import TableSpec, aggregate
from havre.disclosure.cells import MISSING_LEVEL, TableKind
from havre.disclosure.csvinput import open_person_csv


def _rows(*rows: tuple[str | None, str | None, str | None, float | None]) -> pa.Table:
    persons, a, b, v = zip(*rows, strict=True)
    return pa.table(
        {
            "pid": pa.array(persons, pa.string()),
            "a": pa.array(a, pa.string()),
            "b": pa.array(b, pa.string()),
            "v": pa.array(v, pa.float64()),
        }
    )


def test_a_person_with_several_records_counts_once_and_contributes_one_amount() -> None:
    data = _rows(
        ("p1", "x", "u", 5.0),
        ("p1", "x", "u", 7.0),
        ("p2", "x", "u", 10.0),
        ("p3", "y", "u", 1.0),
    )
    table = aggregate(data, TableSpec("pid", ("a", "b"), TableKind.SUM, "v"))
    m = table.magnitudes
    assert m is not None
    cell = table.index_of(("x", "u"))
    assert table.persons.ravel()[cell] == 2
    assert m.total.ravel()[cell] == 22.0
    assert m.top1.ravel()[cell] == 12.0  # p1's two records, summed: the unit is the person
    assert m.top2.ravel()[cell] == 10.0
    assert table.additive
    grand = table.index_of((None, None))
    assert table.persons.ravel()[grand] == 3 and m.total.ravel()[grand] == 23.0


def test_empty_and_declared_cells_are_part_of_the_table() -> None:
    data = _rows(("p1", "x", "u", None), ("p2", "y", "w", None))
    spec = TableSpec("pid", ("a", "b"), levels={"a": ["x", "y", "z"]})
    table = aggregate(data.drop(["v"]), spec)
    assert table.levels == (("x", "y", "z"), ("u", "w"))
    assert table.shape == (4, 3)
    assert table.persons.ravel()[table.index_of(("z", "u"))] == 0
    assert table.persons.ravel()[table.index_of(("x", "w"))] == 0
    assert table.persons.ravel()[table.index_of(("z", None))] == 0


def test_missing_levels_become_their_own_level() -> None:
    data = _rows(("p1", None, "u", None), ("p2", "x", "u", None))
    table = aggregate(data.drop(["v"]), TableSpec("pid", ("a", "b")))
    assert MISSING_LEVEL in table.levels[0]


def test_persons_in_several_cells_make_margins_distinct_counts() -> None:
    data = _rows(
        ("p1", "x", "u", 1.0), ("p1", "y", "u", 2.0), ("p2", "x", "u", 3.0), ("p3", "y", "w", 4.0)
    )
    table = aggregate(data, TableSpec("pid", ("a", "b"), TableKind.SUM, "v"))
    assert not table.additive
    persons = table.persons.ravel()
    assert persons[table.index_of((None, "u"))] == 2  # p1 counted once
    assert persons[table.index_of((None, None))] == 3
    m = table.magnitudes
    assert m is not None
    # In the margin, p1's contributions to x and y are summed before ranking.
    assert m.top1.ravel()[table.index_of((None, "u"))] == 3.0
    assert m.total.ravel()[table.index_of((None, None))] == 10.0


def test_sql_and_numpy_margins_agree() -> None:
    rng = np.random.default_rng(7)
    n = 2_000
    data = pa.table(
        {
            "pid": np.arange(n).astype(str),
            "a": rng.integers(0, 4, n).astype(str),
            "b": rng.integers(0, 3, n).astype(str),
            "c": rng.integers(0, 2, n).astype(str),
            "v": rng.gamma(2.0, 50.0, n),
        }
    )
    numpy_path = aggregate(data, TableSpec("pid", ("a", "b", "c"), TableKind.SUM, "v"))
    sql_path = aggregate(data, TableSpec("pid", ("a", "b", "c"), TableKind.MEDIAN, "v"))
    assert numpy_path.additive and sql_path.additive
    assert (numpy_path.persons == sql_path.persons).all()
    a, b = numpy_path.magnitudes, sql_path.magnitudes
    assert a is not None and b is not None
    np.testing.assert_allclose(a.total, b.total)
    np.testing.assert_allclose(a.tops, b.tops)
    np.testing.assert_allclose(a.minimum, b.minimum)
    np.testing.assert_allclose(a.maximum, b.maximum)
    assert not np.isnan(b.median.ravel()[-1])


def test_top_n_follows_the_dominance_parameter() -> None:
    data = _rows(*[(f"p{i}", "x", "u", float(i)) for i in range(1, 6)])
    table = aggregate(data, TableSpec("pid", ("a", "b"), TableKind.SUM, "v", top_n=3))
    m = table.magnitudes
    assert m is not None
    assert m.tops[:, 0, 0].tolist() == [5.0, 4.0, 3.0]


def test_rows_without_person_are_refused() -> None:
    data = _rows(("p1", "x", "u", None), (None, "x", "u", None))
    with pytest.raises(DataValidationError, match="without a person id"):
        aggregate(data.drop(["v"]), TableSpec("pid", ("a", "b")))


def test_unknown_columns_are_named() -> None:
    data = _rows(("p1", "x", "u", None))
    with pytest.raises(DataValidationError, match="zz"):
        aggregate(data, TableSpec("pid", ("a", "zz")))


def test_spec_is_validated() -> None:
    with pytest.raises(UsageError):
        TableSpec("pid", ("a", "a"))
    with pytest.raises(UsageError):
        TableSpec("pid", ("a",), TableKind.SUM)
    with pytest.raises(UsageError):
        TableSpec("pid", ("pid",))
    with pytest.raises(UsageError):
        TableSpec("pid", ("a",), value="v")


def test_structural_zeros_are_marked_only_when_empty() -> None:
    data = _rows(("p1", "x", "u", None), ("p2", "y", "w", None))
    spec = TableSpec("pid", ("a", "b"), structural_zeros=[("x", "w"), ("y", "w")])
    table = aggregate(data.drop(["v"]), spec)
    mask = table.structural_mask().ravel()
    assert mask[table.index_of(("x", "w"))]
    assert not mask[table.index_of(("y", "w"))]
    assert any("structural zero" in note for note in table.notes)


def test_a_bad_value_deep_in_a_streamed_file_is_a_validation_error(tmp_path: Path) -> None:
    path = tmp_path / "persons.csv"
    lines = ["pid,region,cost", *(f"{i},A,{i % 7}" for i in range(2_000)), "x,A,abc"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    reader = open_person_csv(path, ["pid", "region"], ["cost"], block_size=4_096)
    with pytest.raises(DataValidationError, match="invalid value 'abc'"):
        aggregate(reader, TableSpec("pid", ("region",), TableKind.SUM, "cost"))
