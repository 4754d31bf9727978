"""``remotevars history NAME`` and ``remotevars rollback NAME --to ID``: who changed what, and going back.

The server records every committed write per variable (docs/server.md, "History"); ``history`` shows
it newest first, one line per entry with what changed, and ``rollback`` restores the labels, rollout
and overrides as they were after an entry, as one write. Exit codes and errors: :mod:`._exit`.
"""

from __future__ import annotations

import json
from typing import Any

import click

from remotevars._api import variable_path
from remotevars._diff import rollout_text
from remotevars.cli._connection import api, connection_options, request_edit

__all__ = ['change_summary', 'commands', 'history', 'rollback']

_OTHER_FIELDS = ('description', 'aliases', 'example', 'type_name', 'template_inputs_schema')


def _label_text(target: dict[str, Any] | None) -> str | None:
    if target is None:
        return None
    if 'serialized_value' in target:
        return f'v{target["version"]}'
    return f'->{target["ref"]}'


def change_summary(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """Return one line saying what changed between two read shapes of a variable (None: absent)."""
    if after is None:
        return 'deleted'
    parts = []
    if before is None:
        parts.append('created')
        before = {'labels': {}, 'rollout': {'labels': {}}, 'overrides': [], 'latest_version': None, 'json_schema': None}
        before |= {f: None for f in _OTHER_FIELDS}
    latest_before = (before['latest_version'] or {}).get('version')
    latest_after = (after['latest_version'] or {}).get('version')
    if latest_after is not None and latest_after != latest_before:
        parts.append(f'version {latest_after} created')
    for label in [*before['labels'], *(lb for lb in after['labels'] if lb not in before['labels'])]:
        old, new = _label_text(before['labels'].get(label)), _label_text(after['labels'].get(label))
        if old is None:
            parts.append(f'+{label} {new}')
        elif new is None:
            parts.append(f'-{label}')
        elif old != new:
            parts.append(f'{label} {old} -> {new}')
    if before['rollout'] != after['rollout']:
        old_rollout, new_rollout = rollout_text(before['rollout']['labels']), rollout_text(after['rollout']['labels'])
        parts.append(f'rollout {old_rollout} -> {new_rollout}')
    if before['overrides'] != after['overrides']:
        parts.append(f'overrides {len(before["overrides"])} -> {len(after["overrides"])}')
    if before['json_schema'] != after['json_schema']:
        parts.append('json_schema changed')
    parts += [f'{f} changed' for f in _OTHER_FIELDS if before.get(f) != after.get(f)]
    return '; '.join(parts) or 'no visible change'


@click.command()
@click.argument('name')
@click.option('--limit', type=click.IntRange(1, 1000), default=50, show_default=True, help='Show this many entries.')
@click.option('--json', 'as_json', is_flag=True, help='Print the entries as the server sends them (JSON).')
@connection_options
def history(name: str, limit: int, as_json: bool, base_url: str, api_key: str) -> None:
    """Show who changed NAME, when and how, newest first (entry ids are what rollback --to takes)."""
    with api(base_url, api_key) as client:
        entries: list[dict[str, Any]] = client.request_json('GET', variable_path(name, 'history') + f'?limit={limit}')
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    if not entries:
        click.echo('(no history)')
    for entry in entries:
        line = f'{entry["id"]:>5}  {entry["at"]}  {entry["actor"]}  {entry["action"]}  '
        line += change_summary(entry['before'], entry['after'])
        warnings = entry.get('warnings') or []
        if warnings:
            labels = ', '.join(sorted({repr(w['label']) for w in warnings}))
            line += f'  [schema warnings: {labels}]'
        click.echo(line)


@click.command()
@click.argument('name')
@click.option('--to', 'entry_id', type=click.IntRange(min=1), required=True, help='History entry id to go back to.')
@connection_options
def rollback(name: str, entry_id: int, base_url: str, api_key: str) -> None:
    """Restore the labels, rollout and overrides of NAME as they were after history entry --to (one write)."""
    with api(base_url, api_key) as client:
        answer = request_edit(client, 'POST', variable_path(name, 'rollback'), {'to': entry_id})
    text = f'{name}: labels, rollout and overrides as after entry {entry_id}'
    click.echo(f'{text} (restored)' if answer['changed'] else f'{text} (unchanged: nothing to do)')


commands = [history, rollback]
