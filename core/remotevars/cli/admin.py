"""Admin commands over the HTTP API: list and show variables, create versions, move labels, set rollouts.

They do without a UI what the Logfire UI does, against ``remotevars serve`` (the history and
create-version commands use its extension endpoints, see docs/server.md). Changes are read-modify-write
of one variable: the command fetches it, edits it, and PUTs it back.

Exit codes: 0 done, 1 refused by the server or invalid input, 2 usage or connection error; the reason
is one line on stderr, which never contains the API key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, ParamSpec, TypeVar

import click

from remotevars._api import ApiClient, config_to_api_body
from remotevars._errors import ApiConnectionError, ApiError, RemoteVarsError
from remotevars.config import LabeledValue, LabelRef, VariableConfig

__all__ = [
    'add_override',
    'clear_overrides',
    'commands',
    'create_version',
    'list_variables',
    'set_label',
    'set_rollout',
    'show',
]

P = ParamSpec('P')
R = TypeVar('R')

_RESERVED_REFS = ('latest', 'code_default')


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f'error: {message}', err=True)
    raise SystemExit(code)


def _connection_options(command: Callable[P, R]) -> Callable[P, R]:
    command = click.option(
        '--api-key',
        envvar='REMOTEVARS_API_KEY',
        required=True,
        help='API key (env REMOTEVARS_API_KEY); a write key for changes.',
    )(command)
    return click.option(
        '--base-url',
        envvar='REMOTEVARS_BASE_URL',
        required=True,
        help='Server origin, e.g. http://127.0.0.1:8000 (env REMOTEVARS_BASE_URL).',
    )(command)


@contextmanager
def _api(base_url: str, api_key: str) -> Iterator[ApiClient]:
    """Yield a client; turn API failures into a one-line reason and exit code 1 (refused) or 2 (connection)."""
    try:
        with ApiClient(base_url, api_key) as client:
            yield client
    except ApiConnectionError as exc:
        _fail(f'cannot reach the server: {exc}', 2)
    except ApiError as exc:
        _fail(str(exc), 2 if exc.status is None or exc.status >= 500 else 1)
    except RemoteVarsError as exc:
        _fail(str(exc), 1)


# -- HTTP helpers (extension endpoints of remotevars serve) ------------------------------------------


def _fetch(client: ApiClient, name: str) -> VariableConfig:
    data = client.request_json('GET', f'/v1/variables/{name}/')
    return VariableConfig.model_validate(data)


def _versions(client: ApiClient, name: str) -> list[dict[str, Any]]:
    data = client.request_json('GET', f'/v1/variables/{name}/versions/')
    versions: list[dict[str, Any]] = data['versions']
    return versions


def _new_version(client: ApiClient, name: str, serialized_value: str) -> int:
    data = client.request_json(
        'POST', f'/v1/variables/{name}/versions/', json_body={'serialized_value': serialized_value}
    )
    return int(data['version'])


def _put(client: ApiClient, config: VariableConfig) -> None:
    body = config_to_api_body(config)
    if config.type_name is not None:
        body['type_name'] = config.type_name  # our server keeps it; the Logfire write format has no such key
    client.request('PUT', f'/v1/variables/{config.name}/', json_body=body)


# -- parsing -------------------------------------------------------------------------------------


def _json_text(value: str) -> str:
    try:
        json.loads(value)
    except ValueError:
        _fail(f'VALUE_JSON is not valid JSON: {value!r} (a string needs quotes, e.g. \'"hello"\')', 1)
    return value


def _weights(pairs: tuple[str, ...], option: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for pair in pairs:
        label, sep, raw = pair.rpartition('=')
        try:
            weight = float(raw)
        except ValueError:
            weight = math.nan
        if not sep or not label or not math.isfinite(weight):
            _fail(f'{option}: expected LABEL=WEIGHT with a number, got {pair!r}', 2)
        weights[label] = weight
    return weights


def _condition(pair: str) -> dict[str, Any]:
    # ATTR=VALUE compares with a string (attributes from baggage are strings); ATTR:=JSON with a JSON value.
    if ':=' in pair:
        attribute, _, raw = pair.partition(':=')
        try:
            value: Any = json.loads(raw)
        except ValueError:
            _fail(f'--when: {raw!r} is not valid JSON in {pair!r}', 2)
    else:
        attribute, sep, value = pair.partition('=')
        if not sep:
            _fail(f'--when: expected ATTR=VALUE or ATTR:=JSON, got {pair!r}', 2)
    if not attribute:
        _fail(f'--when: missing attribute name in {pair!r}', 2)
    return {'kind': 'value-equals', 'attribute': attribute, 'value': value}


def _modified(config: VariableConfig, **changes: Any) -> VariableConfig:
    """Return ``config`` with ``changes`` applied, validated; exits 1 naming the problem when invalid."""
    data = config.model_dump()
    data.update(changes)
    try:
        return VariableConfig.model_validate(data)
    except ValueError as exc:
        _fail(' '.join(str(exc).split()), 1)


# -- rendering -----------------------------------------------------------------------------------


def _target_text(target: LabeledValue | LabelRef) -> str:
    if isinstance(target, LabeledValue):
        return f'version {target.version}: {target.serialized_value}'
    if target.ref == 'latest':
        return f'-> latest (version {target.version})' if target.version is not None else '-> latest (no versions)'
    if target.ref == 'code_default':
        return '-> code default'
    return f'-> label {target.ref!r}'


def _rollout_text(labels: dict[str, float]) -> str:
    if not labels:
        return 'everyone -> code default'
    parts = [f'{label}={weight:g}' for label, weight in labels.items()]
    rest = 1.0 - sum(labels.values())
    if rest > 1e-9:
        parts.append(f'code default={rest:g}')
    return ', '.join(parts)


def _condition_text(condition: Any) -> str:
    data = condition.model_dump(mode='json')
    extra = {k: v for k, v in data.items() if k not in ('kind', 'attribute')}
    operand = ' '.join(json.dumps(v) for v in extra.values())
    return f'{data["attribute"]} {data["kind"]} {operand}'.rstrip()


# -- commands ------------------------------------------------------------------------------------


@click.command('list')
@_connection_options
def list_variables(base_url: str, api_key: str) -> None:
    """List the variables: name, latest version, labels and rollout."""
    with _api(base_url, api_key) as client:
        config = client.list_variables()
    if not config.variables:
        click.echo('(no variables)')
    for name, variable in config.variables.items():
        latest = variable.latest_version.version if variable.latest_version else '-'
        labels = ', '.join(variable.labels) or '-'
        click.echo(f'{name}  latest={latest}  labels=[{labels}]  rollout: {_rollout_text(variable.rollout.labels)}')


@click.command()
@click.argument('name')
@_connection_options
def show(name: str, base_url: str, api_key: str) -> None:
    """Show a variable: labels, rollout, overrides and version history."""
    with _api(base_url, api_key) as client:
        variable = _fetch(client, name)
        versions = _versions(client, name)
    click.echo(f'{variable.name}' + (f': {variable.description}' if variable.description else ''))
    if variable.aliases:
        click.echo(f'aliases: {", ".join(variable.aliases)}')
    click.echo('labels:')
    for label, target in variable.labels.items():
        click.echo(f'  {label}  {_target_text(target)}')
    if not variable.labels:
        click.echo('  (none)')
    click.echo(f'rollout: {_rollout_text(variable.rollout.labels)}')
    click.echo('overrides:')
    for i, override in enumerate(variable.overrides):
        conditions = ' and '.join(_condition_text(c) for c in override.conditions) or 'always'
        click.echo(f'  [{i}] when {conditions}: {_rollout_text(override.rollout.labels)}')
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
@click.option('--label', help='Also point this label at the new version.')
@_connection_options
def create_version(name: str, value_json: str, label: str | None, base_url: str, api_key: str) -> None:
    """Create a new version of NAME holding VALUE_JSON (JSON text, e.g. '"hello"' or 42)."""
    value = _json_text(value_json)
    if label in _RESERVED_REFS:
        _fail(f'--label: {label!r} is reserved and cannot be used as a label name', 1)
    with _api(base_url, api_key) as client:
        number = _new_version(client, name, value)
        if label is not None:
            config = _fetch(client, name)
            labels = {**config.labels, label: LabeledValue(version=number, serialized_value=value)}
            _put(client, _modified(config, labels=labels))
    click.echo(f'{name}: created version {number}' + (f', label {label!r} -> version {number}' if label else ''))


@click.command('set-label')
@click.argument('name')
@click.argument('label')
@click.option('--version', 'version', type=click.IntRange(min=1), help='Point the label at this version.')
@click.option('--ref', help='Point the label at latest, code_default or another label.')
@_connection_options
def set_label(name: str, label: str, version: int | None, ref: str | None, base_url: str, api_key: str) -> None:
    """Point LABEL of NAME at a version (--version N) or a reference (--ref latest|code_default|LABEL)."""
    if (version is None) == (ref is None):
        _fail('pass exactly one of --version or --ref', 2)
    if label in _RESERVED_REFS:
        _fail(f'{label!r} is reserved and cannot be used as a label name', 1)
    with _api(base_url, api_key) as client:
        config = _fetch(client, name)
        target: LabeledValue | LabelRef
        if version is not None:
            values = {v['version']: v['serialized_value'] for v in _versions(client, name)}
            if version not in values:
                _fail(f'{name} has no version {version} (versions: {sorted(values) or "none"})', 1)
            target = LabeledValue(version=version, serialized_value=values[version])
        else:
            assert ref is not None
            target = LabelRef(ref=ref)
        _put(client, _modified(config, labels={**config.labels, label: target}))
    click.echo(f'{name}: label {label!r} {_target_text(target)}')


@click.command('set-rollout')
@click.argument('name')
@click.argument('weights', nargs=-1)
@_connection_options
def set_rollout(name: str, weights: tuple[str, ...], base_url: str, api_key: str) -> None:
    """Set the base rollout of NAME: LABEL=WEIGHT ... (weights sum to at most 1; none: code default)."""
    rollout = _weights(weights, 'WEIGHTS')
    with _api(base_url, api_key) as client:
        config = _fetch(client, name)
        _put(client, _modified(config, rollout={'labels': rollout}))
    click.echo(f'{name}: rollout {_rollout_text(rollout)}')


@click.command('add-override')
@click.argument('name')
@click.option('--when', 'conditions', multiple=True, help='ATTR=VALUE (string) or ATTR:=JSON; all must match.')
@click.option('--rollout', 'weights', multiple=True, required=True, help='LABEL=WEIGHT for matching requests.')
@_connection_options
def add_override(name: str, conditions: tuple[str, ...], weights: tuple[str, ...], base_url: str, api_key: str) -> None:
    """Append an override to NAME: when every --when matches, use the --rollout weights instead."""
    override = {
        'conditions': [_condition(c) for c in conditions],
        'rollout': {'labels': _weights(weights, '--rollout')},
    }
    with _api(base_url, api_key) as client:
        config = _fetch(client, name)
        overrides = [o.model_dump() for o in config.overrides] + [override]
        _put(client, _modified(config, overrides=overrides))
    click.echo(f'{name}: override [{len(overrides) - 1}] added')


@click.command('clear-overrides')
@click.argument('name')
@_connection_options
def clear_overrides(name: str, base_url: str, api_key: str) -> None:
    """Remove every override of NAME."""
    with _api(base_url, api_key) as client:
        config = _fetch(client, name)
        _put(client, _modified(config, overrides=[]))
    click.echo(f'{name}: overrides cleared')


commands = [list_variables, show, create_version, set_label, set_rollout, add_override, clear_overrides]
