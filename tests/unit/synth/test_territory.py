from __future__ import annotations

import numpy as np
import pyarrow.compute as pc

from havre.cdm.territory import (
    RURAL_POPULATION_THRESHOLD,
    commune_territory,
    is_rural,
    territory_of,
)


def test_rural_means_fewer_than_2000_inhabitants() -> None:
    assert RURAL_POPULATION_THRESHOLD == 2_000
    assert is_rural(np.array([0, 1_999, 2_000, 50_000])).tolist() == [True, True, False, False]
    table = commune_territory()
    population = table.column("population").to_numpy()
    assert (table.column("rural").to_numpy(zero_copy_only=False) == (population < 2000)).all()


def test_quintiles_hold_a_fifth_of_the_population_each() -> None:
    table = commune_territory()
    population = table.column("population").to_numpy().astype(float)
    quintile = table.column("deprivation_quintile").to_numpy()
    assert set(np.unique(quintile)) == {1, 2, 3, 4, 5}
    shares = [population[quintile == q].sum() / population.sum() for q in range(1, 6)]
    assert all(abs(share - 0.2) < 0.03 for share in shares), shares


def test_deprivation_is_correlated_with_rurality() -> None:
    table = commune_territory()
    population = table.column("population").to_numpy().astype(float)
    rural = table.column("rural").to_numpy(zero_copy_only=False)
    quintile = table.column("deprivation_quintile").to_numpy()
    rural_share = [
        (population * rural)[quintile == q].sum() / population[quintile == q].sum()
        for q in range(1, 6)
    ]
    assert rural_share == sorted(rural_share)
    assert rural_share[4] > 3 * rural_share[0]


def test_the_index_is_stable_and_seed_free() -> None:
    commune_territory.cache_clear()
    first = commune_territory()
    commune_territory.cache_clear()
    again = commune_territory()
    assert first.equals(again)
    # Paris, a fixed point of the synthetic index: urban, and never in the most deprived fifth.
    paris = territory_of(["75056"]).to_pylist()[0]
    assert paris["rural"] is False
    assert paris["deprivation_quintile"] < 5


def test_lookup_keeps_order_and_gives_nulls_for_unknown_codes() -> None:
    rows = territory_of(["2A004", "nope", "01001"])
    assert rows.column("code_commune").to_pylist() == ["2A004", None, "01001"]
    assert pc.is_null(rows.column("deprivation_quintile")).to_pylist() == [False, True, False]
