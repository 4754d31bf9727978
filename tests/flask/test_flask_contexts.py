"""Reads outside the request's own hooks: streamed responses, app contexts, ``flask shell`` and gunicorn.

Flask 3.1 tears a request down before a streamed body is sent and pushes its contexts again to stream it;
reads there must still see the app's config, with the request's pinned snapshot and targeting. Reads in
an app context without a request (``flask shell``, CLI commands, jobs) must see the app's config too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

pytest.importorskip('flask')

from flask import Flask
from flasktests_util import variable_config, write_config

import remotevars
from tests.serverutil import free_port

MakeApp = Callable[..., Flask]
BIN = Path(sys.executable).parent
ROOT = Path(__file__).parents[2]
APP = 'tests/flask/flaskdemo.py:create_app'


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / 'vars.json',
        variable_config('demo_banner', {'production': 'configured'}),
        variable_config('demo_rollout', {'a': 'A', 'b': 'B'}, rollout={'a': 0.5, 'b': 0.5}),
    )


def test_streamed_response_reads_the_request_config(make_app: MakeApp, config_file: Path) -> None:
    app = make_app({'REMOTEVARS_LOCAL_CONFIG': str(config_file)})
    client = app.test_client()
    for _ in range(20):
        # No targeting key: the request draws one; the stream must keep it, so the view's label and the
        # stream's agree every time (a fresh draw would disagree about half the time).
        in_view, banner, reason, in_stream = client.get('/stream').get_data(as_text=True).split('|')
        assert (banner, reason) == ('configured', 'resolved')
        assert in_view == in_stream
    banner, rollout, label = client.get('/stream-template?user=u1').get_data(as_text=True).split('|')
    assert banner == 'configured'
    assert rollout == {'a': 'A', 'b': 'B'}[label]


def test_app_context_reads_the_app_config(make_app: MakeApp, config_file: Path) -> None:
    import flaskdemo

    app = make_app({'REMOTEVARS_LOCAL_CONFIG': str(config_file)})
    assert flaskdemo.demo_banner.get().value == 'hello'  # no context: the default client's (no config)
    with app.app_context():
        result = flaskdemo.demo_banner.get()
        assert (result.value, result.reason) == ('configured', 'resolved')
        with app.test_request_context('/?user=x'):
            assert flaskdemo.demo_banner.get().value == 'configured'
        assert flaskdemo.demo_banner.get().value == 'configured'
    assert flaskdemo.demo_banner.get().value == 'hello'
    other = make_app({'REMOTEVARS_ENABLED': False})
    with app.app_context(), other.app_context():
        assert flaskdemo.demo_banner.get().value == 'hello'  # the innermost app's config
    assert remotevars.get_client().snapshot.state == 'no_provider'


def test_flask_shell_reads_the_app_config(config_file: Path) -> None:
    env = {**os.environ, 'FLASK_REMOTEVARS_LOCAL_CONFIG': str(config_file)}
    script = 'import flaskdemo\nprint("banner=" + flaskdemo.demo_banner.get().value)\n'
    result = subprocess.run(
        [str(BIN / 'flask'), '--app', APP, 'shell'],
        input=script,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert 'banner=configured' in result.stdout


def test_streamed_response_under_gunicorn(config_file: Path, tmp_path: Path) -> None:
    pytest.importorskip('gunicorn')
    port = free_port()
    env = {**os.environ, 'FLASK_REMOTEVARS_LOCAL_CONFIG': str(config_file), 'PYTHONPATH': str(ROOT / 'tests' / 'flask')}
    log = tmp_path / 'gunicorn.log'
    with log.open('wb') as out:
        process = subprocess.Popen(
            [str(BIN / 'gunicorn'), '-w', '1', '-b', f'127.0.0.1:{port}', 'flaskdemo:create_app()'],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                text = httpx.get(f'http://127.0.0.1:{port}/stream', timeout=5).text
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
        in_view, banner, reason, in_stream = text.split('|')
        assert (banner, reason) == ('configured', 'resolved')
        assert in_view == in_stream
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
