"""The blinker signals: payloads, the thread they come from, per-app senders, receivers that raise."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip('flask')

from flask import Flask
from flasktests_util import variable_config, write_config

import remotevars
from flask_remotevars.signals import variable_updated, variables_refreshed

MakeApp = Callable[..., Flask]


class Recorder:
    """A receiver that keeps what it got (and in which thread) and wakes a waiting test."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, dict[str, Any], str]] = []
        self.event = threading.Event()

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        self.calls.append((sender, kwargs, threading.current_thread().name))
        self.event.set()

    def wait(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count:
            assert time.monotonic() < deadline, f'{len(self.calls)} of {count} signals after {timeout}s'
            self.event.wait(0.05)
            self.event.clear()


def test_signals_carry_the_changes(make_app: MakeApp, tmp_path: Path) -> None:
    source = write_config(tmp_path / 'c.json', variable_config('demo_banner', {'prod': 'one'}))
    updated, refreshed = Recorder(), Recorder()
    app = make_app({'REMOTEVARS_LOCAL_CONFIG': str(source)}, bare=True)
    variable_updated.connect(updated, app)
    variables_refreshed.connect(refreshed, app)
    from flask_remotevars import RemoteVars

    RemoteVars(app)  # the first load happens in init_app, in this thread
    assert [(c[0], c[1]['name'], c[1]['old']) for c in updated.calls] == [(app, 'demo_banner', None)]
    assert updated.calls[0][1]['new'] == remotevars.VariableState(
        labels={'prod': 1}, rollout={'prod': 1.0}, values={'prod': '"one"'}
    )
    assert len(refreshed.calls) == 1
    assert refreshed.calls[0][1]['source'].endswith('c.json')
    assert [c.kind for c in refreshed.calls[0][1]['changes']] == ['created']

    write_config(
        source,
        variable_config('demo_banner', {'prod': 'one', 'next': 'two'}, {'next': 1.0}),
        variable_config('demo_limit', {'prod': 3}),
    )
    refreshed.wait(2)
    sender, payload, thread = refreshed.calls[1]
    assert sender is app
    assert thread != threading.main_thread().name  # sent from the file watcher's thread
    assert [(c.name, c.kind) for c in payload['changes']] == [('demo_banner', 'updated'), ('demo_limit', 'created')]
    by_name = {c[1]['name']: c[1] for c in updated.calls[1:]}
    assert by_name['demo_banner']['old'] == remotevars.VariableState(
        labels={'prod': 1}, rollout={'prod': 1.0}, values={'prod': '"one"'}
    )
    assert by_name['demo_banner']['new'] == remotevars.VariableState(
        labels={'prod': 1, 'next': 2}, rollout={'next': 1.0}, values={'prod': '"one"', 'next': '"two"'}
    )
    assert by_name['demo_limit']['old'] is None
    variable_updated.disconnect(updated, app)
    variables_refreshed.disconnect(refreshed, app)


def test_receivers_hear_only_the_app_they_connect_to(make_app: MakeApp, tmp_path: Path) -> None:
    first, second, everyone = Recorder(), Recorder(), Recorder()
    source = write_config(tmp_path / 'c.json', variable_config('demo_banner', {'prod': 'x'}))
    apps = [make_app(bare=True) for _ in range(2)]
    apps[0].config['REMOTEVARS_LOCAL_CONFIG'] = apps[1].config['REMOTEVARS_LOCAL_CONFIG'] = str(source)
    variables_refreshed.connect(first, apps[0])
    variables_refreshed.connect(second, apps[1])
    variables_refreshed.connect(everyone)
    from flask_remotevars import RemoteVars

    ext = RemoteVars()
    for app in apps:
        ext.init_app(app)
    assert [c[0] for c in first.calls] == [apps[0]]
    assert [c[0] for c in second.calls] == [apps[1]]
    assert [c[0] for c in everyone.calls] == apps
    for signal_receiver, sender in ((first, apps[0]), (second, apps[1])):
        variables_refreshed.disconnect(signal_receiver, sender)
    variables_refreshed.disconnect(everyone)


def test_a_failing_receiver_is_logged_and_the_others_still_run(
    make_app: MakeApp, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError('receiver bug')

    good_updated, good_refreshed = Recorder(), Recorder()
    variable_updated.connect(broken)
    variables_refreshed.connect(broken)
    variable_updated.connect(good_updated)
    variables_refreshed.connect(good_refreshed)
    source = write_config(tmp_path / 'c.json', variable_config('demo_banner', {'prod': 'x'}))
    try:
        with caplog.at_level(logging.ERROR, logger='flask_remotevars'):
            make_app({'REMOTEVARS_LOCAL_CONFIG': str(source)})
    finally:
        for signal, receiver in (
            (variable_updated, broken),
            (variables_refreshed, broken),
            (variable_updated, good_updated),
            (variables_refreshed, good_refreshed),
        ):
            signal.disconnect(receiver)
    assert [c[1]['name'] for c in good_updated.calls] == ['demo_banner']
    assert len(good_refreshed.calls) == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any("'remotevars-variable-updated' signal raised" in m for m in messages)
    assert any("'remotevars-variables-refreshed' signal raised" in m for m in messages)
    assert all(r.exc_info is not None for r in caplog.records if 'signal raised' in r.getMessage())


def test_muted_signals_send_nothing(make_app: MakeApp, tmp_path: Path) -> None:
    receiver = Recorder()
    variables_refreshed.connect(receiver)
    source = write_config(tmp_path / 'c.json', variable_config('demo_banner', {'prod': 'x'}))
    try:
        if not hasattr(variables_refreshed, 'muted'):
            pytest.skip('this blinker cannot mute signals')
        with variables_refreshed.muted():
            make_app({'REMOTEVARS_LOCAL_CONFIG': str(source)})
    finally:
        variables_refreshed.disconnect(receiver)
    assert receiver.calls == []


def test_shutdown_stops_forwarding(make_app: MakeApp, tmp_path: Path) -> None:
    from flask_remotevars import get_state

    receiver = Recorder()
    client = remotevars.Client()
    source = write_config(tmp_path / 'c.json', variable_config('demo_banner', {'prod': 'x'}))
    app = make_app({'REMOTEVARS_LOCAL_CONFIG': str(source), 'REMOTEVARS_WATCH_LOCAL_CONFIG': False}, bare=True)
    variables_refreshed.connect(receiver, app)
    try:
        from flask_remotevars import RemoteVars

        RemoteVars(app, client=client)
        assert len(receiver.calls) == 1
        get_state(app).shutdown()
        client.configure(remotevars.LocalVariablesOptions(config=str(source), watch=False))
        assert len(receiver.calls) == 1
    finally:
        variables_refreshed.disconnect(receiver, app)
        client.shutdown()


def test_a_server_change_reaches_the_receivers_from_the_refresh_thread(make_app: MakeApp, tmp_path: Path) -> None:
    from tests.serverutil import running_server, seed_variable, variable_body

    updated = Recorder()
    with running_server(tmp_path / 'vars.sqlite') as server:
        seed_variable(server.url, server.write_key, variable_body('demo_banner', 'first'))
        app = make_app({'REMOTEVARS_BASE_URL': server.url, 'REMOTEVARS_API_KEY': server.read_key}, bare=True)
        variable_updated.connect(updated, app)
        try:
            from flask_remotevars import RemoteVars, get_state

            RemoteVars(app)
            updated.wait(1)  # the first fetch creates the variable
            deadline = time.monotonic() + 10
            while server.subscriber_count < 1:  # the update stream is open: changes are pushed
                assert time.monotonic() < deadline, 'no update stream'
                time.sleep(0.02)
            seed_variable(server.url, server.write_key, variable_body('demo_banner', 'second'))
            updated.wait(2)
            sender, payload, thread = updated.calls[1]
            assert (sender, payload['name'], payload['kind']) == (app, 'demo_banner', 'updated')
            assert payload['old'].labels == {'production': 1}
            assert payload['new'].labels == {'production': 2}
            assert payload['change'] == remotevars.VariableChange('demo_banner', payload['old'], payload['new'])
            assert thread.startswith('remotevars-remote')
        finally:
            variable_updated.disconnect(updated, app)
            get_state(app).shutdown()
