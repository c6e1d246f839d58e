"""Tests for casework.personal: encryption, lookup hashes and masking."""

from __future__ import annotations

import base64
import hashlib
import hmac
import string

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from casework.personal import (
    Cipher,
    mask_id,
    mask_name,
    mask_phone,
    mask_student_number,
)

# An invented ID number (sequence code 996, check digit computed) — not a real person's.
ID = "350425201501019966"


# --- Cipher ------------------------------------------------------------------------------


def test_generate_key_makes_distinct_usable_keys() -> None:
    first, second = Cipher.generate_key(), Cipher.generate_key()
    assert first != second
    assert len(first) == 44
    assert len(base64.urlsafe_b64decode(first)) == 32
    Cipher(first)


def test_encrypt_round_trip() -> None:
    cipher = Cipher(Cipher.generate_key())
    for value in ("张三", ID, "", "0591-12345678", "多行\n备注 ✓"):
        token = cipher.encrypt(value)
        assert cipher.decrypt(token) == value


def test_encrypt_is_randomized() -> None:
    cipher = Cipher(Cipher.generate_key())
    assert cipher.encrypt(ID) != cipher.encrypt(ID)


def test_same_key_decrypts_across_instances() -> None:
    key = Cipher.generate_key()
    assert Cipher(key).decrypt(Cipher(key).encrypt(ID)) == ID


@pytest.mark.parametrize("token", ["not a token", ""])
def test_decrypt_refuses_garbage(token: str) -> None:
    with pytest.raises(ValueError, match="Cannot decrypt"):
        Cipher(Cipher.generate_key()).decrypt(token)


def test_decrypt_refuses_another_keys_token() -> None:
    token = Cipher(Cipher.generate_key()).encrypt(ID)
    with pytest.raises(ValueError, match="encrypted with another key or is damaged"):
        Cipher(Cipher.generate_key()).decrypt(token)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "not a key",
        "密钥",
        Cipher.generate_key()[:-4],
        base64.urlsafe_b64encode(b"x" * 16).decode(),
        base64.urlsafe_b64encode(b"x" * 33).decode(),
    ],
)
def test_a_wrong_key_is_refused_without_echoing_it(key: str) -> None:
    with pytest.raises(ValueError, match="The encryption key is not valid") as err:
        Cipher(key)
    if key:
        assert key not in str(err.value)
    assert err.value.__cause__ is None
    assert err.value.__suppress_context__


# --- lookup_hash -------------------------------------------------------------------------


def test_lookup_hash_is_hmac_sha256_under_an_hkdf_sub_key() -> None:
    key = Cipher.generate_key()
    sub_key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"baoxue lookup hash"
    ).derive(base64.urlsafe_b64decode(key))
    expected = hmac.new(sub_key, ID.encode(), hashlib.sha256).hexdigest()
    assert Cipher(key).lookup_hash(ID) == expected


def test_lookup_hash_does_not_use_the_master_key_directly() -> None:
    key = Cipher.generate_key()
    direct = hmac.new(base64.urlsafe_b64decode(key), ID.encode(), hashlib.sha256).hexdigest()
    assert Cipher(key).lookup_hash(ID) != direct


def test_lookup_hash_is_stable_per_key_and_differs_between_keys() -> None:
    key = Cipher.generate_key()
    digest = Cipher(key).lookup_hash(ID)
    assert len(digest) == 64
    assert set(digest) <= set(string.hexdigits.lower())
    assert Cipher(key).lookup_hash(ID) == digest
    assert Cipher(Cipher.generate_key()).lookup_hash(ID) != digest
    assert Cipher(key).lookup_hash(ID[:-1] + "7") != digest


def test_lookup_hash_does_not_normalize() -> None:
    cipher = Cipher(Cipher.generate_key())
    assert cipher.lookup_hash("35042520150301996X") != cipher.lookup_hash("35042520150301996x")


# --- masks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (ID, "350425********9966"),
        ("35042520150301996X", "350425********996X"),
        (f" {ID} ", "350425********9966"),
        ("12345678901", "123456*8901"),
        ("1234567890", "*******890"),
        ("12345", "****5"),
        ("123", "**3"),
        ("12", "**"),
        ("", ""),
        ("   ", ""),
        (None, ""),
    ],
)
def test_mask_id(value: str | None, masked: str) -> None:
    assert mask_id(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("G" + ID, "G350425********9966"),
        ("J12345678901234567A", "J123456********567A"),
        ("G350425", "*****25"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_student_number(value: str | None, masked: str) -> None:
    assert mask_student_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13800138000", "138****8000"),
        ("19912345678", "199****5678"),
        ("0591-12345678", "0591-****5678"),
        ("0591-2345678", "0591-***5678"),
        ("010-12345678", "010-****5678"),
        ("0591-12345678-801", "0591-****5678-801"),
        ("+86 138 0013 8000", "*************8000"),
        ("1234", "***4"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_phone(value: str | None, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("张三明", "张*明"),
        ("张三", "张*"),
        ("欧阳娜娜", "欧**娜"),
        ("司马相如君", "司***君"),
        ("张", "*"),
        (" 张三明 ", "张*明"),
        ("阿依古丽·买买提", "阿***·买**"),
        ("阿依古丽•买买提", "阿***•买**"),
        ("John Smith", "J*** S****"),
        ("Mary-Jane O'Neil", "M***-J*** O'N***"),
        ("José  Müller", "J*** M*****"),
        ("J", "J"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_name(value: str | None, masked: str) -> None:
    assert mask_name(value) == masked
