"""The staff-only status page: what ``vars_status`` shows, for staff; anonymous visitors are redirected."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip('django.conf')
pytest.importorskip('pytest_django')

from django.contrib.auth.models import User
from django.test import Client

from tests.django.conftest import seed, wait_for_version


@pytest.mark.django_db
def test_anonymous_is_redirected_to_the_admin_login(remote: Any) -> None:
    response = Client().get('/remotevars/')
    assert response.status_code == 302
    assert response['Location'] == '/admin/login/?next=/remotevars/'


@pytest.mark.django_db
def test_non_staff_is_redirected(remote: Any) -> None:
    client = Client()
    client.force_login(User.objects.create_user(username='customer'))
    assert client.get('/remotevars/').status_code == 302


@pytest.mark.django_db
def test_staff_sees_source_connection_and_each_variable(remote: Any) -> None:
    shape = seed(remote, 'banner_text', 'Hello staff')
    version = shape['labels']['production']['version']
    wait_for_version('banner_text', version)
    client = Client()
    client.force_login(User.objects.create_user(username='staff', is_staff=True))
    response = client.get('/remotevars/')
    assert response.status_code == 200
    html = response.content.decode()
    assert f'remote {remote.url}' in html
    assert '<dd id="state">loaded</dd>' in html
    assert f'production=v{version}' in html
    assert 'production 100%' in html
    assert 'max_items [int]: not in config (code default)' in html  # the vars_status text
    assert 'data-name="extra_flag"' in html
