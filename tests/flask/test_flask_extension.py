"""``RemoteVars`` set-up: app factories, several apps in one process, config defaults and validation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip('flask')

from flask import Flask
from flasktests_util import body, variable_config, write_config

import remotevars
from flask_remotevars import EXTENSION_KEY, RemoteVars, RemoteVarsState, get_state
from remotevars._settings import SETTINGS_DEFAULTS

MakeApp = Callable[..., Flask]


def test_two_apps_in_one_process_read_their_own_config(make_app: MakeApp, tmp_path: Path) -> None:
    first = write_config(tmp_path / 'first.json', variable_config('demo_banner', {'prod': 'from first'}))
    second = write_config(tmp_path / 'second.json', variable_config('demo_banner', {'prod': 'from second'}))
    app1 = make_app({'REMOTEVARS_LOCAL_CONFIG': str(first)})
    app2 = make_app({'REMOTEVARS_LOCAL_CONFIG': str(second)})
    app3 = make_app()  # no source: code defaults

    assert body(app1.test_client().get('/'))['banner'] == 'from first'
    assert body(app2.test_client().get('/'))['banner'] == 'from second'
    assert body(app3.test_client().get('/'))['banner'] == 'hello'
    # Each app has a client of its own; the variables stay declared once, on the default client,
    # whose registry the apps' clients share.
    import flaskdemo

    states = [get_state(app) for app in (app1, app2, app3)]
    assert len({id(state.client) for state in states}) == 3
    assert remotevars.get_client() not in {state.client for state in states}
    assert all(state.variable('demo_banner') is flaskdemo.demo_banner for state in states)
    # Outside a request the default client (unconfigured here) answers; state.activated() reads the app's.
    assert flaskdemo.demo_banner.get().value == 'hello'
    with states[1].activated():
        assert flaskdemo.demo_banner.get().value == 'from second'
    assert flaskdemo.demo_banner.get().value == 'hello'


def test_app_factory_shares_one_extension_object(make_app: MakeApp, tmp_path: Path) -> None:
    config = write_config(tmp_path / 'c.json', variable_config('demo_limit', {'prod': 5}))
    ext = RemoteVars()
    apps = [make_app({'REMOTEVARS_LOCAL_CONFIG': str(config)}, bare=True) for _ in range(2)]
    for app in apps:
        state = ext.init_app(app)
        assert app.extensions[EXTENSION_KEY] is state
        assert ext.state(app) is state
    assert not hasattr(ext, 'app')
    assert ext.state(apps[0]).client is not ext.state(apps[1]).client
    with apps[0].app_context():
        assert ext.state() is ext.state(apps[0])


def test_second_init_app_is_refused(make_app: MakeApp) -> None:
    app = make_app(bare=True)
    ext = RemoteVars(app)
    with pytest.raises(remotevars.ConfigurationError, match="already initialised on the app 'bare'"):
        ext.init_app(app)
    with pytest.raises(remotevars.ConfigurationError, match='already initialised'):
        RemoteVars(app)


def test_state_of_an_app_without_the_extension_is_a_clear_error(make_app: MakeApp) -> None:
    with pytest.raises(remotevars.ConfigurationError, match='not initialised on the app'):
        get_state(make_app(bare=True))


def test_config_defaults_are_set_without_overwriting(make_app: MakeApp) -> None:
    app = make_app({'REMOTEVARS_POLLING_INTERVAL': 30.0}, bare=True)
    RemoteVars(app)
    assert app.config['REMOTEVARS_POLLING_INTERVAL'] == 30.0
    for name, default in SETTINGS_DEFAULTS.items():
        if name != 'REMOTEVARS_POLLING_INTERVAL':
            assert app.config[name] == default, name


@pytest.mark.parametrize(
    ('config', 'expected'),
    [
        ({'REMOTEVARS_BASE_URL': 'http://127.0.0.1:9'}, r'remotevars\.E001 \(REMOTEVARS_API_KEY\)'),
        ({'REMOTEVARS_API_KEY': 'read-key'}, r'remotevars\.E001 \(REMOTEVARS_BASE_URL\)'),
        ({'REMOTEVARS_LOCAL_CONFIG': '/nonexistent/variables.json'}, r'remotevars\.E002'),
        ({'REMOTEVARS_TARGETING_KEY': 'no_such_module.key'}, r'remotevars\.E003 \(REMOTEVARS_TARGETING_KEY\)'),
        ({'REMOTEVARS_ATTRIBUTES': 'os.no_such_function'}, r'remotevars\.E003 \(REMOTEVARS_ATTRIBUTES\)'),
        ({'REMOTEVARS_MODULES': ['no_such_module_here']}, r'remotevars\.E003 \(REMOTEVARS_MODULES\)'),
        ({'REMOTEVARS_POLLING_INTERVAL': 1}, r'remotevars\.E004'),
        ({'REMOTEVARS_POLLING_INTERVAL': 'often'}, r'remotevars\.E004'),
    ],
)
def test_invalid_settings_raise_in_init_app(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, config: dict[str, Any], expected: str
) -> None:
    monkeypatch.delenv('REMOTEVARS_API_KEY', raising=False)
    monkeypatch.delenv('REMOTEVARS_BASE_URL', raising=False)
    app = make_app(config, bare=True)
    with pytest.raises(remotevars.ConfigurationError, match=expected):
        RemoteVars(app)
    assert EXTENSION_KEY not in app.extensions


def test_every_problem_is_listed_at_once(make_app: MakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('REMOTEVARS_API_KEY', raising=False)
    app = make_app({'REMOTEVARS_BASE_URL': 'http://127.0.0.1:9', 'REMOTEVARS_POLLING_INTERVAL': 0}, bare=True)
    with pytest.raises(remotevars.ConfigurationError) as info:
        RemoteVars(app)
    assert 'E001' in str(info.value)
    assert 'E004' in str(info.value)


def test_unparsable_local_config_raises_and_leaves_no_state(make_app: MakeApp, tmp_path: Path) -> None:
    broken = tmp_path / 'broken.json'
    broken.write_text('{not json')
    app = make_app({'REMOTEVARS_LOCAL_CONFIG': str(broken)}, bare=True)
    with pytest.raises(remotevars.ConfigurationError, match='E002.*is not valid JSON'):
        RemoteVars(app)
    assert EXTENSION_KEY not in app.extensions


def test_modules_setting_imports_declaring_modules(make_app: MakeApp, tmp_path: Path) -> None:
    module = tmp_path / 'flask_declares_vars.py'
    module.write_text("import remotevars\nflask_declared = remotevars.var('flask_declared', default=3)\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        app = make_app({'REMOTEVARS_MODULES': ['flask_declares_vars']}, bare=True)
        state = RemoteVars(app).state(app)
        assert state.variable('flask_declared') is not None
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop('flask_declares_vars', None)
        remotevars.get_client()._registry.pop('flask_declared', None)


def test_passing_a_client_configures_it_from_the_app(make_app: MakeApp, tmp_path: Path) -> None:
    config = write_config(tmp_path / 'c.json', variable_config('demo_limit', {'prod': 7}))
    client = remotevars.Client()
    try:
        app = make_app({'REMOTEVARS_LOCAL_CONFIG': str(config)}, bare=True)
        state = RemoteVars(app, client=client).state(app)
        assert state.client is client
        assert not state.owns_client
        assert client.status().kind == 'local'
    finally:
        client.shutdown()


def test_default_client_serves_reads_outside_requests(make_app: MakeApp, tmp_path: Path) -> None:
    import flaskdemo

    config = write_config(tmp_path / 'c.json', variable_config('demo_limit', {'prod': 42}))
    app = make_app({'REMOTEVARS_LOCAL_CONFIG': str(config)}, bare=True)
    try:
        state = RemoteVars(app, client=remotevars.get_client()).state(app)
        assert state.client is remotevars.get_client()
        assert flaskdemo.demo_limit.get().value == 42
    finally:
        remotevars.configure(None)
    assert flaskdemo.demo_limit.get().value == 10


def test_state_is_a_remotevars_state(make_app: MakeApp) -> None:
    app = make_app()
    assert isinstance(app.extensions[EXTENSION_KEY], RemoteVarsState)
    assert app.extensions[EXTENSION_KEY].started
