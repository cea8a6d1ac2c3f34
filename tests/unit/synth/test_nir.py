from __future__ import annotations

import numpy as np
import pyarrow as pa

from havre.synth.nir import format_nir, nir_key, nir_number, valid_key


def test_key_of_the_textbook_example() -> None:
    # 1 84 12 76 451 089, key 46: the example every NIR explanation uses.
    number = nir_number(
        np.array([1]), np.array([1984]), np.array([12]), np.array([76451]), np.array([89])
    )
    assert number[0] == 1841276451089
    assert nir_key(number)[0] == 46
    assert valid_key("184127645108946")
    assert not valid_key("184127645108947")


def test_corsica_keeps_its_letters_and_counts_as_19_or_18() -> None:
    number = nir_number(
        np.array([2]), np.array([1969]), np.array([5]), np.array([19004]), np.array([123])
    )
    key = nir_key(number)
    text = format_nir(
        np.array([2]), np.array([1969]), np.array([5]), pa.array(["2A004"]), np.array([123]), key
    ).to_pylist()[0]
    assert text.startswith("269052A004123")
    assert len(text) == 15
    assert valid_key(text)
    assert int(text[13:]) == 97 - 2690519004123 % 97
    assert not valid_key(text.replace("2A", "2B"))


def test_malformed_nirs_are_not_valid() -> None:
    assert not valid_key("12345")
    assert not valid_key("1841276451089XX")
