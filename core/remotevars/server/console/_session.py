"""Console sessions: a signed, expiring cookie naming the key that signed in, and the CSRF tokens of its forms.

The cookie holds the key's name, a fingerprint of the key (so a key whose secret changed, or that was
removed, ends its sessions), a random session id and the session's CSRF token, signed and timestamped
with itsdangerous. Nothing secret is in it: the API key itself is never stored. Signing out records the
session id as revoked until the cookie would have expired anyway (in this process).

The sign-in form, which has no session yet, carries a token of its own, also kept in a short-lived
signed cookie (double submit), so a page elsewhere cannot sign a browser in with a key of its choosing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from remotevars._errors import ConfigurationError
from remotevars.server._auth import ApiKey, Keys, Scope

__all__ = ['SESSION_COOKIE', 'SIGN_IN_COOKIE', 'Session', 'Sessions', 'same_token']

SESSION_COOKIE = 'remotevars_console'
SIGN_IN_COOKIE = 'remotevars_console_sign_in'
#: How long a sign-in form stays usable (its cookie's lifetime).
SIGN_IN_MAX_AGE = 30 * 60
MIN_SECRET_LENGTH = 16


def same_token(presented: str | None, expected: str) -> bool:
    """Return whether a form's token is the expected one (compared in constant time)."""
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: the key's ``name`` (the actor of its edits), its ``scope``, CSRF token and id."""

    name: str
    scope: Scope
    csrf: str
    id: str

    @property
    def can_edit(self) -> bool:
        """Whether the key may change things (a write key)."""
        return self.scope == 'write'


class Sessions:
    """Issues and checks session cookies and sign-in tokens for one set of keys.

    ``secret`` signs them (random per process when None: restarting the server signs everybody out; at
    least 16 characters, else :class:`~remotevars.ConfigurationError`);
    ``max_age`` is a session's lifetime in seconds; ``clock`` returns the current Unix time.
    """

    def __init__(
        self,
        keys: Keys,
        secret: str | bytes | None = None,
        *,
        max_age: int = 12 * 60 * 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if secret is not None and len(secret) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f'the console session secret must be at least {MIN_SECRET_LENGTH} characters (it signs the cookies)'
            )
        self._keys = keys
        self._secret = secrets.token_bytes(32) if secret is None else secret
        self.max_age = max_age
        self._clock = clock
        self._revoked: dict[str, float] = {}  # session id -> when its cookie expires anyway

        class ClockSigner(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock())

        self._sessions = URLSafeTimedSerializer(self._secret, salt='remotevars-console-session', signer=ClockSigner)
        self._sign_in = URLSafeTimedSerializer(self._secret, salt='remotevars-console-sign-in', signer=ClockSigner)

    def _fingerprint(self, key: ApiKey) -> str:
        secret = self._secret if isinstance(self._secret, bytes) else self._secret.encode()
        return hmac.new(secret, key.sha256, hashlib.sha256).hexdigest()[:32]

    def issue(self, key: ApiKey) -> tuple[Session, str]:
        """Return a new session for ``key`` and its cookie value."""
        session = Session(key.name, key.scope, secrets.token_urlsafe(24), secrets.token_urlsafe(12))
        payload = {'k': key.name, 'f': self._fingerprint(key), 'c': session.csrf, 'i': session.id}
        return session, self._sessions.dumps(payload)

    def read(self, cookie: str | None) -> Session | None:
        """Return the session of a cookie value, or None: absent, forged, expired, revoked or its key gone."""
        if not cookie:
            return None
        try:
            payload: Any = self._sessions.loads(cookie, max_age=self.max_age)
        except BadSignature:  # also the expired ones (SignatureExpired is a BadSignature)
            return None
        if not isinstance(payload, dict) or not all(isinstance(payload.get(f), str) for f in 'kfci'):
            return None
        key = self._keys.named(payload['k'])
        if key is None or not hmac.compare_digest(payload['f'], self._fingerprint(key)):
            return None
        if payload['i'] in self._revoked:
            return None
        return Session(key.name, key.scope, payload['c'], payload['i'])

    def revoke(self, session: Session) -> None:
        """End ``session`` now: its cookie is refused from now on, even if a copy of it is kept."""
        now = self._clock()
        self._revoked = {sid: until for sid, until in self._revoked.items() if until > now}
        self._revoked[session.id] = now + self.max_age

    def sign_in_token(self) -> tuple[str, str]:
        """Return a fresh sign-in form token and the cookie value that goes with it."""
        token = secrets.token_urlsafe(24)
        return token, self._sign_in.dumps(token)

    def check_sign_in(self, cookie: str | None, token: str | None) -> bool:
        """Return whether a sign-in form's ``token`` matches its (unexpired, untampered) cookie."""
        if not cookie:
            return False
        try:
            expected: Any = self._sign_in.loads(cookie, max_age=SIGN_IN_MAX_AGE)
        except BadSignature:
            return False
        return isinstance(expected, str) and same_token(token, expected)
