"""``override_variables`` as a function decorator, a class decorator and a context manager."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip('django.conf')
pytest.importorskip('pytest_django')

from django.test import Client, SimpleTestCase, TestCase
from rv_shop.variables import agent_config, banner_text, max_items

from django_remotevars.test import override_variables
from remotevars import ConfigurationError


def test_context_manager() -> None:
    with override_variables(banner_text='Overridden', max_items=3):
        assert banner_text.get().value == 'Overridden'
        assert banner_text.get().reason == 'context_override'
        assert max_items.get().value == 3
        with override_variables(max_items=4):  # nests
            assert max_items.get().value == 4
        assert max_items.get().value == 3
    assert banner_text.get().value == 'Welcome'
    assert max_items.get().value == 10


@override_variables(banner_text='From a decorator')
def test_function_decorator() -> None:
    assert banner_text.get().value == 'From a decorator'


def test_function_decorator_is_undone() -> None:
    assert banner_text.get().value == 'Welcome'


def test_values_are_validated_and_may_be_dicts_or_functions() -> None:
    with override_variables(agent_config={'model': 'test-model'}, max_items=lambda key, attributes: 7):
        assert agent_config.get().value.model == 'test-model'
        assert max_items.get().value == 7


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ConfigurationError, match='no_such_variable'), override_variables(no_such_variable=1):
        pass
    assert banner_text.get().value == 'Welcome'


@override_variables(banner_text='From the class', max_items=5)
class OverriddenSimpleTestCase(SimpleTestCase):
    def test_reads(self) -> None:
        self.assertEqual(banner_text.get().value, 'From the class')

    def test_rendered_through_a_request(self) -> None:
        response = self.client.get('/page/')
        self.assertContains(response, '<p id="banner">From the class</p>')
        self.assertContains(response, '<p id="max">5</p>')

    @override_variables(max_items=6)
    def test_method_decorator_beats_the_class(self) -> None:
        self.assertEqual(max_items.get().value, 6)
        self.assertEqual(banner_text.get().value, 'From the class')


@override_variables(banner_text='From a TestCase')
class OverriddenTestCase(TestCase):
    def test_reads_with_the_database(self) -> None:
        from django.contrib.auth.models import User

        User.objects.create_user(username='someone')
        response = Client().get('/page/')
        self.assertContains(response, '<p id="banner">From a TestCase</p>')


def test_class_decorator_is_undone(django_db_blocker: Any) -> None:
    assert banner_text.get().value == 'Welcome'
