"""The insurer's extract for a chunk: SNDS-shaped Arrow tables built from the simulation.

Each table comes with the chunk-local person of every row and whether the row may carry a
defect without making other rows ambiguous (a quarantined parent would orphan its children).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from havre.synth import tables, vocab
from havre.synth.arrays import Array
from havre.synth.calendar import NEVER, month_of, year_of
from havre.synth.care import ACTS, CHRONIC, CLINIC, GP, Care, gp_base_fee
from havre.synth.geography import (
    KIND_GP,
    KIND_LABORATORY,
    KIND_PHARMACY,
    KIND_PUBLIC_HOSPITAL,
    KIND_SPECIALIST,
    PER_CAPITA,
    Providers,
    departement_digits,
    frame,
    numbers,
)
from havre.synth.history import History
from havre.synth.nir import format_nir
from havre.synth.population import Identities

KEY_STRIDE = 1_000_000_000  # CLE_DCI_JNT and RSA_NUM: chunk * stride + row
RSA_STRIDE = 1_000_000
THREE_MONTH_BOX_PRICE = 2.8  # times the price of a one-month box


@dataclass
class TableData:
    """One SNDS table of a chunk (or one year of a PMSI table)."""

    spec: tables.TableSpec
    file_table: str
    table: pa.Table
    person: Array  # chunk-local person of each row
    leaf: Array  # rows whose defect cannot orphan another row
    event: bool  # rows are events of a person (an unknown NIR makes sense)


NATURES = (
    vocab.PRS_GP_BEFORE_2017,
    vocab.PRS_GP,
    vocab.PRS_SPECIALIST,
    vocab.PRS_PHARMACY_100,
    vocab.PRS_PHARMACY_65,
    vocab.PRS_BIOLOGY,
)


def _pick(categories: Sequence[str], index: Array) -> pa.Array:
    """Strings chosen by index from a few categories (fast, unlike numpy unicode arrays)."""
    return pa.array(list(categories), pa.string()).take(pa.array(index.astype(np.int64)))


def _strings(values: Array) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _padded(values: Array, width: int) -> pa.Array:
    return pc.utf8_lpad(_strings(values.astype(np.int64)), width, "0")


def _dates(days: Array) -> pa.Array:
    return pa.array(days.astype(np.int32), pa.int32()).cast(pa.date32())


def _euros(cents: Array) -> pa.Array:
    return pa.array(np.round(cents).astype(np.int64) / 100.0)


def _table(spec: tables.TableSpec, columns: dict[str, pa.Array]) -> pa.Table:
    return pa.Table.from_arrays([columns[name] for name in spec.column_names], schema=spec.schema())


def person_nirs(ids: Identities) -> pa.Array:
    year, month = year_of(ids.birth), month_of(ids.birth)
    return format_nir(ids.sex, year, month, ids.place_code(), ids.order, ids.key)


def beneficiaries(ids: Identities, history: History, nir: pa.Array, end: int) -> TableData:
    geo = frame()
    n = len(ids)
    dead = history.death <= end
    fund = pa.array(
        [
            departement_digits(code)[0] + ("2" if code == "2B" else "1") if len(code) == 2 else code
            for code in geo.departements
        ]
    )
    organisation = pc.binary_join_element_wise(
        _padded(ids.regime, 2), fund.take(pa.array(ids.departement)), pa.scalar("0000"), ""
    )
    columns = {
        "BEN_NIR": nir,
        "BEN_RNG_GEM": pa.array(np.ones(n, dtype=np.int64)),
        "BEN_NAI_ANN": _strings(year_of(ids.birth)),
        "BEN_NAI_MOI": _padded(month_of(ids.birth), 2),
        "BEN_SEX_COD": _strings(ids.sex),
        "BEN_RES_DPT": pa.array(geo.departements).take(pa.array(ids.departement)),
        "BEN_RES_COM": geo.code.take(pa.array(ids.commune)),
        "BEN_DCD_DTE": pc.if_else(
            pa.array(dead), _dates(np.where(dead, history.death, 0)), pa.scalar(None, pa.date32())
        ),
        "BEN_CMU_TOP": _strings(ids.cmu.astype(np.int64)),
        "ORG_AFF_BEN": organisation,
        "BEN_DTE_INS": _dates(ids.insured_from),
    }
    return TableData(
        tables.IR_BEN_R,
        "IR_BEN_R",
        _table(tables.IR_BEN_R, columns),
        np.arange(n),
        np.ones(n, dtype=bool),
        event=False,
    )


def _professionals(
    ids: Identities, providers: Providers, kind: int, person: Array, draw: Array
) -> pa.Array:
    departement = ids.departement[person]
    pool = providers.pool(PER_CAPITA[kind])[departement]
    return numbers(departement, kind, np.floor(draw * pool).astype(np.int64), 5)


def _establishment(departement: Array, kind: int, index: Array) -> pa.Array:
    return numbers(departement, kind, index, 6)


def ambulatory(
    ids: Identities,
    history: History,
    care: Care,
    providers: Providers,
    nir: pa.Array,
    chunk: int,
    rng: np.random.Generator,
) -> list[TableData]:
    """ER_PRS_F with its pharmacy (ER_PHA_F) and biology (ER_BIO_F) details."""
    n = len(ids)
    own = rng.random((3, n))  # each person's GP, pharmacy and laboratory
    ald_from = np.full(n, NEVER, dtype=np.int64)
    np.minimum.at(ald_from, history.ald["person"], history.ald["start"])
    adult_fee = (~ids.cmu).astype(np.float64) * 200  # participation forfaitaire, cents

    visits, pharmacy, labs = care.consultations, care.dispensings, care.lab_visits
    v_person, v_date, v_kind = visits["person"], visits["date"], visits["kind"]
    gp = v_kind == GP
    fee = gp_base_fee(v_date)
    nature = np.where(gp, np.where(fee == 23.0, 0, 1), 2)  # index into NATURES
    base = np.where(gp, fee, 30.0) * 100
    excess = np.where(
        ~gp & (rng.random(len(v_kind)) < 0.3),
        np.round(rng.uniform(5, 40, len(v_kind)) * 2) * 50,
        0.0,
    )
    covered = ids.cmu[v_person] | (ald_from[v_person] <= v_date)
    visit_refund = np.maximum(np.where(covered, 1.0, 0.7) * base - adult_fee[v_person], 0)
    pfs = pc.if_else(
        pa.array(gp),
        _professionals(ids, providers, KIND_GP, v_person, own[0][v_person]),
        _professionals(ids, providers, KIND_SPECIALIST, v_person, rng.random(len(v_kind))),
    )
    group_hospital = _establishment(
        ids.departement[v_person], KIND_PUBLIC_HOSPITAL, np.zeros(len(v_person), dtype=np.int64)
    )
    etb = pc.if_else(pa.array(v_kind == CLINIC), group_hospital, pa.scalar(None, pa.string()))

    p_person, p_date, drug = pharmacy["person"], pharmacy["date"], pharmacy["drug"]
    boxes = pharmacy["boxes"]
    monthly = np.array([price for _, _, price in vocab.DRUGS])[drug] * 100
    chronic = np.isin(drug, CHRONIC)
    unit = np.round(np.where(chronic & (boxes == 1), monthly * THREE_MONTH_BOX_PRICE, monthly))
    is_diabetes = np.isin(drug, [vocab.DRUG_INDEX[name] for name in vocab.DIABETES_DRUGS])
    full = is_diabetes & (ald_from[p_person] <= p_date)
    p_nature = np.where(full, 3, 4)
    p_rate = np.where(full | ids.cmu[p_person], 1.0, 0.65)
    pharmacy_index = _pool_index(ids, providers, KIND_PHARMACY, p_person, own[1])
    shop = numbers(ids.departement[p_person], KIND_PHARMACY, pharmacy_index, 6)
    pharmacist = numbers(ids.departement[p_person], KIND_PHARMACY, pharmacy_index, 5)

    l_person, l_date, panel = labs["person"], labs["date"], labs["panel"]
    coefficients = np.array([vocab.vocabulary().nabm_coefficients[code] for code in ACTS])
    bits = (panel[:, None] >> np.arange(len(ACTS))) & 1
    lab_cost = np.round(bits @ coefficients * vocab.B_LETTER_EUROS * 100)
    l_rate = np.where(ids.cmu[l_person] | (ald_from[l_person] <= l_date), 1.0, 0.6)
    laboratory_index = _pool_index(ids, providers, KIND_LABORATORY, l_person, own[2])
    laboratory = numbers(ids.departement[l_person], KIND_LABORATORY, laboratory_index, 6)
    lab_pfs = numbers(ids.departement[l_person], KIND_LABORATORY, laboratory_index, 5)

    # Lines in order: consultations, pharmacy, biology; the key numbers them.
    sizes = (len(v_person), len(p_person), len(l_person))
    person = np.concatenate([v_person, p_person, l_person])
    date = np.concatenate([v_date, p_date, l_date])
    key = chunk * KEY_STRIDE + 1 + np.arange(len(person), dtype=np.int64)
    columns = {
        "CLE_DCI_JNT": pa.array(key),
        "BEN_NIR": nir.take(pa.array(person)),
        "BEN_RNG_GEM": pa.array(np.ones(len(person), dtype=np.int64)),
        "EXE_SOI_DTD": _dates(date),
        "EXE_SOI_DTF": _dates(date),
        "PRS_NAT_REF": _pick(NATURES, np.concatenate([nature, p_nature, np.full(sizes[2], 5)])),
        "PSE_SPE_COD": pa.concat_arrays(
            [_strings(visits["specialty"]), pa.nulls(sizes[1] + sizes[2], pa.string())]
        ),
        "PFS_EXE_NUM": pa.concat_arrays([pfs, pharmacist, lab_pfs]),
        "ETB_EXE_FIN": pa.concat_arrays([etb, shop, laboratory]),
        "PRS_ACT_QTE": pa.array(
            np.concatenate(
                [np.ones(sizes[0], dtype=np.int64), boxes, bits.sum(axis=1).astype(np.int64)]
            )
        ),
        "PRS_PAI_MNT": _euros(np.concatenate([base + excess, unit * boxes, lab_cost])),
        "BSE_REM_MNT": _euros(
            np.concatenate([visit_refund, p_rate * unit * boxes, l_rate * lab_cost])
        ),
    }
    prs = TableData(
        tables.ER_PRS_F,
        "ER_PRS_F",
        _table(tables.ER_PRS_F, columns),
        person,
        leaf=np.repeat([True, False, False], sizes),
        event=True,
    )

    vocabulary = vocab.vocabulary()
    atc = [code for _, code, _ in vocab.DRUGS]
    pha = _table(
        tables.ER_PHA_F,
        {
            "CLE_DCI_JNT": pa.array(key[sizes[0] : sizes[0] + sizes[1]]),
            "PHA_PRS_C13": _pick([vocabulary.cip13[code] for code in atc], drug),
            "PHA_ATC_C07": _pick(atc, drug),
            "PHA_ACT_QSN": pa.array(boxes.astype(np.int64)),
            "PHA_ACT_PRU": _euros(unit),
        },
    )
    line, act = np.nonzero(bits)
    bio = _table(
        tables.ER_BIO_F,
        {
            "CLE_DCI_JNT": pa.array(key[sizes[0] + sizes[1] :][line]),
            "BIO_PRS_IDE": _pick(ACTS, act),
            "BIO_ACT_QSN": pa.array(np.ones(len(line), dtype=np.int64)),
        },
    )
    return [
        prs,
        TableData(
            tables.ER_PHA_F, "ER_PHA_F", pha, p_person, np.ones(sizes[1], dtype=bool), event=False
        ),
        TableData(
            tables.ER_BIO_F,
            "ER_BIO_F",
            bio,
            l_person[line],
            np.ones(len(line), dtype=bool),
            event=False,
        ),
    ]


def _pool_index(
    ids: Identities, providers: Providers, kind: int, person: Array, draw: Array
) -> Array:
    pool = providers.pool(PER_CAPITA[kind])[ids.departement[person]]
    return np.asarray(np.floor(draw[person] * pool), dtype=np.int64)


def hospital(
    ids: Identities, stays: dict[str, Array], nir: pa.Array, years: list[int], chunk: int
) -> list[TableData]:
    """T_MCOyyB/C/D, one set per year of exit."""
    geo = frame()
    person = stays["person"]
    size = len(person)
    eta = pa.array(stays["eta_num"], pa.string())
    rsa = _padded(chunk * RSA_STRIDE + 1 + np.arange(size), 10)
    commune = ids.commune[person]
    empty = pa.scalar(None, pa.string())
    b_columns = {
        "ETA_NUM": eta,
        "RSA_NUM": rsa,
        "DGN_PAL": pa.array(stays["dp"]),
        "DGN_REL": pc.if_else(pa.array(stays["dr"] != ""), pa.array(stays["dr"]), empty),
        "SEJ_NBJ": pa.array(stays["days"].astype(np.int64)),
        "ENT_MOD": pa.array(stays["entree"]),
        "SOR_MOD": pa.array(stays["sortie"]),
        "GRG_GHM": pa.array(stays["ghm"]),
        "BDI_COD": geo.postal_code.take(pa.array(commune)),
        "BDI_DEP": pa.array(geo.departements).take(pa.array(ids.departement[person])),
        "AGE_ANN": pa.array(stays["age"].astype(np.int64)),
        "COD_SEX": _strings(ids.sex[person]),
        "SOR_ANN": _strings(year_of(stays["exit"])),
        "SOR_MOI": _padded(month_of(stays["exit"]), 2),
    }
    b = _table(tables.T_MCO_B, b_columns)
    c = _table(
        tables.T_MCO_C,
        {
            "ETA_NUM": eta,
            "RSA_NUM": rsa,
            "BEN_NIR": nir.take(pa.array(person)),
            "BEN_RNG_GEM": pa.array(np.ones(size, dtype=np.int64)),
            "EXE_SOI_DTD": _dates(stays["entry"]),
            "EXE_SOI_DTF": _dates(stays["exit"]),
        },
    )
    associated = stays["associated"]
    stay, slot = np.nonzero(associated != "")
    d = _table(
        tables.T_MCO_D,
        {
            "ETA_NUM": eta.take(pa.array(stay)),
            "RSA_NUM": rsa.take(pa.array(stay)),
            "DGN_ASS_NUM": pa.array(slot.astype(np.int64) + 1),
            "ASS_DGN": pa.array(associated[stay, slot]),
        },
    )
    exit_year = year_of(stays["exit"])
    out: list[TableData] = []
    for year in years:
        in_year = exit_year == year
        d_rows = in_year[stay]
        parts = (
            (tables.T_MCO_B, b, in_year, person, False),
            (tables.T_MCO_C, c, in_year, person, False),
            (tables.T_MCO_D, d, d_rows, person[stay], True),
        )
        for spec, table, mask, owner, leaf in parts:
            rows = np.flatnonzero(mask)
            out.append(
                TableData(
                    spec,
                    spec.file_table(year),
                    table.take(pa.array(rows)),
                    owner[rows],
                    np.full(len(rows), leaf),
                    event=False,
                )
            )
    return out


def long_term_conditions(ids: Identities, history: History, nir: pa.Array) -> TableData:
    ald = history.ald
    order = np.lexsort((ald["number"], ald["person"]))
    person = ald["person"][order]
    size = len(person)
    table = _table(
        tables.IR_IMB_R,
        {
            "BEN_NIR": nir.take(pa.array(person)),
            "BEN_RNG_GEM": pa.array(np.ones(size, dtype=np.int64)),
            "IMB_ALD_NUM": _strings(ald["number"][order]),
            "IMB_ALD_DTD": _dates(ald["start"][order]),
            "IMB_ALD_DTF": pa.nulls(size, pa.date32()),
            "MED_MTF_COD": pa.array(ald["icd"][order].astype(str)),
            "IMB_ETM_NAT": pa.array(np.full(size, "41")),
        },
    )
    return TableData(
        tables.IR_IMB_R, "IR_IMB_R", table, person, np.ones(size, dtype=bool), event=True
    )


def deaths(ids: Identities, history: History, nir: pa.Array, end: int) -> TableData:
    geo = frame()
    person = np.flatnonzero(history.death <= end)
    size = len(person)
    table = _table(
        tables.KI_CCI_R,
        {
            "BEN_NIR": nir.take(pa.array(person)),
            "BEN_RNG_GEM": pa.array(np.ones(size, dtype=np.int64)),
            "BEN_DCD_DTE": _dates(history.death[person]),
            "DCD_CIM_COD": pa.array(history.death_cause[person].astype(str)),
            "DCD_DPT_COD": pa.array(geo.departements).take(pa.array(ids.departement[person])),
            "DCD_COM_COD": geo.code.take(pa.array(ids.commune[person])),
        },
    )
    return TableData(
        tables.KI_CCI_R, "KI_CCI_R", table, person, np.ones(size, dtype=bool), event=True
    )
