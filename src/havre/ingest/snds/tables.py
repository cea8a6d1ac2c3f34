"""The SNDS-shaped claims tables of a delivery (docs/sources.md) and what valid values are."""

from __future__ import annotations

import re

from havre.ingest.fields import Field, Kind
from havre.ingest.reasons import Reason

FINESS = r"^[0-9][0-9AB][0-9]{7}$"
COMMUNE = r"^[0-9][0-9AB][0-9]{3}$"
YEAR_MAX = 2100  # also bounded by the ingest's date below

NIR = Field("BEN_NIR", Kind.NIR, required=True, identifier=True)
# a claim without a rank of birth is about rank 1; a beneficiary must state it
RANK = Field("BEN_RNG_GEM", Kind.INTEGER, min_value=1, max_value=99, default="1")
BENEFICIARY_RANK = Field("BEN_RNG_GEM", Kind.INTEGER, required=True, min_value=1, max_value=99)
BORN = (
    'TRY_CAST({col} AS DATE) >= make_date(TRY_CAST("BEN_NAI_ANN" AS INTEGER), '
    'TRY_CAST("BEN_NAI_MOI" AS INTEGER), 1)'
)


def _ben() -> tuple[Field, ...]:
    return (
        NIR,
        BENEFICIARY_RANK,
        Field(
            "BEN_NAI_ANN",
            Kind.INTEGER,
            required=True,
            min_value=1900,
            max_value=YEAR_MAX,
            range_reason=Reason.DATE_OUT_OF_RANGE,
        ),
        Field(
            "BEN_NAI_MOI",
            Kind.INTEGER,
            required=True,
            min_value=1,
            max_value=12,
            range_reason=Reason.BAD_DATE,
        ),
        Field("BEN_SEX_COD", required=True, values=("1", "2")),
        Field("BEN_RES_DPT", vocabulary="voc_departement"),
        Field("BEN_RES_COM", pattern=COMMUNE, vocabulary="voc_commune"),
        Field("BEN_DCD_DTE", Kind.DATE),
        Field("BEN_CMU_TOP", values=("0", "1")),
        Field("ORG_AFF_BEN", pattern=r"^[0-9A-Z]{9}$"),
        Field("BEN_DTE_INS", Kind.DATE, check=(BORN, Reason.DATE_OUT_OF_RANGE)),
    )


def _prs() -> tuple[Field, ...]:
    return (
        Field("CLE_DCI_JNT", Kind.INTEGER, required=True),
        NIR,
        RANK,
        Field("EXE_SOI_DTD", Kind.DATE, required=True),
        Field("EXE_SOI_DTF", Kind.DATE, after="EXE_SOI_DTD"),
        Field("PRS_NAT_REF", required=True, vocabulary="voc_prs_nat"),
        Field("PSE_SPE_COD", Kind.INTEGER),
        Field("PFS_EXE_NUM", pattern=r"^[0-9]{8}$"),
        Field("ETB_EXE_FIN", pattern=FINESS),
        Field("PRS_ACT_QTE", Kind.INTEGER),
        Field("PRS_PAI_MNT", Kind.DECIMAL),
        Field("BSE_REM_MNT", Kind.DECIMAL),
    )


def _pha() -> tuple[Field, ...]:
    return (
        Field("CLE_DCI_JNT", Kind.INTEGER, required=True),
        Field("PHA_PRS_C13", required=True, pattern=r"^[0-9]{13}$"),
        Field("PHA_ATC_C07", required=True, vocabulary="voc_atc"),
        Field("PHA_ACT_QSN", Kind.INTEGER),
        Field("PHA_ACT_PRU", Kind.DECIMAL),
    )


def _bio() -> tuple[Field, ...]:
    return (
        Field("CLE_DCI_JNT", Kind.INTEGER, required=True),
        Field("BIO_PRS_IDE", required=True, vocabulary="voc_nabm"),
        Field("BIO_ACT_QSN", Kind.INTEGER),
    )


STAY_KEY = (
    Field("ETA_NUM", required=True, pattern=FINESS),
    Field("RSA_NUM", required=True, pattern=r"^[0-9A-Z]{1,10}$"),
)


def _mco_b() -> tuple[Field, ...]:
    return (
        *STAY_KEY,
        Field("DGN_PAL", required=True, vocabulary="voc_cim10"),
        Field("DGN_REL", vocabulary="voc_cim10"),
        Field("SEJ_NBJ", Kind.INTEGER, min_value=0, max_value=36600),
        Field("ENT_MOD"),
        Field("SOR_MOD"),
        Field("GRG_GHM", pattern=r"^[0-9A-Z]{6}$"),
        Field("BDI_COD", pattern=r"^[0-9][0-9AB][0-9]{3}$"),
        Field("BDI_DEP", vocabulary="voc_departement"),
        Field("AGE_ANN", Kind.INTEGER, min_value=0, max_value=130),
        Field("COD_SEX", values=("1", "2")),
        Field("SOR_ANN", Kind.INTEGER, min_value=1900, max_value=YEAR_MAX),
        Field("SOR_MOI", Kind.INTEGER, min_value=1, max_value=12, range_reason=Reason.BAD_DATE),
    )


def _mco_c() -> tuple[Field, ...]:
    return (
        *STAY_KEY,
        NIR,
        RANK,
        Field("EXE_SOI_DTD", Kind.DATE, required=True),
        Field("EXE_SOI_DTF", Kind.DATE, required=True, after="EXE_SOI_DTD"),
    )


def _mco_d() -> tuple[Field, ...]:
    return (
        *STAY_KEY,
        Field("DGN_ASS_NUM", Kind.INTEGER),
        Field("ASS_DGN", required=True, vocabulary="voc_cim10"),
    )


def _imb() -> tuple[Field, ...]:
    return (
        NIR,
        RANK,
        Field("IMB_ALD_NUM", required=True, vocabulary="voc_ald"),
        Field("IMB_ALD_DTD", Kind.DATE, required=True),
        Field("IMB_ALD_DTF", Kind.DATE, after="IMB_ALD_DTD"),
        Field("MED_MTF_COD", vocabulary="voc_cim10"),
        Field("IMB_ETM_NAT"),
    )


def _cci() -> tuple[Field, ...]:
    return (
        NIR,
        RANK,
        Field("BEN_DCD_DTE", Kind.DATE, required=True),
        Field("DCD_CIM_COD", vocabulary="voc_cim10"),
        Field("DCD_DPT_COD", vocabulary="voc_departement"),
        Field("DCD_COM_COD", pattern=COMMUNE),
    )


FIXED = {
    "IR_BEN_R": _ben(),
    "ER_PRS_F": _prs(),
    "ER_PHA_F": _pha(),
    "ER_BIO_F": _bio(),
    "IR_IMB_R": _imb(),
    "KI_CCI_R": _cci(),
}
# What the mapping (snds/mapping.py) reads of the large tables: their other fields are
# checked and dropped while staging. Smaller tables keep every field.
KEEP = {
    "ER_PRS_F": frozenset(
        {"CLE_DCI_JNT", "EXE_SOI_DTD", "EXE_SOI_DTF", "PRS_NAT_REF", "PSE_SPE_COD", "ETB_EXE_FIN"}
    ),
    "ER_PHA_F": frozenset({"PHA_PRS_C13", "PHA_ATC_C07", "PHA_ACT_QSN"}),
    "ER_BIO_F": frozenset({"BIO_PRS_IDE"}),
}
MCO = re.compile(r"T_MCO(\d\d)([BCD])")
_MCO_FIELDS = {"B": _mco_b(), "C": _mco_c(), "D": _mco_d()}


def table_fields(table: str) -> tuple[Field, ...]:
    if table in FIXED:
        return FIXED[table]
    match = MCO.fullmatch(table)
    if match is None:
        raise KeyError(table)
    return _MCO_FIELDS[match.group(2)]


def is_known(table: str) -> bool:
    return table in FIXED or MCO.fullmatch(table) is not None


def mco_years(tables: set[str]) -> list[str]:
    return sorted({m.group(1) for t in tables if (m := MCO.fullmatch(t))})
