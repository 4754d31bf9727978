"""The last-good cache file of the remote provider: the config it serves, kept on disk.

It is served while no config could be fetched (the server down or misbehaving at start-up), so a
restart without the server still gets the last good values rather than code defaults.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from pathlib import Path

__all__ = ['CacheFile']

logger = logging.getLogger('remotevars.remote')


class CacheFile:
    """The cache file at ``path``, and the config body (read shape) to keep in it. Thread-safe.

    The provider hands over each body it serves (:meth:`hold`); :meth:`save` writes the latest one
    atomically, once.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._held: bytes | None = None
        self._written: bytes | None = None
        self._lock = threading.Lock()  # one write at a time

    @property
    def held(self) -> bytes | None:
        """The body to keep, or None (nothing to write)."""
        return self._held

    def hold(self, body: bytes | None) -> None:
        """Make ``body`` the one to keep (None: stop writing until the next one)."""
        self._held = body

    def save(self) -> None:
        """Write the body held now, unless it is the one written last; a failure is logged."""
        # Whichever thread writes last writes the latest body: it is read under the lock.
        with self._lock:
            body = self._held
            if body is None or body is self._written:
                return
            self._write(body)
            self._written = body

    def _write(self, body: bytes) -> None:
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
            try:
                with os.fdopen(fd, 'wb') as file:
                    file.write(body)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(tmp, path)  # readers see the old file or the new one, never half of one
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            logger.warning('Cannot write the variables cache file %s: %s', path, exc)

    def read(self) -> bytes | None:
        """Return the file's bytes, or None when there is no file or it cannot be read (logged)."""
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning('Cannot read the variables cache file %s: %s', self.path, exc)
            return None

    def new_lock_after_fork(self) -> None:
        """Replace the write lock (a forked child may inherit it held)."""
        self._lock = threading.Lock()
