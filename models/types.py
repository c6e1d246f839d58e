"""Column types shared by the tables.

``EncryptedText`` keeps ID numbers and phone numbers encrypted at rest (DESIGN §5,
personal data). The cipher is process-wide because SQLAlchemy type decorators have no
per-session context; ``casework.personal.configure_encryption`` installs it before any query runs.
A column of another type that stores ciphertext made by ``cipher().encrypt`` sets
``encrypted_at_rest = True`` on its type, and a key rotation re-encrypts it too; a column
with ``info={"lookup_hash": "<column>"}`` names the column holding its lookup hash.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class _Cipher(Protocol):
    def encrypt(self, value: str) -> str: ...
    def decrypt(self, value: str) -> str: ...
    def lookup_hash(self, value: str) -> str: ...
    def lookup_hashes(self, value: str) -> list[str]: ...
    def is_current(self, token: str) -> bool: ...


_cipher: _Cipher | None = None


def install_cipher(cipher: _Cipher) -> None:
    global _cipher
    _cipher = cipher


def cipher() -> _Cipher:
    if _cipher is None:
        raise RuntimeError("no encryption key configured: call casework.personal.configure_encryption() first")
    return _cipher


class EncryptedText(TypeDecorator[str]):
    """A string stored as Fernet ciphertext; reads give the plaintext back."""

    impl = Text
    cache_ok = True
    # ``casework.keys.rotate`` re-encrypts every column whose type says this
    encrypted_at_rest = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None or value == "" else cipher().encrypt(str(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else cipher().decrypt(value)
