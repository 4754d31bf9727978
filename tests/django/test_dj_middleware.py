"""RemoteVarsMiddleware against the real server: targeting by user, anonymous id, attributes, async, pinning."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip('django.conf')
pytest.importorskip('pytest_django')

from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.test import AsyncClient, Client, override_settings

import remotevars
from django_remotevars.middleware import ANONYMOUS_COOKIE, RemoteVarsMiddleware
from tests.django.conftest import seed, wait_for_version, wait_until


def _label(value: str) -> dict[str, Any]:
    return {'target_type': 'version', 'version': None, 'serialized_value': json.dumps(value)}


def _seed_ab(server: Any, overrides: list[dict[str, Any]] | None = None) -> remotevars.VariableConfig:
    """Seed checkout_flow: labels a/b split 50/50; returns its config as the server serves it."""
    shape = seed(
        server,
        'checkout_flow',
        labels={'a': _label('alpha'), 'b': _label('beta')},
        rollout={'a': 0.5, 'b': 0.5},
        overrides=overrides or [],
    )
    config = remotevars.VariableConfig.model_validate(shape)
    wait_for_version('checkout_flow', config.labels['b'].version, label='b')
    # The label versions may be those of an earlier seed: wait for the overrides too.
    wait_until(
        lambda: len(remotevars.get_client()._snapshot.lookup('checkout_flow').overrides) == len(config.overrides),  # type: ignore[union-attr]
        message='checkout_flow overrides',
    )
    return config


def _pks_in_each_label(config: remotevars.VariableConfig) -> dict[str, int]:
    found: dict[str, int] = {}
    for pk in range(1, 200):
        found.setdefault(config.resolve_label(str(pk)) or '', pk)
        if {'a', 'b'} <= found.keys():
            return {'a': found['a'], 'b': found['b']}
    raise AssertionError('no pks landing in both labels')


@pytest.mark.django_db
def test_two_users_land_in_their_labels(remote: Any) -> None:
    config = _seed_ab(remote)
    pks = _pks_in_each_label(config)
    assert pks['a'] != pks['b']
    for label, value in (('a', 'alpha'), ('b', 'beta')):
        user = User.objects.create_user(username=f'user-{label}', pk=pks[label])
        client = Client()
        client.force_login(user)
        for _ in range(3):  # the same user keeps the same label
            body = client.get('/flow/').json()
            assert body == {
                'key': str(pks[label]),
                'attributes': None,  # the attributes callable gave none
                'label': label,
                'value': value,
                'version': config.labels[label].version,
                'reason': 'resolved',
            }


@pytest.mark.django_db
def test_an_anonymous_visitor_keeps_one_id_in_a_cookie(remote: Any) -> None:
    config = _seed_ab(remote)
    client = Client()
    first = client.get('/flow/')
    anonymous_id = first.cookies[ANONYMOUS_COOKIE].value
    assert len(anonymous_id) == 32
    assert first.json()['key'] == anonymous_id
    assert first.json()['label'] == config.resolve_label(anonymous_id)
    second = client.get('/flow/')
    assert ANONYMOUS_COOKIE not in second.cookies  # not re-issued
    assert second.json()['key'] == anonymous_id
    assert Client().get('/flow/').json()['key'] != anonymous_id  # another visitor, another id


@pytest.mark.django_db
def test_the_anonymous_cookie_is_set_only_when_a_read_used_the_key(remote: Any) -> None:
    _seed_ab(remote)  # checkout_flow: a 50/50 rollout needs a key; banner_text is not in the config
    for path, status in (('/no-such-page/', 404), ('/pinning/', 200), ('/async-ping/', 200)):
        response = Client().get(path)
        assert response.status_code == status
        assert ANONYMOUS_COOKIE not in response.cookies, path
        assert 'Cookie' not in response.get('Vary', ''), path  # the user was not looked up: still cacheable
    used = Client().get('/flow/')
    assert len(used.cookies[ANONYMOUS_COOKIE].value) == 32
    assert used.cookies[ANONYMOUS_COOKIE].value == used.json()['key']


@pytest.mark.django_db
def test_attributes_from_the_setting_drive_rollout_overrides(remote: Any) -> None:
    pro = {
        'conditions': [{'kind': 'value-equals', 'attribute': 'plan', 'value': 'pro'}],
        'rollout': {'labels': {'b': 1.0}},
    }
    _seed_ab(remote, overrides=[pro])
    client = Client()
    for _ in range(5):
        body = client.get('/flow/', {'plan': 'pro'}).json()
        assert (body['attributes'], body['label']) == ({'plan': 'pro'}, 'b')


def header_key(request: Any) -> str:
    """A REMOTEVARS_TARGETING_KEY for the test below: the X-Tenant header."""
    return str(request.headers.get('X-Tenant', 'none'))


@pytest.mark.django_db
def test_targeting_key_setting_replaces_the_default_key(remote: Any) -> None:
    config = _seed_ab(remote)
    with override_settings(REMOTEVARS_TARGETING_KEY='tests.django.test_dj_middleware.header_key'):
        body = Client().get('/flow/', headers={'X-Tenant': 'acme'}).json()
    assert body['key'] == 'acme'
    assert body['label'] == config.resolve_label('acme')


@pytest.mark.django_db
def test_async_requests_take_the_async_path_with_the_same_targeting(remote: Any) -> None:
    config = _seed_ab(remote)
    pks = _pks_in_each_label(config)
    user = User.objects.create_user(username='async-user', pk=pks['b'])
    client = AsyncClient()
    client.force_login(user)

    async def fetch() -> Any:
        return await client.get('/async-flow/')

    body = async_to_sync(fetch)().json()
    assert (body['key'], body['label'], body['value']) == (str(pks['b']), 'b', 'beta')

    async def get_response(request: Any) -> Any:
        return None

    assert RemoteVarsMiddleware(get_response).is_async
    assert not RemoteVarsMiddleware(lambda request: None).is_async


@pytest.mark.django_db
def test_an_update_landing_mid_request_does_not_change_what_the_template_reads(remote: Any) -> None:
    from rv_shop import views

    first = seed(remote, 'banner_text', 'Before')
    before = first['labels']['production']['version']
    wait_for_version('banner_text', before)
    landed: list[int] = []

    def land_update() -> None:
        after = seed(remote, 'banner_text', 'After')['labels']['production']['version']
        wait_for_version('banner_text', after)  # the live config now has the new version
        landed.append(after)

    views.MID_REQUEST_HOOK.append(land_update)
    try:
        html = Client().get('/pinning/').content.decode()
    finally:
        views.MID_REQUEST_HOOK.clear()
    assert landed and landed[0] > before
    assert '<p id="view">Before</p><p id="template">Before</p>' in html
    assert f'<p id="live">{landed[0]}</p>' in html  # the update had landed while the template rendered
    assert '<p id="template">After</p>' in Client().get('/pinning/').content.decode()  # the next request sees it


@pytest.mark.parametrize('parsed_first', [False, True])
def test_anonymous_id_is_read_from_the_cookie_header_and_only_in_our_shape(parsed_first: bool) -> None:
    from django.http import HttpRequest, HttpResponse
    from django.test import RequestFactory

    def view(request: HttpRequest) -> HttpResponse:
        targeting = remotevars._targeting.current_targeting()
        return HttpResponse(str(None if targeting is None else targeting.default_key))

    middleware = RemoteVarsMiddleware(view)
    ours = '0123456789abcdef0123456789abcdef'
    for header, expected in (
        (f'a=1; {ANONYMOUS_COOKIE}={ours}; b=2', ours),
        (f'{ANONYMOUS_COOKIE}={ours}', ours),
        (f'x{ANONYMOUS_COOKIE}={ours}', None),  # another cookie's name
        (f'{ANONYMOUS_COOKIE}=forged-value', None),  # not an id we issued
    ):
        request = RequestFactory().get('/', HTTP_COOKIE=header)
        if parsed_first:
            _ = request.COOKIES  # as SessionMiddleware does before us
        response = middleware(request)
        key = response.content.decode()
        if expected is None:
            assert len(key) == 32 and key != ours
            assert response.cookies[ANONYMOUS_COOKIE].value == key
            assert response.cookies[ANONYMOUS_COOKIE]['httponly'] is True
        else:
            assert key == expected
            assert ANONYMOUS_COOKIE not in response.cookies
