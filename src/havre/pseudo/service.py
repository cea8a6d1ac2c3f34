"""The pseudonymizer: hands out schemes and their key material to the data paths."""

from __future__ import annotations

import pyarrow as pa

from havre.keys import KeyPurpose, KeyStore
from havre.pseudo.hmac_sql import hmac_hex, pads_table
from havre.pseudo.scheme import HUB_KEY, OPTOUT_KEY, PseudonymScheme, SchemeId

_KEY_OF = {
    SchemeId.NIR: HUB_KEY,
    SchemeId.OMOP: HUB_KEY,
    SchemeId.OPTOUT_NIR: OPTOUT_KEY,
    SchemeId.OPTOUT_OMOP: OPTOUT_KEY,
}


class Pseudonymizer:
    """Keys come from the key store; the hub key exists from ``havre init``."""

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys

    def scheme(self, scheme_id: SchemeId, key_version: int | None = None) -> PseudonymScheme:
        """The scheme under the key's active version (or the given one)."""
        name = _KEY_OF[scheme_id]
        if key_version is None:
            self._keys.ensure(name, KeyPurpose.PSEUDONYMIZATION)
        _, version = self._keys.data_key(name, key_version)
        return PseudonymScheme(scheme_id, name, version)

    def pads(self, scheme: PseudonymScheme) -> pa.Table:
        """The padded keys ``hmac_sql`` needs, for registering in an engine."""
        key, _ = self._keys.data_key(scheme.key_name, scheme.key_version)
        return pads_table(key)

    def pseudonym(self, scheme: PseudonymScheme, message: str) -> str:
        """One pseudonym, computed in Python (for single values: an opt-out typed by hand)."""
        key, _ = self._keys.data_key(scheme.key_name, scheme.key_version)
        return hmac_hex(key, message)
