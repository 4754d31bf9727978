"""The context processor and the ``{% remotevar %}`` tag, with values from the real server."""

from __future__ import annotations

import json
from typing import Any

import pytest

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
