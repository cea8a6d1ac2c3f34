"""The key store on both backends: wrap/unwrap, rotation, crypto-shredding, wrong master."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from havre.core.config import Settings
from havre.core.errors import KeyStoreError
from havre.keys import KeyPurpose, KeyState, KeyStore, envelope, open_key_store


@pytest.fixture(
    params=["local-file", "local-passphrase", pytest.param("pkcs11", marks=pytest.mark.hsm)]
)
def store_settings(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> Settings:
    if request.param == "local-file":
        return make_settings()
    if request.param == "local-passphrase":
        return make_settings(master_passphrase="correct horse battery staple")
    token = request.getfixturevalue("softhsm_token")
    return make_settings(
        key_store="pkcs11",
        pkcs11_module=token["module"],
        pkcs11_token_label=token["label"],
        pkcs11_pin=token["pin"],
        pkcs11_key_label=token["key_label"],
    )


@pytest.fixture
def store(store_settings: Settings) -> KeyStore:
    created, _ = open_key_store(store_settings, create=True)
    return created


def test_envelope_round_trip(store: KeyStore) -> None:
    store.create("files/a", KeyPurpose.GENERAL)
    blob = envelope.encrypt(store, "files/a", b"secret payload", aad=b"ctx")
    assert b"secret payload" not in blob
    assert envelope.decrypt(store, blob, aad=b"ctx") == b"secret payload"
    with pytest.raises(KeyStoreError):
        envelope.decrypt(store, blob, aad=b"other context")


def test_keys_persist_across_openings(store_settings: Settings, store: KeyStore) -> None:
    store.create("files/a", KeyPurpose.GENERAL)
    material, version = store.data_key("files/a")
    store.close()
    reopened, _ = open_key_store(store_settings)
    assert reopened.data_key("files/a") == (material, version)


def test_rotation_keeps_old_versions_readable(store: KeyStore) -> None:
    store.create("files/a", KeyPurpose.GENERAL)
    old_blob = envelope.encrypt(store, "files/a", b"old")
    info = store.rotate("files/a")
    assert [v.state for v in info.versions] == [KeyState.RETIRED, KeyState.ACTIVE]
    new_blob = envelope.encrypt(store, "files/a", b"new")
    assert envelope.key_of(old_blob) == ("files/a", 1)
    assert envelope.key_of(new_blob) == ("files/a", 2)
    assert envelope.decrypt(store, old_blob) == b"old"
    assert envelope.decrypt(store, new_blob) == b"new"


def test_destroy_is_crypto_shredding(store_settings: Settings, store: KeyStore) -> None:
    store.create("workspace/p1", KeyPurpose.WORKSPACE)
    blob = envelope.encrypt(store, "workspace/p1", b"project data")
    store.destroy("workspace/p1")
    with pytest.raises(KeyStoreError, match="destroyed"):
        envelope.decrypt(store, blob)
    # not even a fresh process with the master key can read it: the wrapped key is gone
    reopened, _ = open_key_store(store_settings)
    with pytest.raises(KeyStoreError, match="destroyed"):
        envelope.decrypt(reopened, blob)
    assert "wrapped" not in (
        store.path.read_text()
        .split('"workspace/p1"')[1]
        .split("]")[0]
        .replace('"wrapped": null', "")
    )


def test_destroy_one_version_only(store: KeyStore) -> None:
    store.create("files/a", KeyPurpose.GENERAL)
    first = envelope.encrypt(store, "files/a", b"v1")
    store.rotate("files/a")
    second = envelope.encrypt(store, "files/a", b"v2")
    store.destroy("files/a", version=1)
    with pytest.raises(KeyStoreError):
        envelope.decrypt(store, first)
    assert envelope.decrypt(store, second) == b"v2"


def test_signing_key_signs_and_verifies(store: KeyStore) -> None:
    store.ensure("audit/signing", KeyPurpose.AUDIT_SIGNING)
    private, _ = store.signing_key("audit/signing")
    signature = private.sign(b"checkpoint")
    private.public_key().verify(signature, b"checkpoint")


def test_ensure_refuses_a_purpose_change(store: KeyStore) -> None:
    store.ensure("pseudo/hub", KeyPurpose.PSEUDONYMIZATION)
    with pytest.raises(KeyStoreError, match="purpose"):
        store.ensure("pseudo/hub", KeyPurpose.DATASET)


def test_wrong_passphrase_is_a_clear_error(make_settings: Callable[..., Settings]) -> None:
    open_key_store(make_settings(master_passphrase="the right passphrase"), create=True)
    with pytest.raises(KeyStoreError, match="does not open this keyring"):
        open_key_store(make_settings(master_passphrase="a wrong passphrase!"))


def test_passphrase_hub_without_passphrase(make_settings: Callable[..., Settings]) -> None:
    open_key_store(make_settings(master_passphrase="the right passphrase"), create=True)
    with pytest.raises(KeyStoreError, match="HAVRE_MASTER_PASSPHRASE"):
        open_key_store(make_settings())


def test_missing_key_file_is_a_clear_error(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    open_key_store(settings, create=True)
    (settings.home / "keys" / "master.key").unlink()
    with pytest.raises(KeyStoreError, match="does not exist"):
        open_key_store(settings)


def test_key_file_and_keyring_are_private(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    store, notes = open_key_store(settings, create=True)
    assert any("master key file" in n for n in notes)
    assert (Path(settings.home) / "keys" / "master.key").stat().st_mode & 0o077 == 0
    assert store.path.stat().st_mode & 0o077 == 0


@pytest.mark.hsm
def test_pkcs11_master_key_is_not_extractable(
    softhsm_token: dict[str, str], make_settings: Callable[..., Settings]
) -> None:
    import pkcs11
    from pkcs11 import Attribute, KeyType, ObjectClass

    settings = make_settings(
        key_store="pkcs11",
        pkcs11_module=softhsm_token["module"],
        pkcs11_token_label=softhsm_token["label"],
        pkcs11_pin=softhsm_token["pin"],
        pkcs11_key_label=softhsm_token["key_label"],
    )
    store, _ = open_key_store(settings, create=True)
    store.close()
    lib = pkcs11.lib(softhsm_token["module"])
    token = lib.get_token(token_label=softhsm_token["label"])
    try:
        session = token.open(user_pin=softhsm_token["pin"])
    except pkcs11.UserAlreadyLoggedIn:
        session = token.open()
    with session:
        key = session.get_key(
            object_class=ObjectClass.SECRET_KEY,
            key_type=KeyType.AES,
            label=softhsm_token["key_label"],
        )
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.SENSITIVE] is True


def test_a_key_destroyed_by_another_process_is_not_served_from_cache(
    store_settings: Settings, store: KeyStore
) -> None:
    store.create("workspace/p2", KeyPurpose.WORKSPACE)
    blob = envelope.encrypt(store, "workspace/p2", b"rows")
    assert envelope.decrypt(store, blob) == b"rows"  # the key is now cached
    other, _ = open_key_store(store_settings)
    other.destroy("workspace/p2")
    with pytest.raises(KeyStoreError, match="destroyed"):
        envelope.decrypt(store, blob)
