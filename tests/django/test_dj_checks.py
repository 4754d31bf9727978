"""System checks: remotevars.E001-E004 from the shared settings checks, W001/W002 about the wiring."""

from __future__ import annotations

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


def _ids() -> list[str]:
    return sorted(m.id for m in checks.run_checks(tags=['remotevars']) if m.id)


def test_the_test_project_passes() -> None:
    assert _ids() == []


@pytest.mark.parametrize(
    ('overrides', 'expected'),
    [
        ({'REMOTEVARS_BASE_URL': 'http://127.0.0.1:9'}, 'remotevars.E001'),
        ({'REMOTEVARS_API_KEY': 'some-key'}, 'remotevars.E001'),
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
