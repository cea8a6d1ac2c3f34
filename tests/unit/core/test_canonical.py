import datetime as dt
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from havre.core.canonical import canonical_json


def test_keys_are_sorted_and_compact() -> None:
    assert canonical_json({"b": 1, "a": [1, 2], "c": None}) == b'{"a":[1,2],"b":1,"c":null}'


def test_datetimes_are_utc_with_z() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    when = dt.datetime(2026, 1, 1, 13, 0, tzinfo=paris)
    assert canonical_json({"t": when}) == b'{"t":"2026-01-01T12:00:00Z"}'


def test_nan_is_refused() -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": math.nan})


def test_non_string_keys_are_refused() -> None:
    with pytest.raises(TypeError):
        canonical_json({1: "a"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_values)
def test_same_value_same_bytes(value: object) -> None:
    import json

    assert canonical_json(json.loads(canonical_json(value))) == canonical_json(value)
