"""The console's defences over real HTTP: every state-changing route refuses a request without a session, with a
read key's session, and without or with a wrong CSRF token (4xx, nothing changes); every response carries the
Content-Security-Policy and anti-framing headers; sign-in is protected by its own token and rate-limited.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from remotevars.server.console._headers import CONTENT_SECURITY_POLICY
from tests.server.console.consoleutil import ALICE, KEYS, Browser, csrf_of, parse_page
from tests.serverutil import RunningServer, running_server

#: Each state-changing route and a body that changes the variable when a write session sends it.
EDITS: dict[str, Callable[[str, int], tuple[str, dict[str, str]]]] = {
    'create-version': lambda name, entry: (
        f'/ui/variables/{name}/versions/new',
        {'mode': 'raw', 'raw': '{"model": "forged", "temperature": 1}', 'label': 'production', 'action': 'save'},
    ),
    'move-label': lambda name, entry: (
        f'/ui/variables/{name}/labels',
        {'step': 'confirm', 'label': 'production', 'target': 'version:1'},
    ),
    'rollout': lambda name, entry: (
        f'/ui/variables/{name}/rollout',
        {'step': 'confirm', 'w:production': '0.2', 'w:canary': '0.8'},
    ),
    'add-override': lambda name, entry: (
        f'/ui/variables/{name}/overrides/new',
        {
            'step': 'confirm',
            'conditions': '1',
            'c0.attribute': 'country',
            'c0.kind': 'value-equals',
            'c0.operand': 'fr',
            'w:canary': '1',
        },
    ),
    'remove-override': lambda name, entry: (
        f'/ui/variables/{name}/overrides/0/remove',
        {'step': 'confirm', 'allow_destructive': 'yes'},
    ),
    'rollback': lambda name, entry: (f'/ui/variables/{name}/rollback', {'step': 'confirm', 'to': str(entry)}),
}


def _state(api: httpx.Client, name: str) -> tuple[str, Any, int]:
    """Return what a refused request must leave alone: the config's ETag, the variable, its history length."""
    config = api.get('/v1/variables/')
    history = api.get(f'/v1/variables/{name}/history/').json()
    return config.headers['etag'], config.json()['variables'][name], len(history)


def _request(browser: Browser, api: httpx.Client, name: str, edit: str, csrf: str | None) -> httpx.Response:
    # The rollback target: the variable's first history entry (after a change, so rolling back changes it).
    api.put(f'/v1/variables/{name}/labels/production/', json={'version': 2}).raise_for_status()
    entry = api.get(f'/v1/variables/{name}/history/').json()[-1]['id']
    path, data = EDITS[edit](name, entry)
    etag = api.get(f'/v1/variables/{name}/').headers['etag']
    data = {**data, 'etag': etag}
    if csrf is not None:
        data['csrf'] = csrf
    return browser.post(path, data)


@pytest.mark.parametrize('edit', sorted(EDITS))
def test_a_write_session_with_its_token_changes_the_variable(
    edit: str, alice: Browser, api: httpx.Client, name: str
) -> None:
    """The positive control: the bodies below are real edits."""
    csrf = csrf_of(alice.get('/ui/'))
    _request(alice, api, name, edit, '')  # sets up the state the edits start from (refused: empty token)
    before = _state(api, name)
    response = _request(alice, api, name, edit, csrf)
    assert response.status_code == 303, response.text
    assert _state(api, name) != before


@pytest.mark.parametrize('edit', sorted(EDITS))
@pytest.mark.parametrize('who', ['no session', 'read key', 'no token', 'wrong token', 'cross-site'])
def test_a_refused_edit_changes_nothing(
    who: str, edit: str, api: httpx.Client, name: str, alice: Browser, viewer: Browser, stranger: Browser
) -> None:
    browser = {'no session': stranger, 'read key': viewer}.get(who, alice)
    csrf: str | None = {
        'no session': 'anything',
        'read key': csrf_of(viewer.get('/ui/')),
        'no token': None,
        'wrong token': 'not-the-token-of-this-session',
        'cross-site': csrf_of(alice.get('/ui/')),
    }[who]
    if who == 'cross-site':
        browser.http.headers['Sec-Fetch-Site'] = 'cross-site'
    # The state is set up by the first call (refused too); the second is measured.
    _request(browser, api, name, edit, csrf)
    before = _state(api, name)
    response = _request(browser, api, name, edit, csrf)
    expected = {'no session': 401, 'read key': 403}.get(who, 403)
    assert response.status_code == expected, response.text
    assert _state(api, name) == before
    assert 'set-cookie' not in response.headers


@pytest.mark.parametrize('who', ['no session', 'no token', 'wrong token'])
def test_a_refused_sign_out_leaves_the_session(who: str, stranger: Browser, alice: Browser) -> None:
    browser = stranger if who == 'no session' else alice
    data = {'other': 'field'} if who == 'no token' else {'csrf': 'forged'}
    response = browser.post('/ui/sign-out', data)
    assert response.status_code == (401 if who == 'no session' else 403)
    assert alice.get('/ui/').text('viewer') == 'alice'


def test_sign_out_ends_the_session_even_for_a_kept_copy_of_the_cookie(server: RunningServer, alice: Browser) -> None:
    kept = dict(alice.http.cookies)
    page = alice.get('/ui/')
    response = alice.post('/ui/sign-out', {'csrf': csrf_of(page)})
    assert response.status_code == 303
    assert 'remotevars_console=""' in response.headers['set-cookie'] or 'Max-Age=0' in response.headers['set-cookie']
    with Browser(server.url) as replay:
        replay.http.cookies.update(kept)
        assert replay.http.get('/ui/').status_code == 303  # sent to the sign-in page
        assert replay.post('/ui/sign-out', {'csrf': csrf_of(page)}).status_code == 401


def test_sign_in_needs_the_token_of_its_own_form(server: RunningServer, stranger: Browser) -> None:
    browser = stranger
    page = browser.get('/ui/sign-in')
    token = page.form('sign-in').fields['token']
    # A form posted from elsewhere has no sign-in cookie, or not the matching token: no session.
    with Browser(server.url) as elsewhere:
        assert elsewhere.post('/ui/sign-in', {'token': token, 'key': ALICE}).status_code == 403
    assert browser.post('/ui/sign-in', {'token': 'forged', 'key': ALICE}).status_code == 403
    refused = parse_page(browser.post('/ui/sign-in', {'key': ALICE}))
    assert refused.status == 403
    assert browser.http.get('/ui/').status_code == 303
    token = refused.form('sign-in').fields['token']  # each page of the form has a token of its own
    answer = browser.post('/ui/sign-in', {'token': token, 'key': ALICE, 'next': '/ui/variables/x/'})
    assert answer.status_code == 303
    assert answer.headers['location'] == '/ui/variables/x/'


def test_the_session_cookie_is_httponly_strict_and_expires(stranger: Browser) -> None:
    response = stranger.sign_in(ALICE)
    cookie = response.headers['set-cookie']
    assert cookie.startswith('remotevars_console=')
    lowered = cookie.lower()
    for attribute in ('httponly', 'samesite=strict', 'path=/ui/', 'max-age=43200'):
        assert attribute in lowered, cookie
    assert ALICE not in cookie  # the key is never stored


@pytest.mark.parametrize('target', ['https://evil.example/', '//evil.example/ui/', '/v1/variables/'])
def test_sign_in_only_goes_on_to_console_pages(stranger: Browser, target: str) -> None:
    form = stranger.get('/ui/sign-in').form('sign-in')
    answer = stranger.post('/ui/sign-in', {**form.fields, 'key': ALICE, 'next': target})
    assert answer.headers['location'] == '/ui/'


def test_wrong_keys_are_rate_limited(tmp_path: Path) -> None:
    with running_server(tmp_path / 'db.sqlite3', keys=KEYS) as server, Browser(server.url) as browser:
        statuses = [browser.sign_in(f'wrong-key-{i}').status_code for i in range(5)]
        assert statuses == [401] * 5
        refused = browser.sign_in(ALICE)  # even the right key waits now
        assert refused.status_code == 429
        assert 1 <= int(refused.headers['retry-after']) <= 60
        assert 'set-cookie' not in refused.headers or 'remotevars_console=' not in refused.headers['set-cookie']
        assert browser.http.get('/ui/').status_code == 303


def _pages(name: str) -> list[str]:
    base = f'/ui/variables/{name}'
    return [
        '/ui/',
        '/ui/rows',
        '/ui/?q=assist',
        f'{base}/',
        f'{base}/?key=u1&attributes=%7B%7D',
        f'{base}/compare?a=1&b=2',
        f'{base}/versions/new',
        f'{base}/versions/new?mode=raw',
        f'{base}/labels',
        f'{base}/rollout',
        f'{base}/overrides/new',
        '/ui/variables/missing/',
        '/ui/no-such-page',
        '/ui/static/console.css',
        '/ui/static/console.js',
    ]


def _assert_protected(response: httpx.Response) -> None:
    assert response.headers['content-security-policy'] == CONTENT_SECURITY_POLICY, response.url
    assert "frame-ancestors 'none'" in response.headers['content-security-policy']
    assert response.headers['x-frame-options'] == 'DENY', response.url
    assert response.headers['x-content-type-options'] == 'nosniff'


def test_every_page_carries_the_security_headers(alice: Browser, viewer: Browser, stranger: Browser, name: str) -> None:
    seen = []
    for path in _pages(name):
        response = alice.http.get(path)
        _assert_protected(response)
        seen.append(response.status_code)
    assert 404 in seen and 200 in seen
    # Pages a reader is refused, the sign-in page, redirects, and answers to forms carry them too.
    _assert_protected(viewer.http.get(f'/ui/variables/{name}/rollout'))
    _assert_protected(stranger.http.get('/ui/sign-in'))
    _assert_protected(stranger.http.get('/ui/'))
    _assert_protected(stranger.post(f'/ui/variables/{name}/rollout', {}))
    csrf = csrf_of(alice.get('/ui/'))
    _assert_protected(alice.post(f'/ui/variables/{name}/rollout', {'csrf': csrf, 'w:production': '0.5'}))


def test_pages_have_no_inline_script_or_style(alice: Browser, name: str) -> None:
    """What the strict policy would block: every script and style comes from the console's static files."""
    for path in _pages(name)[:-2]:
        html = alice.http.get(path).text
        assert '<style' not in html
        assert ' style=' not in html
        assert '<script>' not in html
        assert all('src="' in tag for tag in html.split('<script')[1:]), path
        assert re.search(r'<[^>]*\son[a-z]+=', html) is None, path  # no event handler attributes


def test_a_form_that_is_not_a_form_is_refused(alice: Browser, api: httpx.Client, name: str) -> None:
    csrf = csrf_of(alice.get('/ui/'))
    before = _state(api, name)
    response = alice.http.post(f'/ui/variables/{name}/rollout', json={'csrf': csrf, 'w:production': '0.5'})
    assert response.status_code == 415
    too_big = alice.post(f'/ui/variables/{name}/versions/new', {'csrf': csrf, 'raw': 'x' * (3 * 1024 * 1024)})
    assert too_big.status_code == 413
    assert _state(api, name) == before
