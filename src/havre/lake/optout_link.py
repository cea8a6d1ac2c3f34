"""The link from a data version to the opt-out register, kept beside its OMOP tables.

For each person of the version, one row per opt-out key version: ``person_id`` (the lake's),
``scheme`` (the register's scheme id), ``key_version`` and ``subject_key`` — the keyed hash
of the person's opt-out identity (NIR13, or the OMOP source person) under that opt-out key.
It holds no identifier: the subject key is what the register itself stores. Workspace
extraction joins it to the register as it is then, so a person who objects after the ingest
is still left out. It is internal: no permit may name it.
"""

from __future__ import annotations

import pyarrow as pa

OPTOUT_LINK = "optout_link"
OPTOUT_LINK_SCHEMA = pa.schema(
    [
        ("person_id", pa.int64()),
        ("scheme", pa.string()),
        ("key_version", pa.int32()),
        ("subject_key", pa.string()),
    ]
)
