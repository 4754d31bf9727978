"""The console's read pages: the variables list (and its live rows), a variable's page, and version diffs.

Everything here reads the committed snapshot, history and versions through the operations; nothing
writes. The list follows the update stream through :meth:`Pages.updates`, an SSE stream of the names
each committed write changed (the browser then fetches the rows again).
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from remotevars._diff import diff_variable, override_text
from remotevars.server._ops import MAX_HISTORY
from remotevars.server._storage import HistoryEntry
from remotevars.server.console._audience import (
    SYNTHETIC_KEYS,
    Answer,
    RolloutShares,
    parse_attributes,
    rollout_shares,
    who_gets,
)
from remotevars.server.console._base import Console, VariableState, Viewer
from remotevars.server.console._describe import (
    ChangeLine,
    InvalidVariable,
    VariableRow,
    change_lines,
    label_rows,
    type_text,
    variable_config,
    variable_row,
)
from remotevars.server.console._json_diff import json_diff

__all__ = ['Pages']

#: How many history entries the variable page shows (``?history=N`` shows more, up to the API's 1,000).
HISTORY_SHOWN = 50
#: How many versions the variable page lists, newest first (the compare page takes any two).
VERSIONS_SHOWN = 100
_SHARES_CACHED = 256

#: What the page says after an edit (the redirect carries the code, never text).
DONE_MESSAGES = {
    'version': 'Created the new version.',
    'label': 'Moved the label.',
    'label-removed': 'Removed the label.',
    'rollout': 'Changed the rollout.',
    'override-added': 'Added the override.',
    'override-removed': 'Removed the override.',
    'rollback': 'Rolled back.',
    'unchanged': 'Nothing to change: the variable already was that way.',
}


@dataclass(frozen=True, slots=True)
class HistoryView:
    """One history entry as the page shows it."""

    id: int
    at: str
    actor: str
    action: str
    lines: list[ChangeLine]
    destructive: tuple[str, ...]
    warnings: list[dict[str, Any]]
    can_roll_back: bool


def _history_view(entry: HistoryEntry, newest: bool) -> HistoryView:
    lines: list[ChangeLine] = []
    destructive: tuple[str, ...] = ()
    try:
        before = None if entry.before is None else variable_config(entry.before)
        after = None if entry.after is None else variable_config(entry.after)
        if before is not None or after is not None:
            diff = diff_variable(before, after)
            lines, destructive = change_lines(diff), diff.destructive
    except InvalidVariable:  # pragma: no cover - every recorded state was valid when it was written
        pass
    return HistoryView(
        id=entry.id,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        lines=lines,
        destructive=destructive,
        warnings=entry.warnings,
        can_roll_back=entry.after is not None and not newest,
    )


class Pages:
    """The read pages (see the module docstring)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._rows: dict[str, tuple[int, VariableRow]] = {}  # name -> (revision, row)
        self._shares: OrderedDict[tuple[str, int], list[RolloutShares]] = OrderedDict()
        self._lock = threading.Lock()

    # -- the list ----------------------------------------------------------------------------------

    def rows(self, query: str) -> list[VariableRow]:
        """Return the list's rows for variables whose name contains ``query`` (any case), by name."""
        snapshot = self.console.ops.snapshot
        needle = query.strip().lower()
        rows = []
        with self._lock:
            for name, shape in snapshot.variables.items():
                if needle and needle not in name.lower():
                    continue
                revision = snapshot.revisions.get(name, -1)
                cached = self._rows.get(name)
                if cached is None or cached[0] != revision:
                    cached = self._rows[name] = (revision, variable_row(shape))
                rows.append(cached[1])
            if len(self._rows) > 2 * len(snapshot.variables) + 100:  # forget deleted variables now and then
                self._rows = {n: r for n, r in self._rows.items() if n in snapshot.variables}
        return rows

    async def variables(self, request: Request, viewer: Viewer) -> Response:
        """``GET /ui/``: every variable, with search by name (``?q=``)."""
        query = request.query_params.get('q', '')

        def build() -> Response:
            rows = self.rows(query)
            total = len(self.console.ops.snapshot.variables)
            return self.console.render(request, 'variables.html', viewer, rows=rows, query=query, total=total)

        return await self.console.render_off_loop(build)

    async def rows_fragment(self, request: Request, viewer: Viewer) -> Response:
        """``GET /ui/rows?q=``: the list's rows alone (the page fetches them when the stream says something changed)."""
        query = request.query_params.get('q', '')
        return await self.console.render_off_loop(
            lambda: self.console.render(request, '_rows.html', viewer, rows=self.rows(query), query=query)
        )

    async def updates(self, request: Request) -> Response:
        """``GET /ui/updates``: an SSE stream with ``{"names": [...]}`` for each committed write."""
        if self.console.viewer(request) is None:
            return self.console.error_page(request, 401, 'Sign in to follow the updates.')

        async def events() -> AsyncIterator[ServerSentEvent]:
            async for names in self.console.broadcaster.subscribe_names():
                yield ServerSentEvent(data=json.dumps({'names': list(names)}))

        return EventSourceResponse(
            events(),
            ping=self.console.keepalive_interval,
            ping_message_factory=lambda: ServerSentEvent(comment='keepalive'),
            headers={'Cache-Control': 'no-cache'},
        )

    # -- a variable --------------------------------------------------------------------------------

    def shares(self, state: VariableState) -> list[RolloutShares]:
        """Return how the variable's rollouts split the synthetic keys (cached per variable revision)."""
        key = (state.name, self.console.ops.snapshot.revisions.get(state.name, -1))
        with self._lock:
            found = self._shares.get(key)
            if found is not None:
                self._shares.move_to_end(key)
                return found
        found = rollout_shares(state.config)
        with self._lock:
            self._shares[key] = found
            while len(self._shares) > _SHARES_CACHED:
                self._shares.popitem(last=False)
        return found

    async def variable(self, request: Request, viewer: Viewer) -> Response:
        """``GET /ui/variables/{name}/``: labels, rollout, overrides, who gets what, versions and history."""
        params = request.query_params
        limit_text = params.get('history', str(HISTORY_SHOWN))
        limit = min(int(limit_text), MAX_HISTORY) if limit_text.isdigit() and int(limit_text) > 0 else HISTORY_SHOWN
        done = DONE_MESSAGES.get(params.get('done', ''))
        asked = 'key' in params or 'attributes' in params
        key_text, attributes_text = params.get('key', ''), params.get('attributes', '')

        def build(state: VariableState) -> Response:
            answer: Answer | None = None
            who_error = None
            if asked:
                try:
                    answer = who_gets(state.config, key_text or None, parse_attributes(attributes_text))
                except ValueError as exc:
                    who_error = str(exc)
            return self.console.render(
                request,
                'variable.html',
                viewer,
                **self.variable_context(state, limit),
                done=done,
                asked=asked,
                who_key=key_text,
                who_attributes=attributes_text,
                answer=answer,
                who_error=who_error,
            )

        return await self.console.variable_page(request, viewer, build)

    def variable_context(self, state: VariableState, history_limit: int) -> dict[str, Any]:
        """Return what the variable page shows about ``state`` (besides the who-gets-what answer)."""
        config = state.config
        every_version = self.console.ops.versions(state.name) or []
        versions = every_version[::-1][:VERSIONS_SHOWN]
        at_version: dict[int, list[str]] = {}
        for label, target in config.labels.items():
            version = config.follow_ref(target)[1]
            if version is not None and config.follow_ref(target)[0] is not None:
                at_version.setdefault(version, []).append(label)
        entries = self.console.ops.history(state.name, history_limit + 1)
        history = [_history_view(entry, i == 0) for i, entry in enumerate(entries[:history_limit])]
        remainder = 1.0 - math.fsum(config.rollout.labels.values())
        remainder = remainder if remainder > 1e-9 else 0.0  # 0.7 + 0.2 + 0.1 leaves 1e-16: nothing
        return {
            'state': state,
            'config': config,
            'type_text': type_text(state.shape),
            'labels': label_rows(config, state.shape),
            'remainder': remainder,
            'overrides': [override_text(o) for o in config.overrides],
            'shares': self.shares(state),
            'synthetic_keys': SYNTHETIC_KEYS,
            'versions': versions,
            'version_count': len(every_version),
            'at_version': at_version,
            'latest': config.latest_version.version if config.latest_version else None,
            'history': history,
            'more_history': len(entries) > history_limit,
            'history_limit': history_limit,
        }

    async def compare(self, request: Request, viewer: Viewer) -> Response:
        """``GET /ui/variables/{name}/compare?a=N&b=M``: the JSON diff of two versions' values."""
        name = request.path_params['name']
        params = request.query_params

        def build() -> Response:
            versions = self.console.ops.versions(name)
            if versions is None:
                return self.console.missing(request, viewer, name)
            by_number = {v['version']: v for v in versions}
            chosen = []
            for which in ('a', 'b'):
                text = params.get(which, '')
                if not text.isdigit() or int(text) not in by_number:
                    return self.console.error_page(request, 404, f'Variable {name!r} has no version {text!r}.', viewer)
                chosen.append(by_number[int(text)])
            before, after = chosen
            lines = json_diff(before['serialized_value'], after['serialized_value'])
            return self.console.render(
                request, 'compare.html', viewer, name=name, before=before, after=after, lines=lines
            )

        return await run_in_threadpool(build)
