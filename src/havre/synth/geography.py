"""Where synthetic people live and are cared for: communes, establishments, professionals.

Built once per process from the reference geography and ``havre.cdm.territory``; seed-free.
Identifiers of establishments (FINESS) and professionals are synthetic but keep the real
shapes: a FINESS is 9 digits starting with the département (``20`` for Corsica, ``97`` +
digit overseas), a professional number 8 digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from havre.cdm.reference import communes
from havre.cdm.territory import commune_territory
from havre.synth import params
from havre.synth.arrays import Array

OVERSEAS = ("971", "972", "973", "974", "976")
CORSICA = ("2A", "2B")


def covered_departements() -> list[str]:
    """Départements whose residents are in the delivery (the general scheme's territory)."""
    metro = [f"{n:02d}" for n in range(1, 96) if n != 20]
    return sorted([*metro, *CORSICA, *OVERSEAS])


def departement_digits(code: str) -> tuple[str, int]:
    """Two digits opening FINESS and professional numbers, and an index offset keeping
    Corsica's and the overseas départements' numbers apart."""
    if code in CORSICA:
        return "20", 0 if code == "2A" else 50_000
    if code in OVERSEAS:
        return "97", (int(code) - 971) * 10_000
    return code, 0


@dataclass(frozen=True)
class Frame:
    """Communes where synthetic people live, with what the model needs about them."""

    code: pa.Array  # INSEE commune code, 5 characters
    name: pa.Array
    postal_code: pa.Array
    departement: Array  # index into departements
    departements: tuple[str, ...]
    population: Array
    rural: Array
    quintile: Array  # 1..5
    nir_place: Array  # the commune code as a number, 2A read 19 and 2B 18
    corsica: Array  # 1 for 2A, 2 for 2B, else 0 (the number alone cannot tell 2A from 19)
    cumulative: Array  # population-weighted, over all communes
    within_departement: Array  # departement index + cumulative share inside it

    def __len__(self) -> int:
        return len(self.population)

    def sample(self, uniform: Array) -> Array:
        """Commune indices drawn in proportion to population."""
        index = np.searchsorted(self.cumulative, uniform, side="right")
        return np.minimum(index, len(self) - 1)

    def sample_in(self, departement: Array, uniform: Array) -> Array:
        """Commune indices inside the given départements, in proportion to population."""
        index = np.searchsorted(self.within_departement, departement + uniform, side="right")
        return np.minimum(index, len(self) - 1)


@cache
def frame() -> Frame:
    territory = commune_territory()
    names = communes().select(["code_commune", "nom"])
    keep = pc.and_(
        pc.is_in(territory.column("code_departement"), pa.array(covered_departements())),
        pc.greater(territory.column("population"), 0),
    )
    table = territory.filter(keep).sort_by(
        [("code_departement", "ascending"), ("code_commune", "ascending")]
    )
    index = pc.index_in(table.column("code_commune"), value_set=names.column("code_commune"))
    name = names.column("nom").take(index).combine_chunks()
    code = table.column("code_commune").combine_chunks()
    departement_codes = table.column("code_departement").to_pylist()
    departements = tuple(covered_departements())
    position = {d: i for i, d in enumerate(departements)}
    departement = np.array([position[d] for d in departement_codes], dtype=np.int32)
    population = table.column("population").to_numpy().astype(np.float64)
    cumulative = np.cumsum(population) / population.sum()
    within = np.empty_like(population)
    for d in range(len(departements)):
        mask = departement == d
        share = np.cumsum(population[mask])
        within[mask] = d + share / share[-1]
    nir_place = pc.replace_substring(pc.replace_substring(code, "2A", "19"), "2B", "18")
    postal = pc.replace_substring_regex(code, "^2[AB]", "20")
    return Frame(
        code=code,
        name=name,
        postal_code=postal,
        departement=departement,
        departements=departements,
        population=population,
        rural=table.column("rural").to_numpy(zero_copy_only=False).astype(bool),
        quintile=table.column("deprivation_quintile").to_numpy().astype(np.int8),
        nir_place=pc.cast(nir_place, pa.int64()).to_numpy(),
        corsica=np.select(
            [
                pc.starts_with(code, "2A").to_numpy(zero_copy_only=False),
                pc.starts_with(code, "2B").to_numpy(zero_copy_only=False),
            ],
            [1, 2],
            0,
        ).astype(np.int8),
        cumulative=cumulative,
        within_departement=within,
    )


@dataclass(frozen=True)
class Providers:
    """Pools of establishments and professionals per département, sized on the population."""

    persons_per_departement: Array
    public_hospitals: Array  # count per département
    private_clinics: Array

    def pool(self, per_capita: float) -> Array:
        pool = np.maximum(1, np.round(self.persons_per_departement / per_capita))
        return np.asarray(pool, dtype=np.int64)


def providers(persons: int) -> Providers:
    geo = frame()
    share = np.bincount(geo.departement, weights=geo.population, minlength=len(geo.departements))
    share = share / share.sum()
    counts = share * 68_000_000
    return Providers(
        persons_per_departement=share * persons,
        public_hospitals=np.maximum(1, np.round(counts / 450_000)).astype(np.int64),
        private_clinics=np.maximum(1, np.round(counts / 600_000)).astype(np.int64),
    )


# Professional and establishment categories: the digit after the département.
KIND_GP, KIND_SPECIALIST, KIND_PHARMACY, KIND_LABORATORY = 1, 2, 3, 4
KIND_PUBLIC_HOSPITAL, KIND_PRIVATE_CLINIC = 0, 1
PER_CAPITA = {
    KIND_GP: 1_100.0,
    KIND_SPECIALIST: 1_500.0,
    KIND_PHARMACY: 3_000.0,
    KIND_LABORATORY: 8_000.0,
}


def _prefixes(departements: tuple[str, ...]) -> tuple[pa.Array, Array]:
    digits, offsets = zip(*(departement_digits(d) for d in departements), strict=True)
    return pa.array(digits), np.array(offsets, dtype=np.int64)


def numbers(departement: Array, kind: int, index: Array, width: int) -> pa.Array:
    """Identifiers ``DD`` + kind digit + zero-padded index: 8 characters for professionals
    (width 5), 9 for establishments (width 6). Only distinct identifiers are formatted."""
    prefix, offsets = _prefixes(frame().departements)
    span = int(index.max(initial=0)) + 1
    code = departement.astype(np.int64) * span + index.astype(np.int64)
    used = np.zeros(len(offsets) * span, dtype=bool)
    used[code] = True
    distinct = np.flatnonzero(used)
    inverse = (np.cumsum(used) - 1)[code]
    where = distinct // span
    serial = pa.array(distinct % span + offsets[where])
    text = pc.binary_join_element_wise(
        prefix.take(pa.array(where)),
        pa.scalar(str(kind)),
        pc.utf8_lpad(pc.cast(serial, pa.string()), width, "0"),
        "",
    )
    return text.take(pa.array(inverse))


def hospital_group() -> Array:
    """Indices of the départements whose public hospitals form the exporting group."""
    position = {d: i for i, d in enumerate(frame().departements)}
    return np.array([position[d] for d in params.HOSPITAL_GROUP_DEPARTEMENTS], dtype=np.int32)
