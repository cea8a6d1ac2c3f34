"""Open the key store the settings name."""

from __future__ import annotations

import base64
from pathlib import Path

from havre.core.config import Settings
from havre.core.errors import KeyStoreError
from havre.keys.base import KeyStore, MasterKey
from havre.keys.local import LocalMasterKey

DEFAULT_MASTER_KEY_FILE = "master.key"


def keys_directory(settings: Settings) -> Path:
    return settings.home / "keys"


def open_key_store(settings: Settings, *, create: bool = False) -> tuple[KeyStore, list[str]]:
    """Open (or with ``create``, make) the key store. Returns it with notes for the user."""
    directory = keys_directory(settings)
    keyring = directory / "keyring.json"
    notes: list[str] = []
    master: MasterKey
    metadata: dict[str, str] = {}
    if settings.key_store == "pkcs11":
        from havre.keys.pkcs11 import Pkcs11MasterKey

        if settings.pkcs11_pin is None:
            raise KeyStoreError("The PKCS#11 key store needs HAVRE_PKCS11_PIN.")
        master = Pkcs11MasterKey(
            settings.pkcs11_module,
            settings.pkcs11_token_label,
            settings.pkcs11_pin.get_secret_value(),
            settings.pkcs11_key_label,
        )
        metadata = {"source": "pkcs11", "token": settings.pkcs11_token_label}
    else:
        existing = _existing_master(keyring)
        if settings.master_passphrase is not None:
            if existing.get("source") == "file":
                raise KeyStoreError(
                    "This hub's keyring was created with a master key file, but "
                    "HAVRE_MASTER_PASSPHRASE is set.",
                    hint="unset HAVRE_MASTER_PASSPHRASE",
                )
            salt_text = existing.get("salt")
            salt = base64.b64decode(salt_text) if salt_text else LocalMasterKey.new_salt()
            master = LocalMasterKey.from_passphrase(
                settings.master_passphrase.get_secret_value(), salt
            )
            metadata = {"source": "passphrase", "kdf": "argon2id", "salt": _b64(salt)}
        else:
            if existing.get("source") == "passphrase":
                raise KeyStoreError(
                    "This hub's keyring is protected by a passphrase.",
                    hint="set HAVRE_MASTER_PASSPHRASE",
                )
            key_file = settings.master_key_file or directory / DEFAULT_MASTER_KEY_FILE
            if not key_file.exists() and create and not keyring.exists():
                master = LocalMasterKey.create_key_file(key_file)
                notes.append(
                    f"Created a random master key file {key_file} (mode 0600). Back it up "
                    "apart from the hub: without it nothing in the hub can be decrypted."
                )
            else:
                master = LocalMasterKey.from_key_file(key_file)
            metadata = {"source": "file"}
    store = KeyStore(directory, master)
    if keyring.exists():
        store.verify_master()
    elif create:
        store.initialize(metadata)
    else:
        raise KeyStoreError(f"No keyring at {keyring}.", hint="run 'havre init'")
    return store, notes


def _existing_master(keyring: Path) -> dict[str, str]:
    if not keyring.exists():
        return {}
    import json

    try:
        document = json.loads(keyring.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise KeyStoreError(f"Cannot read keyring {keyring}: {exc}") from None
    master = document.get("master", {})
    return {k: v for k, v in master.items() if isinstance(v, str)}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
