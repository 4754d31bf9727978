"""Per request: one pinned snapshot (a view and its template agree), and the ``remotevars`` Jinja global."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip('flask')

from flask import Flask, render_template_string
from flasktests_util import body, variable_config, write_config

import remotevars
from flask_remotevars import RemoteVars, get_state
from flask_remotevars.signals import variables_refreshed
from remotevars._scope import SCOPE

MakeApp = Callable[..., Flask]


def test_a_request_keeps_its_snapshot_while_the_config_changes(make_app: MakeApp, tmp_path: Path) -> None:
    import flaskdemo

    source = write_config(tmp_path / 'c.json', variable_config('demo_banner', {'prod': 'before'}))
    app = make_app({'REMOTEVARS_LOCAL_CONFIG': str(source)})
    refreshed = threading.Event()

    def on_refresh(sender: Flask, **kwargs: Any) -> None:
        refreshed.set()

    variables_refreshed.connect(on_refresh, app)

    @app.get('/change')
    def change() -> Any:
        before = flaskdemo.demo_banner.get().value
        write_config(source, variable_config('demo_banner', {'prod': 'after'}))
        assert refreshed.wait(10), 'the file watcher did not apply the new config'
        # The app's client has the new config now, but this request still reads its pinned one.
        client = get_state().client
        scope = SCOPE.get()
        pinned = None if scope is None else scope.pinned
        assert pinned is not None
        assert pinned[client] is not client._snapshot
        after = flaskdemo.demo_banner.get().value
        page = render_template_string('{{ remotevars.demo_banner }}')
        return {'before': before, 'after': after, 'page': page}

    client = app.test_client()
    assert body(client.get('/change')) == {'before': 'before', 'after': 'before', 'page': 'before'}
    assert body(client.get('/'))['banner'] == 'after'
    assert client.get('/page').text.startswith('after|')
    variables_refreshed.disconnect(on_refresh, app)


def test_pins_are_released_after_each_request(make_app: MakeApp, tmp_path: Path) -> None:
    from remotevars._targeting import current_targeting

    app = make_app()
    app.add_url_rule('/boom', 'boom', lambda: str(1 / 0))
    app.config['PROPAGATE_EXCEPTIONS'] = False
    client = app.test_client()
    assert client.get('/').status_code == 200
    assert (SCOPE.get(), current_targeting()) == (None, None)
    # An error in the view still tears the pin down.
    assert client.get('/boom').status_code == 500
    assert (SCOPE.get(), current_targeting()) == (None, None)


def test_a_before_request_that_answers_first_leaves_nothing_to_tear_down(make_app: MakeApp) -> None:
    app = make_app(bare=True)
    app.before_request(lambda: 'short-circuit')  # runs before the extension's hook
    RemoteVars(app)
    assert app.test_client().get('/').text == 'short-circuit'


def test_jinja_global_renders_values_with_the_request_targeting(make_app: MakeApp, tmp_path: Path) -> None:
    rollout = variable_config('demo_rollout', {'a': 'A', 'b': 'B'}, {'a': 0.5, 'b': 0.5})
    banner = variable_config('demo_banner', {'prod': 'Sale today'})
    app = make_app({'REMOTEVARS_LOCAL_CONFIG': str(write_config(tmp_path / 'c.json', rollout, banner))})
    client = app.test_client()
    for i in range(10):
        user = f'user-{i}'
        label = rollout.resolve_label(user)
        assert label is not None
        assert client.get('/page', query_string={'user': user}).text == f'Sale today|{label.upper()}|{label}'
    # Without a user the request draws once: the view's label and the template's value agree.
    for _ in range(20):
        _banner, value, label = client.get('/page').text.split('|')
        assert value == label.upper()


def test_jinja_global_unknown_names_and_item_access(make_app: MakeApp) -> None:
    app = make_app()
    with app.test_request_context():
        assert render_template_string('[{{ remotevars.no_such_variable }}]') == '[]'
        assert render_template_string("{{ remotevars['demo_limit'] + 1 }}") == '11'
        assert render_template_string('{{ remotevars._hidden is defined }}') == 'False'
        assert 'demo_banner' in repr(app.jinja_env.globals['remotevars'])


def test_jinja_global_outside_a_request_reads_the_app_config(make_app: MakeApp, tmp_path: Path) -> None:
    source = write_config(tmp_path / 'c.json', variable_config('demo_banner', {'prod': 'app config'}))
    app = make_app({'REMOTEVARS_LOCAL_CONFIG': str(source)})
    with app.app_context():
        assert render_template_string('{{ remotevars.demo_banner }}') == 'app config'


def test_an_app_without_a_source_serves_code_defaults(make_app: MakeApp) -> None:
    """An app that configures nothing serves code defaults with reason no_provider."""
    import flaskdemo

    app = make_app()
    with app.test_request_context():
        app.preprocess_request()
        result = flaskdemo.demo_banner.get()
        assert (result.value, result.reason) == ('hello', 'no_provider')
        assert isinstance(result, remotevars.ResolvedVariable)
