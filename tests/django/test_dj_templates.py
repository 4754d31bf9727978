"""The context processor and the ``{% remotevar %}`` tag, with values from the real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

pytest.importorskip('django.conf')
pytest.importorskip('pytest_django')

from django.template import Context, Template
from django.test import Client

import remotevars
from django_remotevars.context_processors import VariableValues
from tests.django.conftest import seed, wait_for_version


def _label(value: Any) -> dict[str, Any]:
    return {'target_type': 'version', 'version': None, 'serialized_value': json.dumps(value)}


@pytest.mark.django_db
def test_context_processor_and_tags_render_server_values(remote: Any) -> None:
    seed(remote, 'agent_config', {'model': 'big-model', 'temperature': 0.7})
    flow = seed(
        remote,
        'checkout_flow',
        labels={'production': _label('one-page'), 'canary': _label('canary-flow')},
        rollout={'production': 1.0},
    )
    banner = seed(remote, 'banner_text', '<b>Sale</b> today')
    wait_for_version('checkout_flow', flow['labels']['canary']['version'], label='canary')
    wait_for_version('banner_text', banner['labels']['production']['version'])
    wait_for_version('agent_config', 1)

    html = Client().get('/page/').content.decode()

    assert '<p id="banner">&lt;b&gt;Sale&lt;/b&gt; today</p>' in html  # autoescaped like any context value
    assert '<p id="model">big-model</p>' in html  # attribute of a structured value
    assert '<p id="max">10</p>' in html  # not on the server: the code default
    assert '<p id="extra">False</p>' in html  # declared in a REMOTEVARS_MODULES module
    assert '<p id="flow">one-page</p>' in html  # the rollout's label
    assert '<p id="canary">canary-flow</p>' in html  # an explicit label
    assert '<p id="inline">&lt;b&gt;Sale&lt;/b&gt; today</p>' in html  # the tag without "as" escapes too
    assert '<p id="unknown">[]</p>' in html
    assert '<p id="view">&lt;b&gt;Sale&lt;/b&gt; today</p>' in html


def test_values_object_reads_registered_variables_only() -> None:
    values = VariableValues(remotevars.get_client())
    assert values['max_items'] == 10
    assert values.max_items == 10
    assert 'max_items' in values
    assert 'nope' not in values
    with pytest.raises(KeyError):
        values['nope']
    with pytest.raises(AttributeError):
        _ = values.nope
    rendered = Template('[{{ remotevars.nope }}|{{ remotevars.max_items }}]').render(Context({'remotevars': values}))
    assert rendered == '[|10]'


def test_tag_with_an_unknown_label_falls_back_to_the_rollout() -> None:
    rendered = Template('{% load remotevars %}{% remotevar "checkout_flow" label="nope" as f %}[{{ f }}]').render(
        Context({})
    )
    assert rendered == '[classic]'  # no config: the code default


class _User(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    username: str


class _WelcomeInputs(BaseModel):
    user: _User


@pytest.fixture
def welcome() -> Iterator[remotevars.TemplateVariable[str, _WelcomeInputs]]:
    variable = remotevars.template_var('welcome_tpl', default='Hello {{user.username}}!', inputs_type=_WelcomeInputs)
    try:
        yield variable
    finally:
        remotevars.get_client()._registry.pop('welcome_tpl', None)


@pytest.mark.django_db
def test_remotevar_render_tag_renders_with_objects_and_escapes(
    welcome: remotevars.TemplateVariable[str, _WelcomeInputs],
) -> None:
    from django.contrib.auth.models import User

    user = User(username='<b>bob</b>')
    html = Template("{% load remotevars %}{% remotevar_render 'welcome_tpl' user=user %}").render(
        Context({'user': user})
    )
    # The user is read by attribute; the rendered text is escaped by Django like any other value.
    assert html == 'Hello &lt;b&gt;bob&lt;/b&gt;!'
    html = Template("{% load remotevars %}{% remotevar_render 'welcome_tpl' user=user as w %}[{{ w }}]").render(
        Context({'user': user})
    )
    assert html == '[Hello &lt;b&gt;bob&lt;/b&gt;!]'
    assert Template("{% load remotevars %}{% remotevar 'welcome_tpl' %}").render(Context()) == 'Hello !'
    assert Template("{% load remotevars %}{% remotevar_render 'no_such' %}").render(Context()) == ''


def test_override_variables_accepts_template_variables(
    welcome: remotevars.TemplateVariable[str, _WelcomeInputs],
) -> None:
    from django_remotevars.test import override_variables

    with override_variables(welcome_tpl='Hi {{user.username}}, overridden'):
        result = welcome.get(_WelcomeInputs(user=_User(username='al')))
    assert (result.value, result.reason) == ('Hi al, overridden', 'context_override')
