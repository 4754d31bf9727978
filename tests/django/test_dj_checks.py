"""System checks: remotevars.E0xx from the shared settings checks (one id per setting), W001-W003."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip('django.conf')
pytest.importorskip('pytest_django')

from django.conf import settings
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_remotevars.checks import CONTEXT_PROCESSOR, MIDDLEWARE
from tests.django.conftest import PROJECT, SUBPROCESS_ENV


def _ids() -> list[str]:
    return sorted(m.id for m in checks.run_checks(tags=['remotevars']) if m.id)


def test_the_test_project_passes() -> None:
    assert _ids() == []


@pytest.mark.parametrize(
    ('overrides', 'expected'),
    [
        ({'REMOTEVARS_LOCAL_CONFIG': '/nonexistent/vars.json'}, 'remotevars.E002'),
        ({'REMOTEVARS_ATTRIBUTES': 'rv_shop.targeting.no_such_function'}, 'remotevars.E003'),
        ({'REMOTEVARS_TARGETING_KEY': 'no_such_module.key'}, 'remotevars.E003'),
        ({'REMOTEVARS_MODULES': ['no_such_module_here']}, 'remotevars.E003'),
        ({'REMOTEVARS_POLLING_INTERVAL': 1}, 'remotevars.E004'),
    ],
)
def test_each_settings_problem_is_an_error(
    overrides: dict[str, object], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv('REMOTEVARS_API_KEY', raising=False)
    monkeypatch.delenv('REMOTEVARS_BASE_URL', raising=False)
    with override_settings(**overrides):
        messages = checks.run_checks(tags=['remotevars'])
    assert [m.id for m in messages] == [expected]
    assert messages[0].level == checks.ERROR
    assert messages[0].hint


def test_an_error_stops_manage_py_check() -> None:
    with override_settings(REMOTEVARS_POLLING_INTERVAL=1), pytest.raises(SystemCheckError, match='remotevars.E004'):
        call_command('check')


def test_w001_context_processor_without_middleware() -> None:
    middleware = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]
    with override_settings(MIDDLEWARE=middleware):
        messages = checks.run_checks(tags=['remotevars'])
    assert [(m.id, m.level) for m in messages] == [('remotevars.W001', checks.WARNING)]
    templates = [{**settings.TEMPLATES[0], 'OPTIONS': {'context_processors': []}}]
    with override_settings(MIDDLEWARE=middleware, TEMPLATES=templates):
        assert _ids() == []  # neither is used: nothing to say
    assert CONTEXT_PROCESSOR in settings.TEMPLATES[0]['OPTIONS']['context_processors']


def test_w002_middleware_before_authentication() -> None:
    middleware = [MIDDLEWARE, *(m for m in settings.MIDDLEWARE if m != MIDDLEWARE)]
    with override_settings(MIDDLEWARE=middleware):
        assert _ids() == ['remotevars.W002']


def test_a_readable_local_config_passes(tmp_path: Path) -> None:
    path = tmp_path / 'vars.json'
    path.write_text('{"variables": {}}')
    with override_settings(REMOTEVARS_LOCAL_CONFIG=str(path)):
        assert _ids() == []


@pytest.mark.parametrize(
    ('overrides', 'expected'),
    [
        ({'REMOTEVARS_FIRST_RESOLVE_TIMEOUT': 'abc'}, 'remotevars.E009'),
        ({'REMOTEVARS_FIRST_RESOLVE_TIMEOUT': -1}, 'remotevars.E009'),
        ({'REMOTEVARS_MODULES': 'rv_extra_vars'}, 'remotevars.E011'),  # a string, not a list: one message
        ({'REMOTEVARS_BLOCK_BEFORE_FIRST_RESOLVE': 'no'}, 'remotevars.E008'),
        ({'REMOTEVARS_WATCH_LOCAL_CONFIG': 'yes'}, 'remotevars.E007'),
        ({'REMOTEVARS_BASE_URL': 'vars.example.com', 'REMOTEVARS_API_KEY': 'k'}, 'remotevars.E006'),
        ({'REMOTEVARS_BASE_URL': 'http://127.0.0.1:9/v1/variables/', 'REMOTEVARS_API_KEY': 'k'}, 'remotevars.E006'),
        ({'REMOTEVARS_API_KEY': 12345, 'REMOTEVARS_BASE_URL': 'http://127.0.0.1:9'}, 'remotevars.E005'),
        ({'REMOTEVARS_CACHE_FILE': 5}, 'remotevars.E010'),
        ({'REMOTEVARS_ENABLED': 'no'}, 'remotevars.E012'),
        ({'REMOTEVARS_POLLING_INTERVAL': 'abc'}, 'remotevars.E004'),
        ({'REMOTEVARS_TARGETING_KEY': 5}, 'remotevars.E003'),
    ],
)
def test_every_setting_is_type_checked_with_its_own_id(
    overrides: dict[str, object], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv('REMOTEVARS_API_KEY', raising=False)
    monkeypatch.delenv('REMOTEVARS_BASE_URL', raising=False)
    with override_settings(**overrides):
        messages = checks.run_checks(tags=['remotevars'])
    assert [(m.id, m.level) for m in messages] == [(expected, checks.ERROR)]
    assert next(iter(overrides)) in messages[0].msg or expected == 'remotevars.E006'


def test_invalid_json_in_the_local_config_is_e002(tmp_path: Path) -> None:
    path = tmp_path / 'vars.json'
    path.write_text('{"variables": ')
    with override_settings(REMOTEVARS_LOCAL_CONFIG=str(path)):
        messages = checks.run_checks(tags=['remotevars'])
    assert [m.id for m in messages] == ['remotevars.E002']
    assert 'is not valid JSON' in messages[0].msg


def test_a_url_without_a_key_is_a_warning_and_an_error_only_for_deploy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('REMOTEVARS_API_KEY', raising=False)
    with override_settings(REMOTEVARS_BASE_URL='http://127.0.0.1:9', REMOTEVARS_API_KEY=None):
        messages = checks.run_checks(tags=['remotevars'])
        assert [(m.id, m.level) for m in messages] == [('remotevars.W003', checks.WARNING)]
        call_command('check')  # passes: migrate, test and the vars_* commands run in a CI without secrets
        deploy = checks.run_checks(tags=['remotevars'], include_deployment_checks=True)
        assert [(m.id, m.level) for m in deploy] == [
            ('remotevars.W003', checks.WARNING),
            ('remotevars.E001', checks.ERROR),
        ]


def test_bad_settings_never_crash_start_up(tmp_path: Path) -> None:
    """Each bad value: a WSGI process still boots (serving code defaults), and ``manage.py check`` names it."""
    broken = tmp_path / 'broken.json'
    broken.write_text('not json')
    cases = {
        'E009': {'REMOTEVARS_FIRST_RESOLVE_TIMEOUT': 'abc'},
        'E011': {'REMOTEVARS_MODULES': 'rv_extra_vars'},
        'E008': {'REMOTEVARS_BLOCK_BEFORE_FIRST_RESOLVE': 'no'},
        'E006': {'REMOTEVARS_BASE_URL': 'http://127.0.0.1:9/v1/variables/', 'REMOTEVARS_API_KEY': 'k'},
        'E002': {'REMOTEVARS_LOCAL_CONFIG': str(broken)},
        'E003': {'REMOTEVARS_TARGETING_KEY': 'rv_shop.no_such_function'},
    }
    boot = (
        'import os, sys; sys.path.insert(0, os.getcwd()); '
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'rv_project.settings'; "
        'from django.core.wsgi import get_wsgi_application; from django.test import Client; '
        'get_wsgi_application(); '
        "print('status', Client().get('/pinning/').status_code)"
    )
    processes = {}
    for check_id, overrides in cases.items():
        env = {**os.environ, **SUBPROCESS_ENV, 'RV_EXTRA_SETTINGS': json.dumps(overrides)}
        env.pop('DJANGO_SETTINGS_MODULE', None)
        env.pop('REMOTEVARS_BASE_URL', None)
        env.pop('REMOTEVARS_API_KEY', None)
        processes[check_id] = [
            subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for command in ([sys.executable, '-c', boot], [sys.executable, 'manage.py', 'check'])
        ]
    for check_id, (booted, checked) in processes.items():
        out, err = booted.communicate(timeout=60)
        assert booted.returncode == 0, (check_id, err)
        assert 'status 200' in out, (check_id, err)
        out, err = checked.communicate(timeout=60)
        assert checked.returncode == 1, (check_id, out, err)
        assert f'remotevars.{check_id}' in err and 'Traceback' not in err, (check_id, err)
