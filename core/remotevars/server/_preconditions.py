"""Write preconditions (``If-Match``): apply a write only if the variable has not changed since a revision.

A variable's ETag is ``"<database id>-<revision of its last change>"`` (revisions are global and only
grow, so a delete and re-create never brings an old ETag back). ``If-Match: "<db>-<N>"`` holds when
the variable exists and has not changed since revision N; so both the variable's own ETag and the
ETag of ``GET /v1/variables/`` work. ``If-Match: *`` holds when the variable exists. Weak ETags
(``W/``) never match, as HTTP's strong comparison wants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from remotevars.server._storage import etag
from remotevars.server._wire import WriteRejected

__all__ = ['Precondition']

_ETAG = re.compile(r'"(?P<db>[0-9a-zA-Z]+)-(?P<revision>[0-9]{1,18})"')


@dataclass(frozen=True, slots=True)
class Precondition:
    """The ETags of an ``If-Match`` header (``any_`` for ``*``)."""

    etags: tuple[str, ...] = ()
    any_: bool = False

    @classmethod
    def from_header(cls, value: str | None) -> Precondition | None:
        """Return the precondition of an ``If-Match`` header value, or None when there is none."""
        if value is None or not value.strip():
            return None
        tags = tuple(tag.strip() for tag in value.split(',') if tag.strip())
        return cls(etags=tuple(t for t in tags if t != '*'), any_='*' in tags)

    def holds(self, db_id: str, revision: int | None) -> bool:
        """Return whether a variable last changed at ``revision`` (None: absent) satisfies this precondition."""
        if revision is None:
            return False
        if self.any_:
            return True
        for tag in self.etags:
            match = _ETAG.fullmatch(tag)
            if match and match['db'] == db_id and revision <= int(match['revision']):
                return True
        return False

    def check(self, name: str, db_id: str, revision: int | None) -> None:
        """Return if the precondition holds; raises :class:`WriteRejected` (412) naming the current ETag."""
        if self.holds(db_id, revision):
            return
        if revision is None:
            raise WriteRejected(f'Precondition failed: variable {name!r} does not exist', 412)
        raise WriteRejected(
            f'Precondition failed: variable {name!r} changed since {", ".join(self.etags) or "*"}'
            f' (its ETag is now {etag(db_id, revision)}); fetch it again and retry',
            412,
        )
