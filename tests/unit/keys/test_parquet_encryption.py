from collections.abc import Callable

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from havre.core.config import Settings
from havre.core.errors import KeyStoreError
from havre.keys import KeyPurpose, open_key_store
from havre.keys.parquet import ParquetCrypto


def test_parquet_files_need_the_key(make_settings: Callable[..., Settings], tmp_path) -> None:
    store, _ = open_key_store(make_settings(), create=True)
    store.create("dataset/demo", KeyPurpose.DATASET)
    crypto = ParquetCrypto(store)
    # values long enough that random ciphertext cannot hold them by chance (two-byte values
    # turned up in about one file in a hundred)
    marker = "person-1850775123456-a1"
    table = pa.table({"person": [marker, "person-2850775123456-b2"], "value": [1, 2]})
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, encryption_properties=crypto.encryption_properties("dataset/demo"))
    assert marker.encode() not in path.read_bytes()
    plain = tmp_path / "plain.parquet"
    pq.write_table(table, plain)
    assert marker.encode() in plain.read_bytes()  # the check would see the value unencrypted
    with pytest.raises(OSError):
        pq.read_table(path)
    read = pq.read_table(path, decryption_properties=crypto.decryption_properties())
    assert read.equals(table)
    store.destroy("dataset/demo")
    crypto.clear_cache()
    with pytest.raises((KeyStoreError, OSError)):
        pq.read_table(path, decryption_properties=ParquetCrypto(store).decryption_properties())
