"""Test runs are hermetic: under pytest (the plugin) and ``manage.py test`` the app never connects by itself.

A silent stand-in server on 127.0.0.1, named by the environment, counts the connections: none until a
test opts in with ``live_variables`` / the ``remotevars_live`` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip('django.conf')
pytest.importorskip('pytest_django')

from django.test import Client, override_settings

import remotevars
from django_remotevars import _runtime
from django_remotevars.test import live_variables
from tests.django.conftest import manage
from tests.serverutil import SilentServer, silent_server


@pytest.fixture
def silent(monkeypatch: pytest.MonkeyPatch) -> Iterator[SilentServer]:
    with silent_server() as server:
        monkeypatch.setenv('REMOTEVARS_BASE_URL', server.url)
        monkeypatch.setenv('REMOTEVARS_API_KEY', 'a-key')
        yield server


def test_pytest_requests_serve_code_defaults_until_a_test_opts_in(silent: SilentServer) -> None:
    html = Client().get('/pinning/').content.decode()
    assert '<p id="template">Welcome</p>' in html
    assert not _runtime.is_started()
    assert remotevars.get_client().status().kind == 'none'
    assert silent.connections == 0
    with override_settings(REMOTEVARS_FIRST_RESOLVE_TIMEOUT=0.2), live_variables() as client:
        assert client.status().kind == 'remote'
        assert silent.connections >= 1
    assert remotevars.get_client().status().kind == 'none'


@pytest.fixture
def short_first_resolve(settings: Any) -> None:
    settings.REMOTEVARS_FIRST_RESOLVE_TIMEOUT = 0.2  # the silent server never answers


def test_the_fixture_opts_in(
    silent: SilentServer, short_first_resolve: None, remotevars_live: remotevars.Client
) -> None:
    assert remotevars_live.status().source.startswith(silent.url)
    assert silent.connections >= 1


def test_manage_py_test_is_hermetic() -> None:
    with silent_server() as server:
        result = manage(
            'test',
            'rv_shop',
            env={'REMOTEVARS_BASE_URL': server.url, 'REMOTEVARS_API_KEY': 'a-key'},
        )
        assert result.returncode == 0, result.stderr
        assert 'Ran 2 tests' in result.stderr and 'OK' in result.stderr
        assert server.connections == 0
