"""Pseudonymization: keyed HMAC hub pseudonyms computed in SQL, versioned schemes, the NIR."""

from havre.pseudo.hmac_sql import hmac_hex, hmac_sql, pads_table
from havre.pseudo.scheme import HUB_KEY, OPTOUT_KEY, PseudonymScheme, SchemeId
from havre.pseudo.service import Pseudonymizer

__all__ = [
    "HUB_KEY",
    "OPTOUT_KEY",
    "PseudonymScheme",
    "Pseudonymizer",
    "SchemeId",
    "hmac_hex",
    "hmac_sql",
    "pads_table",
]
