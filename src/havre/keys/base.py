"""The key store: named, versioned data keys, each wrapped by a master key that never leaves
its backend (a local key file or passphrase, or a PKCS#11 token).

Data keys are 256-bit random values. They are stored only wrapped, in ``keys/keyring.json``
in the hub's home. Destroying a key version deletes its wrapped copy: whatever was encrypted
under it can no longer be decrypted (crypto-shredding).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import json
import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from havre.core.clock import isoformat, utc_now
from havre.core.errors import KeyStoreError, NotFoundError, UsageError

KEYRING_FORMAT = 1
DATA_KEY_BYTES = 32


class KeyPurpose(StrEnum):
    PSEUDONYMIZATION = "pseudonymization"
    DATASET = "dataset"
    WORKSPACE = "workspace"
    AUDIT_SIGNING = "audit_signing"
    GENERAL = "general"


class KeyState(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"  # still decrypts what it encrypted; no longer used for new data
    DESTROYED = "destroyed"


@dataclass(frozen=True)
class KeyVersionInfo:
    version: int
    state: KeyState
    created_at: str
    destroyed_at: str | None


@dataclass(frozen=True)
class KeyInfo:
    name: str
    purpose: KeyPurpose
    versions: tuple[KeyVersionInfo, ...]

    @property
    def active_version(self) -> int | None:
        for info in reversed(self.versions):
            if info.state is KeyState.ACTIVE:
                return info.version
        return None


class MasterKey(ABC):
    """Wraps and unwraps data keys. The master key itself is never exported."""

    backend_name: str

    @abstractmethod
    def wrap(self, plaintext: bytes, aad: bytes) -> bytes: ...

    @abstractmethod
    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes: ...

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend_name}

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


_CHECK_PLAINTEXT = b"havre-master-key-check-v1"


class KeyStore:
    """Named, versioned data keys over a master-key backend."""

    def __init__(self, directory: Path, master: MasterKey) -> None:
        self.directory = directory
        self.master = master
        self.path = directory / "keyring.json"
        self._cache: dict[tuple[str, int], bytes] = {}
        self._cache_stamp: tuple[int, int, int] | None = None
        # what ``info`` read, under the same stamp: a token check asks it at every request
        self._infos: dict[str, KeyInfo] = {}

    # -- set-up -------------------------------------------------------------------------
    @property
    def backend_name(self) -> str:
        return self.master.backend_name

    def initialize(self, master_metadata: dict[str, Any] | None = None) -> bool:
        """Create the keyring if absent. Returns True when it was created."""
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        with self._locked():
            if self.path.exists():
                self.verify_master()
                return False
            check = self.master.wrap(_CHECK_PLAINTEXT, b"check")
            document = {
                "format": KEYRING_FORMAT,
                "backend": self.master.backend_name,
                "master": {**(master_metadata or {}), "check": _b64(check)},
                "keys": {},
            }
            self._write(document)
            return True

    def verify_master(self) -> None:
        """Fail clearly when the configured master key is not the one the keyring was made with."""
        document = self._read()
        if document.get("backend") != self.master.backend_name:
            raise KeyStoreError(
                f"The keyring at {self.path} was created with the "
                f"'{document.get('backend')}' key store, not '{self.master.backend_name}'.",
                hint="set HAVRE_KEY_STORE to the backend the hub was created with",
            )
        try:
            plain = self.master.unwrap(_unb64(document["master"]["check"]), b"check")
        except Exception:  # any failure to unwrap the check value means: not this master key
            plain = b""
        if plain != _CHECK_PLAINTEXT:
            raise KeyStoreError(
                "The master key does not open this keyring (wrong passphrase, key file or token).",
                hint="check HAVRE_MASTER_PASSPHRASE / HAVRE_MASTER_KEY_FILE / the PKCS#11 token",
            )

    def master_metadata(self) -> dict[str, Any]:
        master: dict[str, Any] = self._read().get("master", {})
        return dict(master)

    # -- keys ----------------------------------------------------------------------------
    def list_keys(self) -> list[KeyInfo]:
        document = self._read()
        return [self._info(name, entry) for name, entry in sorted(document["keys"].items())]

    def info(self, name: str) -> KeyInfo:
        self._drop_stale_cache()
        kept = self._infos.get(name)
        if kept is not None:
            return kept
        document = self._read()
        entry = document["keys"].get(name)
        if entry is None:
            raise NotFoundError(f"No key named '{name}' in the key store.")
        found = self._infos[name] = self._info(name, entry)
        return found

    def exists(self, name: str) -> bool:
        return name in self._read()["keys"]

    def create(self, name: str, purpose: KeyPurpose) -> KeyInfo:
        _check_name(name)
        with self._locked():
            document = self._read()
            if name in document["keys"]:
                raise UsageError(f"A key named '{name}' already exists.")
            document["keys"][name] = {"purpose": purpose.value, "versions": []}
            self._add_version(document, name)
            self._write(document)
            return self._info(name, document["keys"][name])

    def ensure(self, name: str, purpose: KeyPurpose) -> KeyInfo:
        with self._locked():
            document = self._read()
            entry = document["keys"].get(name)
            if entry is not None:
                if entry["purpose"] != purpose.value:
                    raise KeyStoreError(
                        f"Key '{name}' exists with purpose '{entry['purpose']}', "
                        f"not '{purpose.value}'."
                    )
                return self._info(name, entry)
            _check_name(name)
            document["keys"][name] = {"purpose": purpose.value, "versions": []}
            self._add_version(document, name)
            self._write(document)
            return self._info(name, document["keys"][name])

    def rotate(self, name: str) -> KeyInfo:
        """Add a new active version; earlier live versions become retired (still decrypt)."""
        with self._locked():
            document = self._read()
            entry = self._entry(document, name)
            for version in entry["versions"]:
                if version["state"] == KeyState.ACTIVE.value:
                    version["state"] = KeyState.RETIRED.value
            self._add_version(document, name)
            self._write(document)
            self._cache = {k: v for k, v in self._cache.items() if k[0] != name}
            return self._info(name, entry)

    def destroy(self, name: str, version: int | None = None) -> KeyInfo:
        """Crypto-shred one version, or every version when ``version`` is None."""
        with self._locked():
            document = self._read()
            entry = self._entry(document, name)
            found = False
            for item in entry["versions"]:
                if version is None or item["version"] == version:
                    found = True
                    item["state"] = KeyState.DESTROYED.value
                    item["wrapped"] = None
                    item["destroyed_at"] = isoformat(utc_now())
            if not found:
                raise NotFoundError(f"Key '{name}' has no version {version}.")
            self._write(document)
            self._cache = {k: v for k, v in self._cache.items() if k[0] != name}
            return self._info(name, entry)

    def data_key(self, name: str, version: int | None = None) -> tuple[bytes, int]:
        """The unwrapped key bytes of a version (the active one by default)."""
        self._drop_stale_cache()
        if version is not None and (name, version) in self._cache:
            return self._cache[(name, version)], version
        document = self._read()
        entry = self._entry(document, name)
        item = self._pick_version(name, entry, version)
        if item["state"] == KeyState.DESTROYED.value or not item.get("wrapped"):
            raise KeyStoreError(
                f"Key '{name}' version {item['version']} was destroyed; "
                "what it protected can no longer be read."
            )
        material = self.master.unwrap(_unb64(item["wrapped"]), _aad(name, item["version"]))
        self._cache[(name, item["version"])] = material
        return material, int(item["version"])

    def signing_key(self, name: str, version: int | None = None) -> tuple[Ed25519PrivateKey, int]:
        """An Ed25519 key whose 32-byte seed is the data key."""
        seed, used = self.data_key(name, version)
        return Ed25519PrivateKey.from_private_bytes(seed), used

    def forget_cache(self) -> None:
        self._cache.clear()
        self._infos.clear()

    def _drop_stale_cache(self) -> None:
        # Another process may have rotated or destroyed a key (e.g. a project closed from the
        # CLI while the web server runs): a cached key must not outlive its destruction.
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self.forget_cache()
            return
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if stamp != self._cache_stamp:
            self.forget_cache()
            self._cache_stamp = stamp

    def describe(self) -> dict[str, Any]:
        return {**self.master.describe(), "keyring": str(self.path)}

    def close(self) -> None:
        self.forget_cache()
        self.master.close()

    # -- internals -------------------------------------------------------------------------
    def _add_version(self, document: dict[str, Any], name: str) -> None:
        entry = document["keys"][name]
        number = 1 + max((v["version"] for v in entry["versions"]), default=0)
        material = secrets.token_bytes(DATA_KEY_BYTES)
        wrapped = self.master.wrap(material, _aad(name, number))
        entry["versions"].append(
            {
                "version": number,
                "state": KeyState.ACTIVE.value,
                "created_at": isoformat(utc_now()),
                "destroyed_at": None,
                "wrapped": _b64(wrapped),
            }
        )

    @staticmethod
    def _entry(document: dict[str, Any], name: str) -> dict[str, Any]:
        entry: dict[str, Any] | None = document["keys"].get(name)
        if entry is None:
            raise NotFoundError(f"No key named '{name}' in the key store.")
        return entry

    @staticmethod
    def _pick_version(name: str, entry: dict[str, Any], version: int | None) -> dict[str, Any]:
        versions = entry["versions"]
        if version is None:
            for item in reversed(versions):
                if item["state"] == KeyState.ACTIVE.value:
                    return dict(item)
            raise KeyStoreError(f"Key '{name}' has no active version (destroyed).")
        for item in versions:
            if item["version"] == version:
                return dict(item)
        raise NotFoundError(f"Key '{name}' has no version {version}.")

    @staticmethod
    def _info(name: str, entry: dict[str, Any]) -> KeyInfo:
        return KeyInfo(
            name=name,
            purpose=KeyPurpose(entry["purpose"]),
            versions=tuple(
                KeyVersionInfo(
                    version=v["version"],
                    state=KeyState(v["state"]),
                    created_at=v["created_at"],
                    destroyed_at=v.get("destroyed_at"),
                )
                for v in entry["versions"]
            ),
        )

    def _read(self) -> dict[str, Any]:
        try:
            with self.path.open("r", encoding="utf-8") as handle:
                document: dict[str, Any] = json.load(handle)
        except FileNotFoundError:
            raise KeyStoreError(
                f"No keyring at {self.path}.", hint="run 'havre init' to create the hub"
            ) from None
        except json.JSONDecodeError as exc:
            raise KeyStoreError(f"The keyring {self.path} is damaged: {exc}") from None
        if document.get("format") != KEYRING_FORMAT:
            raise KeyStoreError(f"Unknown keyring format in {self.path}.")
        return document

    def _write(self, document: dict[str, Any]) -> None:
        self._infos.clear()
        tmp = self.path.with_suffix(".json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        lock_path = self.directory / ".keyring.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _aad(name: str, version: int) -> bytes:
    return f"havre-data-key:{name}:{version}".encode()


def _check_name(name: str) -> None:
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-_/.")
    if not name or len(name) > 200 or not set(name) <= allowed or name.startswith("/"):
        raise UsageError(
            f"Invalid key name '{name}': use lower-case letters, digits, '-', '_', '.', '/'."
        )


def now_iso() -> str:
    return isoformat(dt.datetime.now(dt.UTC))
