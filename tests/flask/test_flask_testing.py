"""``flask_remotevars.testing.override_variables``: as a context manager, a decorator, through the test client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip('flask')

from flask import Flask, render_template_string
from flasktests_util import body, variable_config, write_config
from pydantic import BaseModel

import remotevars
from flask_remotevars.testing import override_variables

MakeApp = Callable[..., Flask]


@pytest.fixture
def app(make_app: MakeApp, tmp_path: Path) -> Flask:
    source = write_config(tmp_path / 'c.json', variable_config('demo_banner', {'prod': 'from config'}))
    return make_app({'REMOTEVARS_LOCAL_CONFIG': str(source)})


def test_context_manager_overrides_requests_and_nests(app: Flask) -> None:
    client = app.test_client()
    assert body(client.get('/'))['banner'] == 'from config'
    with override_variables(demo_banner='overridden', demo_limit=99):
        answer = body(client.get('/'))
        assert (answer['banner'], answer['limit']) == ('overridden', 99)
        assert client.get('/page').text.startswith('overridden|')
        with override_variables(demo_limit=1):
            inner = body(client.get('/'))
            assert (inner['banner'], inner['limit']) == ('overridden', 1)
        assert body(client.get('/'))['limit'] == 99
    assert body(client.get('/'))['banner'] == 'from config'


@override_variables(demo_banner='decorated')
def _decorated_read() -> str:
    import flaskdemo

    return flaskdemo.demo_banner.get().value


def test_decorator_applies_on_each_call() -> None:
    import flaskdemo

    assert _decorated_read() == 'decorated'
    assert _decorated_read() == 'decorated'
    assert flaskdemo.demo_banner.get().value == 'hello'


def test_decorator_on_async_functions() -> None:
    import flaskdemo

    @override_variables(demo_limit=5)
    async def read() -> int:
        await asyncio.sleep(0)
        return flaskdemo.demo_limit.get().value

    assert asyncio.run(read()) == 5
    assert flaskdemo.demo_limit.get().value == 10


def test_override_reason_and_type_validation(app: Flask) -> None:
    import flaskdemo

    with override_variables(demo_limit='7'):
        result = flaskdemo.demo_limit.get()
        assert (result.value, result.reason) == (7, 'context_override')
    with override_variables(demo_limit='not a number'):
        result = flaskdemo.demo_limit.get()
        assert (result.value, result.reason) == (10, 'validation_error')


def test_unknown_name_is_refused(app: Flask) -> None:
    with pytest.raises(remotevars.VariableNotFoundError, match="'demo_typo'"), override_variables(demo_typo=1):
        pass
    with app.app_context(), pytest.raises(remotevars.VariableNotFoundError):
        override_variables(nope=1).__enter__()


@pytest.fixture
def sale_banner(app: Flask) -> Iterator[None]:
    """The fixture docs/flask.md shows."""
    with override_variables(demo_banner='Sale today'):
        yield


def test_fixture_example_from_the_docs(app: Flask, sale_banner: None) -> None:
    assert app.test_client().get('/page').text.startswith('Sale today|')


@override_variables(demo_banner='Closed')
def test_decorated_test_function_keeps_its_fixtures(app: Flask) -> None:
    assert body(app.test_client().get('/'))['banner'] == 'Closed'


class _WelcomeInputs(BaseModel):
    name: str


@pytest.fixture
def welcome() -> Iterator[remotevars.TemplateVariable[str, _WelcomeInputs]]:
    variable = remotevars.template_var('welcome_tpl', default='Hello {{name}}!', inputs_type=_WelcomeInputs)
    try:
        yield variable
    finally:
        remotevars.get_client()._registry.pop('welcome_tpl', None)


def test_jinja_render_of_a_template_variable_is_escaped(
    app: Flask, welcome: remotevars.TemplateVariable[str, _WelcomeInputs]
) -> None:
    with app.test_request_context('/'):
        page = render_template_string(
            "{{ remotevars.render('welcome_tpl', {'name': name}) }}|{{ remotevars.render('welcome_tpl', name='x') }}"
            '|{{ remotevars.welcome_tpl }}',
            name='<i>al</i>',
        )
        assert page == 'Hello &lt;i&gt;al&lt;/i&gt;!|Hello x!|Hello !'
        with override_variables(welcome_tpl='Hi {{name}}, overridden'):
            assert (
                render_template_string("{{ remotevars.render('welcome_tpl', {'name': 'al'}) }}") == 'Hi al, overridden'
            )
