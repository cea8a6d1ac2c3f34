"""Key store: named, versioned data keys wrapped by a master key (local file/passphrase or
PKCS#11 token); envelope encryption; Parquet modular-encryption key management."""

from havre.keys.base import KeyInfo, KeyPurpose, KeyState, KeyStore, MasterKey
from havre.keys.factory import open_key_store

__all__ = ["KeyInfo", "KeyPurpose", "KeyState", "KeyStore", "MasterKey", "open_key_store"]
