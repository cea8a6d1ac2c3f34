"""Territorial reference shared by the synthetic generator and the analyses inside the hub.

Two facts per commune, both deterministic and independent of any seed:

- **rurality**: a commune is rural when its population is below 2,000 inhabitants, the
  classic INSEE threshold (the commune populations are those shipped in ``geo/communes.csv``);
- **deprivation**: a *synthetic* index in quintiles 1 (least deprived) to 5 (most deprived).
  It is NOT the real FDep (which needs census income, unemployment, education and blue-collar
  shares that Havre does not ship). It is built from the reference data plus a fixed hash of
  the commune code so that it behaves like one: correlated with rurality, higher overseas,
  and stable from run to run. Quintiles are population-weighted: each holds about a fifth of
  the population.

The synthetic population draws its inequalities from these functions, so an analysis that
uses them finds those inequalities again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from statistics import NormalDist
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from havre.cdm.reference import communes, departements

Array: TypeAlias = npt.NDArray[Any]

RURAL_POPULATION_THRESHOLD = 2_000
DEPRIVATION_QUINTILES = 5

# Weights of the synthetic score: rurality, the département's rural share, overseas, noise.
_W_RURAL = 0.8
_W_DEPARTEMENT = 0.4
_W_OVERSEAS = 1.2
_W_NOISE = 0.9
_HASH_PERSONALISATION = b"havre-depriv-v1"

OVERSEAS_DEPARTEMENTS = frozenset({"971", "972", "973", "974", "976"})


def is_rural(population: Array) -> Array:
    """True where a commune population is below the INSEE rural threshold."""
    return np.asarray(population) < RURAL_POPULATION_THRESHOLD


def _hash_normal(codes: Sequence[str]) -> Array:
    """One fixed standard-normal draw per code, from BLAKE2b (seed-free, platform-free)."""
    raw = np.fromiter(
        (
            int.from_bytes(
                hashlib.blake2b(
                    code.encode(), digest_size=8, person=_HASH_PERSONALISATION
                ).digest(),
                "big",
            )
            for code in codes
        ),
        dtype=np.uint64,
        count=len(codes),
    )
    # 53 bits make an exact double strictly between 0 and 1.
    uniform = ((raw >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
    quantile = NormalDist().inv_cdf
    return np.fromiter((quantile(u) for u in uniform), dtype=np.float64, count=len(uniform))


@cache
def commune_territory() -> pa.Table:
    """code_commune, code_departement, population, rural, deprivation_score,
    deprivation_quintile (1..5) for every commune of the reference geography."""
    table = communes()
    codes = table.column("code_commune").to_pylist()
    departement = table.column("code_departement")
    population = (
        pc.coalesce(table.column("population"), pa.scalar(0, pa.int64()))
        .to_numpy()
        .astype(np.int64)
    )

    rural = is_rural(population)
    shares = departements()
    share_by_code = dict(
        zip(
            shares.column("code_departement").to_pylist(),
            pc.coalesce(shares.column("rural_share"), pa.scalar(0.0)).to_pylist(),
            strict=True,
        )
    )
    departement_share = np.array(
        [share_by_code.get(code, 0.0) for code in departement.to_pylist()], dtype=np.float64
    )
    spread = departement_share.std() or 1.0
    overseas = pc.is_in(departement, pa.array(sorted(OVERSEAS_DEPARTEMENTS))).to_numpy(
        zero_copy_only=False
    )
    score = (
        _W_RURAL * rural
        + _W_DEPARTEMENT * (departement_share - departement_share.mean()) / spread
        + _W_OVERSEAS * overseas
        + _W_NOISE * _hash_normal(codes)
    )
    quintile = _weighted_quintiles(score, population)
    return pa.table(
        {
            "code_commune": table.column("code_commune"),
            "code_departement": departement,
            "population": pa.array(population),
            "rural": pa.array(rural),
            "deprivation_score": pa.array(np.round(score, 6)),
            "deprivation_quintile": pa.array(quintile.astype(np.int8)),
        }
    )


def _weighted_quintiles(score: Array, population: Array) -> Array:
    """Quintile of each score, with cut points at fifths of the cumulated population."""
    order = np.argsort(score, kind="stable")
    weights = np.maximum(population[order], 0).astype(np.float64)
    cumulated = np.cumsum(weights) / max(weights.sum(), 1.0)
    # The commune that crosses a cut point belongs to the quintile it starts in.
    start = np.concatenate([[0.0], cumulated[:-1]])
    ranked = np.minimum((start * DEPRIVATION_QUINTILES).astype(np.int64), 4)
    quintile = np.empty_like(ranked)
    quintile[order] = ranked + 1
    return np.asarray(quintile)


def territory_of(codes: pa.Array | pa.ChunkedArray | Sequence[str]) -> pa.Table:
    """The territory row of each commune code, in order; nulls for unknown codes."""
    reference = commune_territory()
    wanted = codes if isinstance(codes, pa.Array | pa.ChunkedArray) else pa.array(codes)
    index = pc.index_in(wanted, value_set=reference.column("code_commune"))
    return reference.take(index)
