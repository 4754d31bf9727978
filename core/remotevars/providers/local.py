"""The local provider: a ``VariablesConfig`` object, or a JSON file reloaded when it is saved.

Watching uses watchfiles (inotify where available) on the file's directory, so editors that save by
writing a new file and renaming it over the old one are seen too. A file that cannot be read or
parsed keeps the last good config, and the reason is logged.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remotevars._errors import ConfigPayloadError, ConfigurationError
from remotevars.providers._base import ConfigSink, ProviderStatus, VariableProvider

if TYPE_CHECKING:
    from remotevars._options import LocalVariablesOptions

__all__ = ['LocalProvider']

logger = logging.getLogger('remotevars.local')


class LocalProvider(VariableProvider):
    """Serves a config from memory or from a file (optionally watched)."""

    def __init__(self, options: LocalVariablesOptions, *, debounce_ms: int = 50) -> None:
        self._options = options
        self._path = options.path.resolve() if options.path is not None else None
        self._debounce_ms = debounce_ms
        self._sink: ConfigSink | None = None
        self._last_digest: bytes | None = None  # of the last file delivered (not the bytes: files can be large)
        self._last_stat: tuple[int, int, int] | None = None
        self._last_refresh: float | None = None
        self._last_error: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self, sink: ConfigSink) -> None:
        """Deliver the config now; raises ConfigurationError when the file is unusable at start-up."""
        self._sink = sink
        if self._path is None:
            sink.apply(self._options.config, source='local config object')
            self._last_refresh = time.time()
        else:
            try:
                data = self._path.read_bytes()
                self._deliver(data)
            except (OSError, ConfigPayloadError) as exc:
                raise ConfigurationError(f'Cannot load the local variables config {str(self._path)!r}: {exc}') from exc
            if self._options.watch:
                self._start_watcher()
        sink.first_attempt_done()

    def _deliver(self, data: bytes) -> None:
        assert self._sink is not None and self._path is not None
        digest = hashlib.blake2b(data, digest_size=16).digest()
        with self._lock:
            if digest == self._last_digest:
                return
            issues = self._sink.apply(data, source=str(self._path))
            self._last_digest = digest
            self._last_refresh = time.time()
            self._last_error = None
        for issue in issues:
            kept = 'kept its previous version' if issue.kept_previous else 'left out (code default served)'
            logger.warning('Variable %r in %s is invalid and was %s: %s', issue.name, self._path, kept, issue.error)

    def refresh(self, force: bool = False) -> None:
        """Re-read the file (a no-op for a config object); a bad file keeps the last good config."""
        if self._path is None or self._sink is None:
            return
        try:
            data = self._path.read_bytes()
            if force:
                self._last_digest = None
            self._deliver(data)
        except (OSError, ConfigPayloadError) as exc:
            self._last_error = str(exc)
            logger.error('Keeping the last good variables config; cannot load %s: %s', self._path, exc)

    def _start_watcher(self) -> None:
        self._stop.clear()
        self._watcher = threading.Thread(target=self._watch, name='remotevars-local-watch', daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        from watchfiles import watch

        assert self._path is not None
        path = self._path

        def is_ours(_change: Any, changed: str) -> bool:
            return Path(changed) == path

        try:
            # Events arrive at once; the periodic empty yield (every rust_timeout ms) re-checks the file's
            # stat, which covers a save made before the watch was set up and filesystems without events.
            for changes in watch(
                path.parent,
                watch_filter=is_ours,
                stop_event=self._stop,
                debounce=self._debounce_ms,
                step=20,
                rust_timeout=1000,
                yield_on_timeout=True,
                raise_interrupt=False,
            ):
                if changes or self._stat_changed():
                    self.refresh()
        except Exception:  # pragma: no cover - the watcher must never take the process down
            logger.exception('Watching %s stopped', path)

    def _stat_changed(self) -> bool:
        assert self._path is not None
        try:
            st = self._path.stat()
        except OSError:
            return False
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        changed = signature != self._last_stat
        self._last_stat = signature
        return changed

    def shutdown(self, timeout: float = 1.0) -> None:
        """Stop watching the file."""
        self._stop.set()
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout)
        self._watcher = None

    def after_fork_in_child(self) -> None:
        """Threads do not survive fork: start a new watcher in the child if one was running."""
        self._lock = threading.Lock()
        if self._watcher is not None and not self._stop.is_set():
            self._stop = threading.Event()
            self._start_watcher()

    def status(self) -> ProviderStatus:
        """Return the provider's status."""
        source = 'local config object' if self._path is None else str(self._path)
        return ProviderStatus(kind='local', source=source, last_refresh=self._last_refresh, last_error=self._last_error)
