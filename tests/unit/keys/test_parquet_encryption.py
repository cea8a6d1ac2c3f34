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
    table = pa.table({"person": ["a1", "b2"], "value": [1, 2]})
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, encryption_properties=crypto.encryption_properties("dataset/demo"))
    assert b"a1" not in path.read_bytes()
    with pytest.raises(OSError):
        pq.read_table(path)
    read = pq.read_table(path, decryption_properties=crypto.decryption_properties())
    assert read.equals(table)
    store.destroy("dataset/demo")
    crypto.clear_cache()
    with pytest.raises((KeyStoreError, OSError)):
        pq.read_table(path, decryption_properties=ParquetCrypto(store).decryption_properties())
