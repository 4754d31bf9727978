"""What a client is serving, as data and as text: shown by ``vars_status``, ``flask vars status``
and the status pages, so all of them say the same thing; and the status commands' outcome.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TextIO

from remotevars._outcome import Outcome

if TYPE_CHECKING:
    from remotevars._client import Client

__all__ = ['ClientReport', 'VariableReport', 'client_report', 'format_report', 'report_outcome', 'run_status']

#: How long a status command waits, after the first config, for the update stream to connect.
_STREAM_GRACE: Final = 1.0
_POLL: Final = 0.02


@dataclass(frozen=True)
class VariableReport:
    """One registered variable: whether the config has it, its labels (label -> version) and rollout."""

    name: str
    in_config: bool
    labels: dict[str, int | None]
    rollout: dict[str, float]
    overrides: int
    type_name: str


@dataclass(frozen=True)
class ClientReport:
    """The provider's state and every registered variable."""

    kind: str
    source: str
    state: str
    connected: bool | None
    stream_connected: bool | None
    last_refresh: float | None
    last_error: str | None
    variables: list[VariableReport]


def client_report(client: Client) -> ClientReport:
    """Return what ``client`` serves now."""
    status = client.status()
    snapshot = client.snapshot
    variables = []
    for variable in client.variables():
        compiled = snapshot.lookup(variable.name)
        variables.append(
            VariableReport(
                name=variable.name,
                in_config=compiled is not None,
                labels={} if compiled is None else {label: t[1] for label, t in compiled.targets.items()},
                rollout={} if compiled is None else dict(compiled.rollout.labels),
                overrides=0 if compiled is None else len(compiled.overrides),
                type_name=getattr(variable.value_type, '__name__', repr(variable.value_type)),
            )
        )
    return ClientReport(
        kind=status.kind,
        source=status.source,
        state=snapshot.state,
        connected=status.connected,
        stream_connected=status.stream_connected,
        last_refresh=status.last_refresh,
        last_error=status.last_error,
        variables=variables,
    )


def _yes_no(flag: bool | None) -> str:
    return 'n/a' if flag is None else ('yes' if flag else 'no')


def format_report(report: ClientReport, *, now: float | None = None) -> str:
    """Render a report as plain text lines."""
    now = time.time() if now is None else now
    if report.last_refresh is None:
        refreshed = 'never'
    else:
        refreshed = f'{time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(report.last_refresh))} '
        refreshed += f'({max(0.0, now - report.last_refresh):.0f}s ago)'
    lines = [
        f'Source:      {report.kind} {report.source}'.rstrip(),
        f'State:       {report.state}',
        f'Connected:   {_yes_no(report.connected)}    Update stream: {_yes_no(report.stream_connected)}',
        f'Last refresh: {refreshed}',
    ]
    if report.last_error:
        lines.append(f'Last error:  {report.last_error}')
    lines.append('')
    lines.append(f'Variables ({len(report.variables)}):')
    for v in report.variables:
        if not v.in_config:
            lines.append(f'  {v.name} [{v.type_name}]: not in config (code default)')
            continue
        labels = (
            ', '.join(
                f'{label}=v{version}' if version is not None else f'{label}=code default'
                for label, version in v.labels.items()
            )
            or 'none'
        )
        rollout = ', '.join(f'{label} {weight:.0%}' for label, weight in v.rollout.items()) or 'code default'
        extra = f', {v.overrides} override(s)' if v.overrides else ''
        lines.append(f'  {v.name} [{v.type_name}]: labels {labels}; rollout {rollout}{extra}')
    return '\n'.join(lines)


def report_outcome(report: ClientReport) -> Outcome:
    """Return how a status command ends for ``report``: done only when a source is configured, its
    config is loaded and (for a server) the server answers; otherwise an ``error`` (exit 2) saying why."""
    if report.kind == 'none':
        return Outcome(
            'usage',
            'No variables source is configured (REMOTEVARS_BASE_URL and REMOTEVARS_API_KEY, or '
            'REMOTEVARS_LOCAL_CONFIG): every variable serves its code default.',
        )
    error = f' ({report.last_error})' if report.last_error else ''
    if report.state == 'cached':
        return Outcome('error', f'{report.source} cannot be reached{error}: serving the config of the cache file.')
    if report.state != 'loaded':
        return Outcome('error', f'No config loaded from {report.source}{error}: serving code defaults.')
    if report.connected is False:
        return Outcome('error', f'{report.source} cannot be reached{error}: serving the last config fetched.')
    return Outcome('done')


def _settled(client: Client, deadline: float) -> None:
    """Wait (until ``deadline`` at most) for the provider's status to catch up with its first config,
    and briefly for its update stream, so the report does not show a connection half made."""
    grace = None
    while time.monotonic() < deadline:
        status = client.status()
        if status.kind == 'none':
            return
        if status.last_refresh is None and status.last_error is None:
            time.sleep(_POLL)
            continue
        if status.stream_connected is not False or not status.connected:
            return
        grace = time.monotonic() + _STREAM_GRACE if grace is None else grace
        if time.monotonic() >= grace:
            return
        time.sleep(_POLL)


def run_status(client: Client, timeout: float, out: TextIO) -> Outcome:
    """Wait up to ``timeout`` seconds for ``client``'s first config, print its report to ``out``; return the outcome."""
    deadline = time.monotonic() + timeout
    client.wait_for_first_config(timeout)
    _settled(client, deadline)
    report = client_report(client)
    out.write(format_report(report) + '\n')
    out.flush()
    return report_outcome(report)
