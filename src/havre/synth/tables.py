"""The SNDS-shaped files of a delivery: columns in contract order (docs/sources.md), their
Parquet types, and the roles the dirty-record generator needs (which fields are required,
dated, coded, numeric).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

STRING, DATE, AMOUNT, COUNT = "string", "date", "amount", "count"
ARROW_TYPES = {STRING: pa.string(), DATE: pa.date32(), AMOUNT: pa.float64(), COUNT: pa.int64()}


@dataclass(frozen=True)
class TableSpec:
    name: str  # IR_BEN_R, T_MCOaaB ...
    columns: tuple[tuple[str, str], ...]
    required: tuple[str, ...]
    nir: str | None = None
    dates: tuple[str, ...] = ()
    codes: tuple[tuple[str, str], ...] = ()  # (column, vocabulary)
    per_year: bool = False

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def numeric(self) -> list[str]:
        return [name for name, kind in self.columns if kind in (AMOUNT, COUNT)]

    def schema(self) -> pa.Schema:
        return pa.schema([(name, ARROW_TYPES[kind]) for name, kind in self.columns])

    def file_table(self, year: int | None = None) -> str:
        """The table name of a file: ``T_MCO19B`` for ``T_MCOaaB`` in 2019."""
        if not self.per_year or year is None:
            return self.name
        return self.name.replace("aa", f"{year % 100:02d}")


IR_BEN_R = TableSpec(
    "IR_BEN_R",
    (
        ("BEN_NIR", STRING),
        ("BEN_RNG_GEM", COUNT),
        ("BEN_NAI_ANN", STRING),
        ("BEN_NAI_MOI", STRING),
        ("BEN_SEX_COD", STRING),
        ("BEN_RES_DPT", STRING),
        ("BEN_RES_COM", STRING),
        ("BEN_DCD_DTE", DATE),
        ("BEN_CMU_TOP", STRING),
        ("ORG_AFF_BEN", STRING),
        ("BEN_DTE_INS", DATE),
    ),
    required=("BEN_NIR", "BEN_RNG_GEM", "BEN_NAI_ANN", "BEN_SEX_COD"),
    nir="BEN_NIR",
    dates=("BEN_DTE_INS",),
)
ER_PRS_F = TableSpec(
    "ER_PRS_F",
    (
        ("CLE_DCI_JNT", COUNT),
        ("BEN_NIR", STRING),
        ("BEN_RNG_GEM", COUNT),
        ("EXE_SOI_DTD", DATE),
        ("EXE_SOI_DTF", DATE),
        ("PRS_NAT_REF", STRING),
        ("PSE_SPE_COD", STRING),
        ("PFS_EXE_NUM", STRING),
        ("ETB_EXE_FIN", STRING),
        ("PRS_ACT_QTE", COUNT),
        ("PRS_PAI_MNT", AMOUNT),
        ("BSE_REM_MNT", AMOUNT),
    ),
    required=("CLE_DCI_JNT", "BEN_NIR", "EXE_SOI_DTD", "PRS_NAT_REF"),
    nir="BEN_NIR",
    dates=("EXE_SOI_DTD",),
    codes=(("PRS_NAT_REF", "prs_nat"),),
)
ER_PHA_F = TableSpec(
    "ER_PHA_F",
    (
        ("CLE_DCI_JNT", COUNT),
        ("PHA_PRS_C13", STRING),
        ("PHA_ATC_C07", STRING),
        ("PHA_ACT_QSN", COUNT),
        ("PHA_ACT_PRU", AMOUNT),
    ),
    required=("CLE_DCI_JNT", "PHA_PRS_C13"),
    codes=(("PHA_ATC_C07", "atc"),),
)
ER_BIO_F = TableSpec(
    "ER_BIO_F",
    (("CLE_DCI_JNT", COUNT), ("BIO_PRS_IDE", STRING), ("BIO_ACT_QSN", COUNT)),
    required=("CLE_DCI_JNT", "BIO_PRS_IDE"),
    codes=(("BIO_PRS_IDE", "nabm"),),
)
T_MCO_B = TableSpec(
    "T_MCOaaB",
    (
        ("ETA_NUM", STRING),
        ("RSA_NUM", STRING),
        ("DGN_PAL", STRING),
        ("DGN_REL", STRING),
        ("SEJ_NBJ", COUNT),
        ("ENT_MOD", STRING),
        ("SOR_MOD", STRING),
        ("GRG_GHM", STRING),
        ("BDI_COD", STRING),
        ("BDI_DEP", STRING),
        ("AGE_ANN", COUNT),
        ("COD_SEX", STRING),
        ("SOR_ANN", STRING),
        ("SOR_MOI", STRING),
    ),
    required=("ETA_NUM", "RSA_NUM", "DGN_PAL"),
    codes=(("DGN_PAL", "icd10"),),
    per_year=True,
)
T_MCO_C = TableSpec(
    "T_MCOaaC",
    (
        ("ETA_NUM", STRING),
        ("RSA_NUM", STRING),
        ("BEN_NIR", STRING),
        ("BEN_RNG_GEM", COUNT),
        ("EXE_SOI_DTD", DATE),
        ("EXE_SOI_DTF", DATE),
    ),
    required=("ETA_NUM", "RSA_NUM", "BEN_NIR", "EXE_SOI_DTD"),
    nir="BEN_NIR",
    dates=("EXE_SOI_DTD",),
    per_year=True,
)
T_MCO_D = TableSpec(
    "T_MCOaaD",
    (("ETA_NUM", STRING), ("RSA_NUM", STRING), ("DGN_ASS_NUM", COUNT), ("ASS_DGN", STRING)),
    required=("ETA_NUM", "RSA_NUM", "ASS_DGN"),
    codes=(("ASS_DGN", "icd10"),),
    per_year=True,
)
IR_IMB_R = TableSpec(
    "IR_IMB_R",
    (
        ("BEN_NIR", STRING),
        ("BEN_RNG_GEM", COUNT),
        ("IMB_ALD_NUM", STRING),
        ("IMB_ALD_DTD", DATE),
        ("IMB_ALD_DTF", DATE),
        ("MED_MTF_COD", STRING),
        ("IMB_ETM_NAT", STRING),
    ),
    required=("BEN_NIR", "IMB_ALD_NUM", "IMB_ALD_DTD"),
    nir="BEN_NIR",
    dates=("IMB_ALD_DTD",),
    codes=(("MED_MTF_COD", "icd10"),),
)
KI_CCI_R = TableSpec(
    "KI_CCI_R",
    (
        ("BEN_NIR", STRING),
        ("BEN_RNG_GEM", COUNT),
        ("BEN_DCD_DTE", DATE),
        ("DCD_CIM_COD", STRING),
        ("DCD_DPT_COD", STRING),
        ("DCD_COM_COD", STRING),
    ),
    required=("BEN_NIR", "BEN_DCD_DTE"),
    nir="BEN_NIR",
    dates=("BEN_DCD_DTE",),
    codes=(("DCD_CIM_COD", "icd10"),),
)

SNDS_TABLES = (
    IR_BEN_R,
    ER_PRS_F,
    ER_PHA_F,
    ER_BIO_F,
    T_MCO_B,
    T_MCO_C,
    T_MCO_D,
    IR_IMB_R,
    KI_CCI_R,
)
OPTOUT_COLUMNS = ("NIR", "DATE_OPPOSITION")
