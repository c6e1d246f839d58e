"""Protection of personal data: encryption at rest, blind lookup hashes, and masking.

Children's ID numbers, names and their guardians' phone numbers are stored encrypted.
Because encrypted values cannot be searched, each searchable value is also stored as a
keyed hash (:meth:`Cipher.lookup_hash`) of its normalized form; the hash key is derived
from the encryption key, so one secret has to be kept and rotated. Wherever only part of
a value may be shown (lists, reminders, audit views) the ``mask_*`` functions are used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher as FernetCipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from models.types import install_cipher

LOOKUP_HASH_INFO = b"baoxue lookup hash"
KEY_ID_INFO = b"baoxue key id"
KID_LENGTH = 8
KID_SEPARATOR = "$"
_URLSAFE = bytes.maketrans(b"-_", b"+/")
_UNDECRYPTABLE = "Cannot decrypt: the value was encrypted with another key or is damaged."

_MOBILE = re.compile(r"1\d{10}")
_LANDLINE = re.compile(r"(0\d{2,3})-(\d{7,8})(-\d{1,6})?")
# A run of name characters between separators (space, middle dots, hyphen, apostrophes).
_NAME_PART = re.compile(r"[^\s·•\-'’]+")

# A value sealed into JSON (a draft) is tagged {SEALED_TAG: ciphertext}, so that nothing
# is ever decrypted by guesswork and a key rotation finds every one of them.
SEALED_TAG = "$sealed"


class _Key:
    """One master key: its Fernet halves, its lookup-hash sub-key and its short id."""

    def __init__(self, key: str) -> None:
        try:
            self.fernet = Fernet(key)
        except (ValueError, TypeError):
            # The key itself must never end up in a log, so the original error is dropped.
            raise ValueError(
                "The encryption key is not valid: it must be 32 bytes in URL-safe base64 "
                "(44 characters), as made by Cipher.generate_key()."
            ) from None
        raw = base64.urlsafe_b64decode(key)
        # HKDF with its own label keeps the hash key independent of the Fernet keys, so a
        # leaked hash key reveals nothing about the encrypted values.
        self.lookup_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=LOOKUP_HASH_INFO
        ).derive(raw)
        # the id names the key on each ciphertext; an HMAC, so it says nothing of the key
        self.kid = hmac.new(raw, KEY_ID_INFO, hashlib.sha256).hexdigest()[:KID_LENGTH]
        # Fernet's own halves of the key (spec: signing key, then AES key), for decrypt_many
        self.signing_key, self.aes_key = raw[:16], raw[16:]


def key_id(key: str) -> str:
    """The short id a key's ciphertexts carry (safe to print and to store)."""
    return _Key(key).kid


def token_key_id(token: str) -> str | None:
    """The id of the key a ciphertext was made with; None for one made before ids existed."""
    kid, sep, _rest = token.partition(KID_SEPARATOR)
    return kid if sep and len(kid) == KID_LENGTH else None


class Cipher:
    """Symmetric encryption (Fernet) and lookup hashing under one master key, and while a
    key is being rotated (``baoxue key rotate``) under a keyring.

    The first key is current: it encrypts and makes lookup hashes. Every key given can
    decrypt, so data under the old key stays readable until the rotation has re-encrypted
    it. A ciphertext is ``<key id>$<Fernet token>``; a bare token (made before key ids)
    is tried with each key in turn, current first.
    """

    def __init__(self, key: str, *older_keys: str) -> None:
        self._keys = [_Key(k) for k in (key, *older_keys)]
        self._current = self._keys[0]
        self._by_kid = {k.kid: k for k in reversed(self._keys)}

    @classmethod
    def generate_key(cls) -> str:
        """A new random master key, in the form the constructor takes."""
        return Fernet.generate_key().decode("ascii")

    @property
    def key_id(self) -> str:
        """The current key's id."""
        return self._current.kid

    @property
    def key_ids(self) -> list[str]:
        """Every key's id, current first."""
        return [k.kid for k in self._keys]

    def is_current(self, token: str) -> bool:
        """Was ``token`` made with the current key? (What a rotation has already done.)"""
        return token_key_id(token) == self._current.kid

    def encrypt(self, value: str) -> str:
        token = self._current.fernet.encrypt(value.encode("utf-8")).decode("ascii")
        return f"{self._current.kid}{KID_SEPARATOR}{token}"

    def _candidates(self, token: str) -> tuple[list[_Key], str]:
        kid = token_key_id(token)
        if kid is None:
            return self._keys, token
        key = self._by_kid.get(kid)
        return ([key] if key is not None else []), token[len(kid) + 1 :]

    def decrypt(self, token: str) -> str:
        """Decrypt a token made by :meth:`encrypt`; ``ValueError`` if it cannot be."""
        keys, bare = self._candidates(token)
        for key in keys:
            try:
                return key.fernet.decrypt(bare).decode("utf-8")
            except InvalidToken:
                continue
        raise ValueError(_UNDECRYPTABLE)

    def decrypt_many(self, tokens: Sequence[str]) -> list[str]:
        """Decrypt many tokens at once: what :meth:`decrypt` gives, about twice as fast.

        Tokens are grouped by key (one group almost always), and each group is decrypted
        in one pass (see :func:`_decrypt_many`). A bare token is given to the first key
        whose HMAC it passes.
        """
        groups: dict[int, list[int]] = {}
        bare_tokens: list[bytes] = []
        for i, token in enumerate(tokens):
            keys, bare = self._candidates(token)
            data = _token_bytes(bare)
            owner = next((n for n, key in enumerate(self._keys) if key in keys
                          and _mac_ok(key, data)), None)
            if owner is None:
                raise ValueError(_UNDECRYPTABLE)
            groups.setdefault(owner, []).append(i)
            bare_tokens.append(data)
        values: list[str] = [""] * len(tokens)
        for owner, positions in groups.items():
            plain = _decrypt_checked(self._keys[owner], [bare_tokens[i] for i in positions])
            for i, value in zip(positions, plain, strict=True):
                values[i] = value
        return values

    def lookup_hash(self, value: str) -> str:
        """HMAC-SHA256 (hex) of ``value`` for exact-match search over encrypted columns.

        The caller passes the normalized value (e.g. from ``casework.validation``), so that
        the same ID number typed two ways hashes the same. Made with the current key.
        """
        return _hash(self._current, value)

    def lookup_hashes(self, value: str) -> list[str]:
        """The hashes ``value`` may be stored under, current key first: a search must match
        any of them while a rotation is part-way (rows not yet rotated keep the old hash)."""
        return [_hash(key, value) for key in self._keys]


def configure_encryption(encryption_key: str, *older_keys: str) -> None:
    """Install the cipher used for encrypted columns (ID and phone numbers).

    The first key encrypts; ``older_keys`` can still decrypt (during a key rotation).
    The columns (``models.types``) know only the cipher's shape, so models imports
    nothing of casework."""
    install_cipher(Cipher(encryption_key, *older_keys))


def _hash(key: _Key, value: str) -> str:
    return hmac.new(key.lookup_key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def _token_bytes(token: str) -> bytes:
    try:
        data = binascii.a2b_base64(token.encode("ascii").translate(_URLSAFE))
    except (ValueError, TypeError, UnicodeError):
        raise ValueError(_UNDECRYPTABLE) from None
    # version (1) + timestamp (8) + IV (16) + ≥ 1 block + HMAC (32)
    if len(data) < 73 or data[0] != 0x80 or (len(data) - 57) % 16:
        raise ValueError(_UNDECRYPTABLE)
    return data


def _mac_ok(key: _Key, data: bytes) -> bool:
    mac = hmac.digest(key.signing_key, data[:-32], "sha256")
    return hmac.compare_digest(mac, data[-32:])


def _decrypt_checked(key: _Key, tokens: list[bytes]) -> list[str]:
    """Decrypt Fernet tokens whose HMAC under ``key`` was checked, exactly as Fernet does
    (version byte, length, HMAC-SHA256 over version‖timestamp‖IV‖ciphertext, compared in
    constant time, all before any decryption): AES once over every token's blocks (ECB),
    then the CBC chaining and the PKCS7 padding check per token. Most of Fernet's cost per
    token is setting up a cipher; exports decrypt hundreds of thousands of short values.
    No time-to-live is applied, as in :meth:`Cipher.decrypt`.
    """
    blocks = [data[25:-32] for data in tokens]
    chains = [data[9:-48] for data in tokens]  # IV and every ciphertext block but the last
    decryptor = FernetCipher(algorithms.AES(key.aes_key), modes.ECB()).decryptor()
    plain = decryptor.update(b"".join(blocks)) + decryptor.finalize()
    values: list[str] = []
    pos = 0
    for chain in chains:
        size = len(chain)
        text = (
            int.from_bytes(plain[pos : pos + size], "big") ^ int.from_bytes(chain, "big")
        ).to_bytes(size, "big")
        pos += size
        pad = text[-1]
        if not 1 <= pad <= 16 or text[-pad:] != bytes((pad,)) * pad:
            raise ValueError(_UNDECRYPTABLE)
        values.append(text[:-pad].decode("utf-8"))
    return values


def _keep_ends(value: str, head: int, tail: int) -> str:
    """Star the middle of ``value``; a value too short for that shows at most its last third."""
    if len(value) > head + tail:
        return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail :]
    shown = len(value) // 3
    return "*" * (len(value) - shown) + value[len(value) - shown :]


def mask_id(value: str | None) -> str:
    """Region code and last four only: "350425********1234"."""
    return _keep_ends((value or "").strip(), 6, 4)


def mask_student_number(value: str | None) -> str:
    """The letter, the region code and the last four: "G350425********1234"."""
    return _keep_ends((value or "").strip(), 7, 4)


def mask_phone(value: str | None) -> str:
    """Mobiles as "138****5678", landlines as "0591-****5678" (an extension is kept).

    Expects the normalized forms from ``casework.validation.phone``; anything else shows
    at most its last four characters.
    """
    number = (value or "").strip()
    if _MOBILE.fullmatch(number):
        return f"{number[:3]}****{number[7:]}"
    landline = _LANDLINE.fullmatch(number)
    if landline:
        area, local, extension = landline.groups()
        return f"{area}-{_keep_ends(local, 0, 4)}{extension or ''}"
    return _keep_ends(number, 0, 4)


def _is_latin_letter(char: str) -> bool:
    return char.isalpha() and "LATIN" in unicodedata.name(char, "")


def _initial_only(part: re.Match[str]) -> str:
    word = part[0]
    return word[0] + "*" * (len(word) - 1)


def mask_name(value: str | None) -> str:
    """A partial name: "张*明", "张*", "J*** S****".

    A Chinese name keeps its first and last characters (the first only if it has two);
    Latin names and names in several parts ("阿依古丽·买买提") keep each part's initial.
    """
    name = " ".join((value or "").split())
    if not name:
        return ""
    if any(_is_latin_letter(ch) for ch in name) or not _NAME_PART.fullmatch(name):
        return _NAME_PART.sub(_initial_only, name)
    if len(name) == 1:
        return "*"
    if len(name) == 2:
        return f"{name[0]}*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
