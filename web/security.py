"""The console's cookie and CSRF token: HMAC-SHA256 signatures under the console's secret.

The session cookie is ``<session token>.<signature>``: a tampered or made-up cookie fails
the signature before the database is asked. The CSRF token of a session is derived from it
(``HMAC(secret, "csrf:" + token)``), so it needs no storage; every POST form carries it and
a request without it, or with another session's, is refused (``web.console``).
"""

from __future__ import annotations

import hashlib
import hmac

COOKIE = "baoxue_console"
LANG_COOKIE = "baoxue_lang"


def secret_from(key: str) -> bytes:
    """The console's signing secret derived from a deployment secret (its own label, so the
    derived value says nothing about the key it came from)."""
    return hmac.new(key.encode(), b"baoxue console cookie", hashlib.sha256).digest()


def _mac(secret: bytes, value: str) -> str:
    return hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()


def sign(secret: bytes, token: str) -> str:
    return f"{token}.{_mac(secret, 'session:' + token)}"


def unsign(secret: bytes, cookie: str | None) -> str | None:
    """The session token of a cookie whose signature holds, else None."""
    if not cookie or "." not in cookie:
        return None
    token, _, mac = cookie.rpartition(".")
    return token if hmac.compare_digest(mac, _mac(secret, "session:" + token)) else None


def csrf_token(secret: bytes, session_token: str) -> str:
    return _mac(secret, "csrf:" + session_token)


def csrf_ok(secret: bytes, session_token: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(str(given), csrf_token(secret, session_token))
