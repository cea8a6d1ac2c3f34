"""Who is in the delivery: identities of every person, drawn before any care is simulated.

Identities are drawn chunk by chunk from the chunk's own stream, then the NIRs of the whole
population are made unique (raising the order number of a later twin-in-NIR), which needs
all of them at once: one small pass over a few arrays per person.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from havre.core.errors import UsageError
from havre.synth import params
from havre.synth.arrays import Array
from havre.synth.calendar import age_at, uniform_days
from havre.synth.geography import frame
from havre.synth.nir import ORDER_MAX, nir_key, nir_number
from havre.synth.seeds import Stream, generator

# Big cities record births by arrondissement: (commune, first arrondissement code, count).
_ARRONDISSEMENTS = ((75056, 75101, 20), (13055, 13201, 16), (69123, 69381, 9))


@dataclass(frozen=True)
class Identities:
    """One entry per person, in person order. Days are int32 days since 1970-01-01."""

    index: Array  # global person number, 0..N-1
    sex: Array  # 1 male, 2 female
    birth: Array
    commune: Array  # index into geography.frame()
    place: Array  # place of birth as a number (2A -> 19), country code abroad
    corsica: Array  # 1 born in 2A, 2 in 2B
    abroad: Array
    order: Array
    key: Array
    cmu: Array
    regime: Array  # 1 general scheme, 2 agricultural (MSA)
    insured_from: Array
    newborn: Array
    optout: Array
    optout_date: Array

    def __len__(self) -> int:
        return len(self.index)

    def slice(self, start: int, stop: int) -> Identities:
        return Identities(**{f.name: getattr(self, f.name)[start:stop] for f in fields(self)})

    @property
    def departement(self) -> Array:
        return frame().departement[self.commune]

    @property
    def rural(self) -> Array:
        return frame().rural[self.commune]

    @property
    def quintile(self) -> Array:
        return frame().quintile[self.commune]

    def place_code(self) -> pa.Array:
        """The 5-character place of birth, with Corsica's letters restored."""
        text = pc.utf8_lpad(pc.cast(pa.array(self.place), pa.string()), 5, "0")
        letters = pa.array(np.array(["", "2A", "2B"])[self.corsica])
        corsican = pc.binary_join_element_wise(letters, pc.utf8_slice_codeunits(text, 2), "")
        return pc.if_else(pa.array(self.corsica > 0), corsican, text)


def _pyramid() -> tuple[Array, Array, Array]:
    """Cells (band, sex) of the age pyramid with their probabilities."""
    counts = np.concatenate([params.PYRAMID_MALE, params.PYRAMID_FEMALE])
    bands = np.tile(np.arange(len(params.PYRAMID_MALE)), 2)
    sexes = np.repeat([1, 2], len(params.PYRAMID_MALE))
    return bands, sexes, counts / counts.sum()


def draw_chunk(
    seed: int, chunk: int, first: int, size: int, start: int, end: int, optout_rate: float
) -> dict[str, Array]:
    rng = generator(seed, Stream.IDENTITY, chunk)
    geo = frame()
    years = (end - start + 1) / params.DAYS_PER_YEAR
    newborn_share = params.BIRTH_RATE * years / (1 + params.BIRTH_RATE * years)
    newborn = rng.random(size) < newborn_share

    bands, sexes, probabilities = _pyramid()
    cell = rng.choice(len(probabilities), size=size, p=probabilities)
    band_width = np.where(
        bands[cell] == len(params.PYRAMID_MALE) - 1,
        params.MAX_AGE - 95 + 1,
        params.PYRAMID_BAND_YEARS,
    )
    age_years = bands[cell] * params.PYRAMID_BAND_YEARS + rng.random(size) * band_width
    birth = (start - np.floor(age_years * params.DAYS_PER_YEAR)).astype(np.int32)
    newborn_birth = uniform_days(rng, np.full(size, start), np.full(size, end))
    birth = np.where(newborn, newborn_birth, birth).astype(np.int32)
    sex = np.where(newborn, np.where(rng.random(size) < 0.512, 1, 2), sexes[cell]).astype(np.int8)

    commune = geo.sample(rng.random(size)).astype(np.int32)
    age = age_at(birth, np.maximum(birth, start))
    abroad = ~newborn & (rng.random(size) < np.where(age >= 18, params.BORN_ABROAD * 1.2, 0.03))
    same = rng.random(size) < params.BORN_IN_RESIDENCE_DEPARTEMENT
    birth_commune = np.where(
        same,
        geo.sample_in(geo.departement[commune], rng.random(size)),
        geo.sample(rng.random(size)),
    )
    place = geo.nir_place[birth_commune].copy()
    for commune_code, first_arrondissement, count in _ARRONDISSEMENTS:
        in_city = place == commune_code
        place[in_city] = first_arrondissement + rng.integers(0, count, int(in_city.sum()))
    weights = params.BIRTH_COUNTRY_WEIGHTS / params.BIRTH_COUNTRY_WEIGHTS.sum()
    country = np.array([int(code) for code in params.BIRTH_COUNTRIES], dtype=np.int64)
    place = np.where(abroad, country[rng.choice(len(country), size=size, p=weights)], place)
    corsica = np.where(abroad, 0, geo.corsica[birth_commune]).astype(np.int8)

    quintile = geo.quintile[commune]
    cmu = rng.random(size) < params.CMU_BY_QUINTILE[quintile - 1] * np.where(age < 65, 1, 0.33)
    msa = rng.random(size) < np.where(
        geo.rural[commune], params.MSA_SHARE_RURAL, params.MSA_SHARE_URBAN
    )
    covered_years = rng.random(size) * np.minimum(age, 25)
    insured_from = np.maximum(birth, start - np.floor(covered_years * params.DAYS_PER_YEAR))
    newborn_insured = np.minimum(birth + rng.integers(0, 46, size), end)
    insured_from = np.where(newborn, newborn_insured, insured_from).astype(np.int32)
    optout = rng.random(size) < optout_rate
    optout_date = uniform_days(rng, np.maximum(birth, start), np.full(size, end))
    return {
        "index": np.arange(first, first + size, dtype=np.int64),
        "sex": sex,
        "birth": birth,
        "commune": commune,
        "place": place.astype(np.int64),
        "corsica": corsica,
        "abroad": abroad,
        "order": rng.integers(1, ORDER_MAX + 1, size).astype(np.int64),
        "cmu": cmu,
        "regime": np.where(msa, 2, 1).astype(np.int8),
        "insured_from": insured_from,
        "newborn": newborn,
        "optout": optout,
        "optout_date": optout_date,
    }


def identities(seed: int, persons: int, start: int, end: int, optout_rate: float) -> Identities:
    """Every person of the delivery, with unique NIRs."""
    parts: list[dict[str, Any]] = []
    for chunk, first in enumerate(range(0, persons, params.CHUNK_PERSONS)):
        size = min(params.CHUNK_PERSONS, persons - first)
        parts.append(draw_chunk(seed, chunk, first, size, start, end, optout_rate))
    columns = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    birth = columns["birth"].astype("datetime64[D]")
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    month = birth.astype("datetime64[M]").astype(np.int64) % 12 + 1
    number = _unique_orders(columns, year, month)
    return Identities(key=nir_key(number), **columns)


def _unique_orders(columns: dict[str, Any], year: Array, month: Array) -> Array:
    """Raise the order of any person whose NIR an earlier person already has."""
    sex, place, order = columns["sex"], columns["place"], columns["order"]
    number = nir_number(sex, year, month, place, order)
    for _ in range(ORDER_MAX):
        by_number = np.argsort(number, kind="stable")
        repeated = by_number[1:][number[by_number][1:] == number[by_number][:-1]]
        if repeated.size == 0:
            return number
        order[repeated] = order[repeated] % ORDER_MAX + 1
        number[repeated] = nir_number(
            sex[repeated], year[repeated], month[repeated], place[repeated], order[repeated]
        )
    raise UsageError(
        "too many persons share a birth month and place to give each a distinct NIR",
        hint="lower --persons",
    )
