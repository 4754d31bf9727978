"""The REMOTEVARS_* settings table, lazy reading, re-reading on setting_changed, and discovery."""

from __future__ import annotations

import pytest

pytest.importorskip('django.conf')
pytest.importorskip('pytest_django')

from django.test import override_settings

import remotevars
from django_remotevars import _runtime, conf
from django_remotevars.test import live_variables
from remotevars._settings import SETTINGS_DEFAULTS
from tests.django.conftest import PROJECT_VARIABLES


def test_every_setting_of_the_shared_table_has_its_default_or_the_project_value() -> None:
    values = conf.remotevars_settings()
    assert set(values) == set(SETTINGS_DEFAULTS)
    assert values['REMOTEVARS_POLLING_INTERVAL'] == 30.0  # set by the test project
    assert values['REMOTEVARS_CACHE_FILE'] is None  # the table's default
    assert values['REMOTEVARS_MODULES'] == ['rv_extra_vars']


def test_settings_are_cached_and_re_read_on_setting_changed() -> None:
    first = conf.remotevars_settings()
    assert conf.remotevars_settings() is first
    with override_settings(REMOTEVARS_POLLING_INTERVAL=45.0):
        assert conf.get('REMOTEVARS_POLLING_INTERVAL') == 45.0
    assert conf.get('REMOTEVARS_POLLING_INTERVAL') == 30.0


def test_a_changed_local_config_setting_reconfigures_the_client(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / 'vars.json'  # type: ignore[operator]
    path.write_text(
        '{"variables": {"banner_text": {"name": "banner_text", "labels": {"production": {"version": 1, '
        '"serialized_value": "\\"From a file\\""}}, "rollout": {"labels": {"production": 1.0}}, "overrides": []}}}'
    )
    from rv_shop.variables import banner_text

    assert banner_text.get().value == 'Welcome'
    with override_settings(REMOTEVARS_LOCAL_CONFIG=str(path), REMOTEVARS_WATCH_LOCAL_CONFIG=False):
        # A test run is hermetic: changing the settings alone connects to nothing.
        assert remotevars.get_client().status().kind == 'none'
        assert banner_text.get().value == 'Welcome'
    with live_variables():
        assert remotevars.get_client().status().kind == 'none'  # the project's settings name no source
        with override_settings(REMOTEVARS_LOCAL_CONFIG=str(path), REMOTEVARS_WATCH_LOCAL_CONFIG=False):
            assert remotevars.get_client().status().kind == 'local'
            assert banner_text.get().value == 'From a file'
    assert remotevars.get_client().status().kind == 'none'
    assert banner_text.get().reason == 'no_provider'


def test_discovery_imports_app_variables_modules_and_remotevars_modules() -> None:
    client = remotevars.get_client()
    for name in PROJECT_VARIABLES:
        assert client.get_variable(name) is not None, name
    assert client.get_variable('extra_flag').description == 'Declared outside any app.'  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ('argv', 'environ', 'expected'),
    [
        (['/srv/venv/bin/gunicorn', 'proj.wsgi'], {}, True),
        (['manage.py', 'migrate'], {}, False),
        (['manage.py', 'vars_push', '--yes'], {}, False),
        (['manage.py', 'runserver'], {}, False),  # the autoreloader's parent
        (['manage.py', 'runserver'], {'RUN_MAIN': 'true'}, True),  # its serving child
        (['manage.py', 'runserver', '--noreload'], {}, True),
        (['manage.py', 'shell', '--verbosity', '2'], {}, True),
        (['/usr/lib/python3/site-packages/django/__main__.py', 'check'], {}, False),
        (['/usr/lib/python3/site-packages/pytest/__main__.py'], {}, True),
        ([], {}, True),
    ],
)
def test_which_processes_start_the_refresh_at_ready(argv: list[str], environ: dict[str, str], expected: bool) -> None:
    assert _runtime.starts_at_ready(argv, environ) is expected
