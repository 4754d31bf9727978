"""The reference SDK (logfire==5.4.0) pointed at our server: same config, same values, SSE updates.

On both storage backends; the SSE update is written through a second instance on the same database, so
the SDK's stream gets it through the fan-out between instances. Skipped only when the reference SDK
cannot be imported (it is a test-only dependency in the ``dev`` extra).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from remotevars.config import VariablesConfig
from tests.serverutil import RunningServer, api_client, running_server, seed_variable, variable_body

logfire = pytest.importorskip('logfire', reason='the reference SDK logfire==5.4.0 is not installed (dev extra)')
pytest.importorskip('pydantic_handlebars', reason='logfire variables need pydantic-handlebars (dev extra)')

MODEL_BODY: dict[str, Any] = variable_body(
    'model_name',
    labels={
        'stable': {'target_type': 'version', 'version': 1, 'serialized_value': '"gpt-small"'},
        'canary': {'target_type': 'version', 'version': 2, 'serialized_value': '"gpt-large"'},
        'newest': {'target_type': 'latest'},
        'mirror': {'target_type': 'label', 'target_label': 'stable'},
        'off': {'target_type': 'code_default'},
    },
    rollout={'stable': 0.5, 'canary': 0.3, 'off': 0.1},
    overrides=[
        {
            'conditions': [{'kind': 'value-equals', 'attribute': 'plan', 'value': 'enterprise'}],
            'rollout': {'labels': {'newest': 1.0}},
        },
        {
            'conditions': [{'kind': 'value-matches-regex', 'attribute': 'email', 'pattern': '@example\\.com$'}],
            'rollout': {'labels': {'mirror': 1.0}},
        },
    ],
)
ATTRIBUTES: list[dict[str, Any]] = [{}, {'plan': 'enterprise'}, {'email': 'a@example.com'}, {'plan': 'free'}]


@pytest.fixture(params=['sqlite', 'postgresql'])
def database(request: pytest.FixtureRequest, db_path: Path) -> str | Path:
    """The database of the servers: SQLite, or a fresh PostgreSQL database."""
    return db_path if request.param == 'sqlite' else str(request.getfixturevalue('postgres_url'))


@pytest.fixture
def server(database: str | Path) -> Iterator[RunningServer]:
    """The server the SDK reads from."""
    with running_server(database, keepalive_interval=0.2) as running:
        yield running


@pytest.fixture
def other_instance(database: str | Path) -> Iterator[RunningServer]:
    """A second server on the same database (as behind a load balancer)."""
    with running_server(database, keepalive_interval=0.2) as running:
        yield running


@pytest.fixture
def reference(server: RunningServer) -> Iterator[Any]:
    """A local (non-global) logfire instance reading variables from our server."""
    seed_variable(server.url, server.write_key, MODEL_BODY)
    seed_variable(server.url, server.write_key, variable_body('max_tokens', 256))
    threads_before = set(threading.enumerate())
    instance = logfire.configure(
        local=True,
        send_to_logfire=False,
        console=False,
        api_key=server.read_key,
        variables=logfire.VariablesOptions(polling_interval=60, instrument=False),
        advanced=logfire.AdvancedOptions(base_url=server.url),
    )
    yield instance
    instance.config.get_variable_provider().shutdown(timeout_millis=3000)
    server.stop()  # ends the SDK's SSE stream, whose thread has no read timeout
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    leaked = [t.name for t in set(threading.enumerate()) - threads_before if t.name.startswith('Logfire')]
    assert leaked == []


def _our_config(server: RunningServer) -> VariablesConfig:
    with api_client(server.url, server.read_key) as client:
        return VariablesConfig.model_validate(client.get('/v1/variables/').json())


def test_reference_sdk_fetches_the_same_config(server: RunningServer, reference: Any) -> None:
    model = reference.var('model_name', default='fallback')
    model.get()  # blocks for the first fetch
    theirs = reference.config.get_variable_provider().get_all_variables_config()
    ours = _our_config(server)
    assert theirs.model_dump(mode='json') == ours.model_dump(mode='json')
    assert sorted(theirs.variables) == ['max_tokens', 'model_name']


def test_reference_sdk_resolves_the_same_values(server: RunningServer, reference: Any) -> None:
    model = reference.var('model_name', default='fallback')
    tokens = reference.var('max_tokens', default=1)
    ours = _our_config(server)
    seen = set()
    for i in range(300):
        key = f'user-{i}'
        attributes = ATTRIBUTES[i % len(ATTRIBUTES)]
        theirs = model.get(targeting_key=key, attributes=attributes)
        value, label, version = ours.variables['model_name'].resolve_value(key, attributes)
        if value is None:
            # Routed to the code default (remainder or a code_default ref): the SDK reports no label then.
            assert (theirs.value, theirs.version) == ('fallback', None), (key, attributes)
        else:
            assert (theirs.value, theirs.label, theirs.version) == (value.strip('"'), label, version), (key, attributes)
        seen.add(theirs.value)
    assert seen == {'gpt-small', 'gpt-large', 'fallback'}
    assert tokens.get(targeting_key='anyone').value == 256
    assert model.get(label='newest').value == 'gpt-large'


def test_reference_sdk_receives_sse_updates(
    server: RunningServer, other_instance: RunningServer, reference: Any
) -> None:
    tokens = reference.var('max_tokens', default=1)
    assert tokens.get().value == 256
    provider = reference.config.get_variable_provider()
    deadline = time.monotonic() + 5
    while not provider._sse_connected and time.monotonic() < deadline:  # reference internals, test only
        time.sleep(0.02)
    # Polling is every 60 s: a change seen within seconds came through the SSE stream, from the other instance.
    seed_variable(other_instance.url, other_instance.write_key, variable_body('max_tokens', 512))
    deadline = time.monotonic() + 5
    while tokens.get().value != 512:
        assert time.monotonic() < deadline, 'the reference SDK did not pick up the change via SSE'
        time.sleep(0.02)
    with api_client(other_instance.url, other_instance.write_key) as client:
        assert client.delete('/v1/variables/max_tokens/').status_code == 204
    deadline = time.monotonic() + 5
    while tokens.get().value != 1:
        assert time.monotonic() < deadline, 'the reference SDK did not see the delete'
        time.sleep(0.02)
    other_instance.stop()  # its request threads would otherwise look like threads the SDK left behind


def test_reference_sdk_writes_are_accepted(server: RunningServer) -> None:
    from logfire.variables import config as ref
    from logfire.variables.abstract import VariableAlreadyExistsError, VariableNotFoundError

    instance = logfire.configure(
        local=True,
        send_to_logfire=False,
        console=False,
        api_key=server.write_key,
        variables=logfire.VariablesOptions(polling_interval=60, instrument=False),
        advanced=logfire.AdvancedOptions(base_url=server.url),
    )
    provider = instance.config.get_variable_provider()
    try:
        config = ref.VariableConfig(
            name='greeting',
            labels={
                'prod': ref.LabeledValue(version=7, serialized_value='"hello"'),
                'next': ref.LabelRef(ref='latest'),
                'alias': ref.LabelRef(ref='prod'),
            },
            rollout=ref.Rollout(labels={'prod': 0.75, 'next': 0.25}),
            overrides=[
                ref.RolloutOverride(
                    conditions=[ref.ValueIsIn(attribute='country', values=['FR', 'DE'])],
                    rollout=ref.Rollout(labels={'alias': 1.0}),
                )
            ],
            aliases=['salutation'],
            example='"hi"',
        )
        provider.create_variable(config)
        with pytest.raises(VariableAlreadyExistsError):
            provider.create_variable(config)
        stored = _our_config(server).variables['greeting']
        assert stored.labels['prod'].model_dump() == {'version': 1, 'serialized_value': '"hello"'}
        assert stored.resolve_value('k', {'country': 'FR'}) == ('"hello"', 'alias', 1)
        config.labels['prod'] = ref.LabeledValue(version=1, serialized_value='"bonjour"')
        provider.update_variable('greeting', config)
        assert _our_config(server).variables['greeting'].latest_version is not None
        assert _our_config(server).variables['greeting'].latest_version.version == 2  # type: ignore[union-attr]
        provider.upsert_variable_type(ref.VariableTypeConfig(name='Greeting', json_schema={'type': 'string'}))
        assert list(provider.list_variable_types()) == ['Greeting']
        provider.delete_variable('greeting')
        assert _our_config(server).variables == {}
        with pytest.raises(VariableNotFoundError):
            provider.delete_variable('greeting')
    finally:
        provider.shutdown(timeout_millis=3000)
        server.stop()
