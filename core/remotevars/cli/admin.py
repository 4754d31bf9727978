"""Admin commands over the HTTP API: list and show variables, create versions, labels, rollouts and overrides.

They do without a UI what the Logfire UI does, against ``remotevars serve``. Every change is one
request to an edit endpoint of the server (docs/server.md, "Atomic edits"): the server applies it in
one transaction, so concurrent commands never lose each other's changes, and it sends one update
event. A change that changes nothing says so and succeeds. Exit codes and errors: :mod:`._exit`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import click

from remotevars._api import variable_path
from remotevars._diff import override_text, rollout_text, target_text
from remotevars.cli._connection import api, connection_options, request_edit
from remotevars.cli._exit import fail
from remotevars.config import LabeledValue, LabelRef, VariableConfig

__all__ = [
    'add_override',
    'clear_overrides',
    'commands',
    'create_version',
    'delete_label',
    'list_variables',
    'remove_override',
    'set_label',
    'set_rollout',
    'show',
]

_RESERVED_REFS = ('latest', 'code_default')


# -- parsing -------------------------------------------------------------------------------------


def _json_text(value: str) -> str:
    try:
        json.loads(value)
    except ValueError:
        fail('refused', f'VALUE_JSON is not valid JSON: {value!r} (a string needs quotes, e.g. \'"hello"\')')
    return value


def _check_label(label: str, where: str) -> str:
    if label in _RESERVED_REFS:
        fail('refused', f'{where}: {label!r} is reserved and cannot be used as a label name')
    return label


def _weights(pairs: tuple[str, ...], option: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for pair in pairs:
        label, sep, raw = pair.rpartition('=')
        try:
            weight = float(raw)
        except ValueError:
            weight = math.nan
        if not sep or not label or not math.isfinite(weight):
            fail('usage', f'{option}: expected LABEL=WEIGHT with a number, got {pair!r}')
        weights[label] = weight
    return weights


def _condition(pair: str) -> dict[str, Any]:
    # ATTR=VALUE compares with a string (attributes from baggage are strings); ATTR:=JSON with a JSON value.
    if ':=' in pair:
        attribute, _, raw = pair.partition(':=')
        try:
            value: Any = json.loads(raw)
        except ValueError:
            fail('usage', f'--when: {raw!r} is not valid JSON in {pair!r}')
    else:
        attribute, sep, value = pair.partition('=')
        if not sep:
            fail('usage', f'--when: expected ATTR=VALUE or ATTR:=JSON, got {pair!r}')
    if not attribute:
        fail('usage', f'--when: missing attribute name in {pair!r}')
    return {'kind': 'value-equals', 'attribute': attribute, 'value': value}


# -- rendering -----------------------------------------------------------------------------------


def _target_text(target: LabeledValue | LabelRef) -> str:
    # The words every change description uses, with the value when the label holds one.
    text = target_text(target)
    return f'{text}: {target.serialized_value}' if isinstance(target, LabeledValue) else text


def _variable(answer: dict[str, Any]) -> VariableConfig:
    return VariableConfig.model_validate(answer['variable'])


def _done(text: str, answer: dict[str, Any]) -> None:
    click.echo(text if answer['changed'] else f'{text} (unchanged: nothing to do)')


# -- commands ------------------------------------------------------------------------------------


@click.command('list')
@connection_options
def list_variables(base_url: str, api_key: str) -> None:
    """List the variables: name, latest version, labels and rollout."""
    with api(base_url, api_key) as client:
        config = client.list_variables()
    if not config.variables:
        click.echo('(no variables)')
    for name, variable in config.variables.items():
        latest = variable.latest_version.version if variable.latest_version else '-'
        labels = ', '.join(variable.labels) or '-'
        click.echo(f'{name}  latest={latest}  labels=[{labels}]  rollout: {rollout_text(variable.rollout.labels)}')


@click.command()
@click.argument('name')
@connection_options
def show(name: str, base_url: str, api_key: str) -> None:
    """Show a variable: labels, rollout, overrides and version history."""
    with api(base_url, api_key) as client:
        response = client.request('GET', variable_path(name))
        variable = VariableConfig.model_validate(response.json())
        versions: list[dict[str, Any]] = client.request_json('GET', variable_path(name, 'versions'))['versions']
    click.echo(f'{variable.name}' + (f': {variable.description}' if variable.description else ''))
    if variable.aliases:
        click.echo(f'aliases: {", ".join(variable.aliases)}')
    click.echo(f'etag: {response.headers.get("etag", "-")}')
    click.echo('labels:')
    for label, target in variable.labels.items():
        click.echo(f'  {label}  {_target_text(target)}')
    if not variable.labels:
        click.echo('  (none)')
    click.echo(f'rollout: {rollout_text(variable.rollout.labels)}')
    click.echo('overrides:')
    for i, override in enumerate(variable.overrides):
        click.echo(f'  [{i}] {override_text(override)}')
    if not variable.overrides:
        click.echo('  (none)')
    click.echo('versions:')
    for version in versions:
        click.echo(f'  {version["version"]}  {version["created_at"]}  {version["serialized_value"]}')
    if not versions:
        click.echo('  (none)')


@click.command('create-version')
@click.argument('name')
@click.argument('value_json')
@click.option('--label', 'labels', multiple=True, help='Also point this label at the new version (repeatable).')
@connection_options
def create_version(name: str, value_json: str, labels: tuple[str, ...], base_url: str, api_key: str) -> None:
    """Create a new version of NAME holding VALUE_JSON (JSON text, e.g. '"hello"' or 42), in one write."""
    value = _json_text(value_json)
    for label in labels:
        _check_label(label, '--label')
    with api(base_url, api_key) as client:
        answer = request_edit(
            client, 'POST', variable_path(name, 'versions'), {'serialized_value': value, 'labels': list(labels)}
        )
    number = answer['version']
    moved = ''
    if labels:
        names = ', '.join(repr(label) for label in labels)
        moved = f', label{"s" if len(labels) > 1 else ""} {names} -> version {number}'
    click.echo(f'{name}: created version {number}{moved}')


@click.command('set-label')
@click.argument('name')
@click.argument('label')
@click.option('--version', 'version', type=click.IntRange(min=1), help='Point the label at this version.')
@click.option('--ref', help='Point the label at latest, code_default or another label.')
@connection_options
def set_label(name: str, label: str, version: int | None, ref: str | None, base_url: str, api_key: str) -> None:
    """Point LABEL of NAME at a version (--version N) or a reference (--ref latest|code_default|LABEL)."""
    if (version is None) == (ref is None):
        fail('usage', 'pass exactly one of --version or --ref')
    _check_label(label, 'LABEL')
    body = {'version': version} if version is not None else {'ref': ref}
    with api(base_url, api_key) as client:
        answer = request_edit(client, 'PUT', variable_path(name, 'labels', label), body)
    _done(f'{name}: label {label!r} {_target_text(_variable(answer).labels[label])}', answer)


@click.command('delete-label')
@click.argument('name')
@click.argument('label')
@connection_options
def delete_label(name: str, label: str, base_url: str, api_key: str) -> None:
    """Remove LABEL from NAME (refused while the rollout, an override or another label uses it)."""
    with api(base_url, api_key) as client:
        answer = request_edit(client, 'DELETE', variable_path(name, 'labels', label))
    _done(f'{name}: label {label!r} deleted', answer)


@click.command('set-rollout')
@click.argument('name')
@click.argument('weights', nargs=-1)
@connection_options
def set_rollout(name: str, weights: tuple[str, ...], base_url: str, api_key: str) -> None:
    """Set the base rollout of NAME: LABEL=WEIGHT ... (weights sum to at most 1; none: code default)."""
    rollout = _weights(weights, 'WEIGHTS')
    with api(base_url, api_key) as client:
        answer = request_edit(client, 'PUT', variable_path(name, 'rollout'), {'labels': rollout})
    _done(f'{name}: rollout {rollout_text(rollout)}', answer)


@click.command('add-override')
@click.argument('name')
@click.option('--when', 'conditions', multiple=True, help='ATTR=VALUE (string) or ATTR:=JSON; all must match.')
@click.option('--rollout', 'weights', multiple=True, required=True, help='LABEL=WEIGHT for matching requests.')
@connection_options
def add_override(name: str, conditions: tuple[str, ...], weights: tuple[str, ...], base_url: str, api_key: str) -> None:
    """Append an override to NAME: when every --when matches, use the --rollout weights instead."""
    override = {
        'conditions': [_condition(c) for c in conditions],
        'rollout': {'labels': _weights(weights, '--rollout')},
    }
    with api(base_url, api_key) as client:
        answer = request_edit(client, 'POST', variable_path(name, 'overrides'), override)
    click.echo(f'{name}: override [{len(answer["variable"]["overrides"]) - 1}] added')


@click.command('remove-override')
@click.argument('name')
@click.argument('index', type=click.IntRange(min=0))
@connection_options
def remove_override(name: str, index: int, base_url: str, api_key: str) -> None:
    """Remove override INDEX of NAME (as numbered by `remotevars show`, from 0)."""
    with api(base_url, api_key) as client:
        request_edit(client, 'DELETE', variable_path(name, 'overrides', index))
    click.echo(f'{name}: override [{index}] removed')


@click.command('clear-overrides')
@click.argument('name')
@connection_options
def clear_overrides(name: str, base_url: str, api_key: str) -> None:
    """Remove every override of NAME."""
    with api(base_url, api_key) as client:
        answer = request_edit(client, 'DELETE', variable_path(name, 'overrides'))
    _done(f'{name}: overrides cleared', answer)


commands = [
    list_variables,
    show,
    create_version,
    set_label,
    delete_label,
    set_rollout,
    add_override,
    remove_override,
    clear_overrides,
]
