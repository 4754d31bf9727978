"""What a client is serving, as data and as text: shown by ``vars_status``, ``flask vars status``
and the status pages, so all of them say the same thing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from remotevars._client import Client

__all__ = ['ClientReport', 'VariableReport', 'client_report', 'format_report']


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
