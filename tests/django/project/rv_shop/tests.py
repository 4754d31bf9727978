"""Run by ``manage.py test rv_shop`` from tests/django/test_dj_hermetic.py (pytest does not collect it).

The environment names a server; a test run must not connect to it: reads serve code defaults.
"""

from __future__ import annotations

from django.test import SimpleTestCase

import remotevars
from rv_shop.variables import banner_text


class HermeticTests(SimpleTestCase):
    def test_a_request_serves_code_defaults(self) -> None:
        response = self.client.get('/pinning/')
        self.assertContains(response, '<p id="template">Welcome</p>')
        self.assertEqual(banner_text.get().reason, 'no_provider')

    def test_the_client_was_not_started(self) -> None:
        self.assertEqual(remotevars.get_client().status().kind, 'none')
