"""Targeting per request: the loader decorators, the config paths, and the key-less default."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip('flask')

from flask import Flask
from flasktests_util import body, variable_config, write_config

import remotevars
from flask_remotevars import RemoteVars

MakeApp = Callable[..., Flask]

ROLLOUT = {'a': 0.5, 'b': 0.5}


def _two_keys_in_different_labels(config: remotevars.VariableConfig) -> dict[str, str]:
    """Return two user keys the rollout puts in different labels, with the label of each."""
    found: dict[str, str] = {}
    for i in range(100):
        label = config.resolve_label(f'user-{i}')
        assert label is not None
        if label not in found.values():
            found[f'user-{i}'] = label
        if len(found) == 2:
            return found
    raise AssertionError('no two keys in different labels')


def test_targeting_key_loader_decorator_sends_users_to_their_labels(make_app: MakeApp, tmp_path: Path) -> None:
    config = variable_config('demo_rollout', {'a': 'A', 'b': 'B'}, ROLLOUT)
    app = make_app({'REMOTEVARS_LOCAL_CONFIG': str(write_config(tmp_path / 'c.json', config))})
    client = app.test_client()
    users = _two_keys_in_different_labels(config)
    assert sorted(users.values()) == ['a', 'b']
    for user, label in users.items():
        for _ in range(3):  # the same user always lands in the same label
            answer = body(client.get('/', query_string={'user': user}))
            assert (answer['label'], answer['rollout']) == (label, label.upper())


def test_targeting_paths_in_config(make_app: MakeApp, tmp_path: Path) -> None:
    config = variable_config(
        'demo_tier',
        {'basic': 'basic', 'pro': 'pro'},
        {'basic': 1.0},
        overrides=[
            remotevars.RolloutOverride(
                conditions=[remotevars.ValueEquals(attribute='plan', value='pro')],
                rollout=remotevars.Rollout(labels={'pro': 1.0}),
            )
        ],
    )
    rollout = variable_config('demo_rollout', {'a': 'A', 'b': 'B'}, ROLLOUT)
    app = make_app(
        {
            'REMOTEVARS_LOCAL_CONFIG': str(write_config(tmp_path / 'c.json', config, rollout)),
            'REMOTEVARS_TARGETING_KEY': 'flasktargeting_loaders.key_from_header',
            'REMOTEVARS_ATTRIBUTES': 'flasktargeting_loaders.attributes_from_header',
        },
        bare=True,
    )
    (tmp_path / 'flasktargeting_loaders.py').write_text(
        'def key_from_header(request):\n'
        "    return request.headers.get('X-User')\n"
        'def attributes_from_header(request):\n'
        "    return {'plan': request.headers.get('X-Plan', 'free')}\n"
    )
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        RemoteVars(app)
    finally:
        sys.path.remove(str(tmp_path))
    import flaskdemo

    @app.get('/')
    def view() -> Any:
        return {'tier': flaskdemo.demo_tier.get().value, 'label': flaskdemo.demo_rollout.get().label}

    client = app.test_client()
    assert body(client.get('/', headers={'X-Plan': 'pro'}))['tier'] == 'pro'
    assert body(client.get('/', headers={'X-Plan': 'free'}))['tier'] == 'basic'
    for user, label in _two_keys_in_different_labels(rollout).items():
        assert body(client.get('/', headers={'X-User': user}))['label'] == label
    sys.modules.pop('flasktargeting_loaders', None)


def test_config_path_wins_over_the_decorator(make_app: MakeApp, tmp_path: Path) -> None:
    rollout = variable_config('demo_rollout', {'a': 'A', 'b': 'B'}, ROLLOUT)
    users = _two_keys_in_different_labels(rollout)
    first, second = users
    ext = RemoteVars()
    ext.targeting_key_loader(lambda request: first)
    source = str(write_config(tmp_path / 'c.json', rollout))
    decorated = make_app({'REMOTEVARS_LOCAL_CONFIG': source}, bare=True)
    configured = make_app({'REMOTEVARS_LOCAL_CONFIG': source, 'REMOTEVARS_TARGETING_KEY': lambda r: second}, bare=True)
    import flaskdemo

    for app in (decorated, configured):
        ext.init_app(app)
        app.add_url_rule('/', 'label', lambda: {'label': flaskdemo.demo_rollout.get().label})
    assert body(decorated.test_client().get('/'))['label'] == users[first]
    assert body(configured.test_client().get('/'))['label'] == users[second]


def test_a_failing_loader_is_logged_and_the_request_goes_on(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(bare=True)
    ext = RemoteVars(app)

    @ext.targeting_key_loader
    def broken(request: Any) -> str:
        raise RuntimeError('no user table')

    app.add_url_rule('/', 'ok', lambda: 'ok')
    with caplog.at_level(logging.ERROR, logger='flask_remotevars'):
        response = app.test_client().get('/')
    assert response.status_code == 200
    assert 'targeting key loader raised' in caplog.text


def test_without_a_key_each_request_draws_once(make_app: MakeApp, tmp_path: Path) -> None:
    """No key: the labels of one request agree with each other, and requests still spread over labels."""
    rollout = variable_config('demo_rollout', {'a': 'A', 'b': 'B'}, ROLLOUT)
    app = make_app({'REMOTEVARS_LOCAL_CONFIG': str(write_config(tmp_path / 'c.json', rollout))})
    import flaskdemo

    @app.get('/twice')
    def twice() -> Any:
        return {'labels': [flaskdemo.demo_rollout.get().label for _ in range(20)]}

    client = app.test_client()
    seen = set()
    for _ in range(40):
        labels = body(client.get('/twice'))['labels']
        assert len(set(labels)) == 1
        seen.add(labels[0])
    assert seen == {'a', 'b'}
