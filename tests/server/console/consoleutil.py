"""Helpers of the console tests: a cookie-keeping HTTP client that signs in as a browser does, and page parsing.

The console is driven over real HTTP on 127.0.0.1 (the server in a thread); pages are read with the
standard library's HTML parser, so a test sees the forms, fields and texts a browser would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import httpx

from remotevars.server import ApiKey
from remotevars.server._auth import digest

__all__ = [
    'ALICE',
    'KEYS',
    'VIEWER',
    'Browser',
    'Form',
    'Page',
    'assistant_body',
    'csrf_of',
    'fresh_client',
    'parse_page',
]

ALICE = 'alice-secret-0123456789'  # a named write key
VIEWER = 'viewer-secret-0123456789'  # a named read key
KEYS = [ApiKey('alice', 'write', digest(ALICE)), ApiKey('viewer', 'read', digest(VIEWER))]

ASSISTANT_SCHEMA: dict[str, Any] = {
    'title': 'AssistantSettings',
    'type': 'object',
    'properties': {
        'model': {'type': 'string', 'title': 'Model'},
        'temperature': {'type': 'number', 'minimum': 0, 'maximum': 2, 'title': 'Temperature'},
        'max_answer_words': {'type': 'integer', 'title': 'Max Answer Words'},
    },
    'required': ['model', 'temperature'],
}


def assistant_body(name: str) -> dict[str, Any]:
    """Return a write body: a structured variable, labels production (v1) and canary (v2), a rollout, an override."""
    return {
        'name': name,
        'description': 'Settings of the support assistant.',
        'labels': {
            'production': {
                'target_type': 'version',
                'version': 1,
                'serialized_value': '{"model":"small","temperature":0.2}',
            },
            'canary': {
                'target_type': 'version',
                'version': 2,
                'serialized_value': '{"model":"large","temperature":0.7}',
            },
        },
        'rollout': {'labels': {'production': 0.9, 'canary': 0.1}},
        'overrides': [
            {
                'conditions': [{'kind': 'value-equals', 'attribute': 'plan', 'value': 'enterprise'}],
                'rollout': {'labels': {'canary': 1.0}},
            }
        ],
        'json_schema': ASSISTANT_SCHEMA,
    }


@dataclass
class Form:
    """A form of a page: where it posts, how, and the values of its fields as a browser would send them."""

    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (name, value) of named submit buttons
    ids: set[str] = field(default_factory=set)


@dataclass
class Page:
    """A parsed page: its status, forms, the text of elements by id, classes, links and raw HTML."""

    status: int
    html: str
    headers: httpx.Headers
    forms: list[Form] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    by_class: dict[str, list[str]] = field(default_factory=dict)
    field_errors: dict[str, list[str]] = field(default_factory=dict)  # data-path -> messages

    def form(self, action_part: str) -> Form:
        """Return the first form whose action contains ``action_part``."""
        for form in self.forms:
            if action_part in form.action:
                return form
        raise AssertionError(f'no form posting to {action_part!r}; forms: {[f.action for f in self.forms]}')

    def text(self, element_id: str) -> str:
        """Return the text of the element with this id ('' when absent)."""
        return self.texts.get(element_id, '')

    def post_forms(self) -> list[Form]:
        """Return the forms that post (the ones that change something)."""
        return [form for form in self.forms if form.method == 'post']


class _Parser(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.form: Form | None = None
        self.stack: list[tuple[str, str | None, str | None, str | None]] = []  # (tag, id, class, data-path)
        self.open_texts: dict[int, list[str]] = {}
        self.textarea: str | None = None
        self.select: str | None = None
        self.select_first: str | None = None
        self.option_value: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or '' for k, v in attrs}
        if tag == 'form':
            self.form = Form(a.get('action', ''), a.get('method', 'get').lower())
            self.page.forms.append(self.form)
        if tag == 'a' and 'href' in a:
            self.page.links.append(a['href'])
        if self.form is not None and 'id' in a:
            self.form.ids.add(a['id'])
        if self.form is not None and tag == 'input':
            kind = a.get('type', 'text')
            if kind in ('checkbox', 'radio'):
                if 'checked' in a:
                    self.form.fields[a['name']] = a.get('value', 'on')
            elif kind == 'submit':
                if a.get('name'):
                    self.form.buttons.append((a['name'], a.get('value', '')))
            elif a.get('name'):
                self.form.fields[a['name']] = a.get('value', '')
        if self.form is not None and tag == 'button' and a.get('name'):
            self.form.buttons.append((a['name'], a.get('value', '')))
        if self.form is not None and tag == 'textarea':
            self.textarea = a.get('name')
            self.form.fields[self.textarea or ''] = ''
        if self.form is not None and tag == 'select':
            self.select, self.select_first = a.get('name'), None
        if tag == 'option' and self.select is not None and self.form is not None:
            self.option_value = a.get('value')
            if self.select_first is None:
                self.select_first = a.get('value', '')
                self.form.fields.setdefault(self.select, self.select_first)
            if 'selected' in a:
                self.form.fields[self.select] = a.get('value', '')
        if tag in ('input', 'meta', 'link', 'br', 'img'):
            return
        self.stack.append((tag, a.get('id'), a.get('class'), a.get('data-path')))
        self.open_texts[len(self.stack)] = []

    def handle_endtag(self, tag: str) -> None:
        if tag == 'form':
            self.form = None
        if tag == 'textarea':
            self.textarea = None
        if tag == 'select':
            self.select = None
        while self.stack:
            depth = len(self.stack)
            open_tag, element_id, classes, path = self.stack.pop()
            text = ' '.join(''.join(self.open_texts.pop(depth, [])).split())
            if element_id:
                self.page.texts[element_id] = text
            for name in (classes or '').split():
                self.page.by_class.setdefault(name, []).append(text)
            if path is not None:
                self.page.field_errors.setdefault(path, []).append(text)
            if depth > 1:
                self.open_texts.setdefault(depth - 1, []).append(text + ' ')
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.textarea is not None and self.form is not None:
            self.form.fields[self.textarea] += data
        if self.stack:
            self.open_texts.setdefault(len(self.stack), []).append(data)


def parse_page(response: httpx.Response) -> Page:
    """Return the parsed page of a response."""
    page = Page(response.status_code, response.text, response.headers)
    parser = _Parser(page)
    parser.feed(response.text)
    parser.close()
    return page


def fresh_client(url: str, key: str | None = None) -> httpx.Client:
    """Return an httpx client opening a connection per request.

    The test server runs on a plain asyncio loop, where a kept-alive connection waits ~40 ms per
    response for the client's delayed ACK (uvloop, which ``remotevars serve`` uses, does not).
    """
    headers = {} if key is None else {'Authorization': f'bearer {key}'}
    limits = httpx.Limits(max_keepalive_connections=0)
    return httpx.Client(base_url=url, headers=headers, timeout=10.0, verify=False, limits=limits)


class Browser:
    """An HTTP client that keeps cookies and follows the console's forms, as a browser does."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = fresh_client(url)

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, path: str, **params: str) -> Page:
        """Return the page at ``path`` (redirects followed)."""
        # Only when given: httpx's params replace the query the path already has.
        response = (
            self.http.get(path, params=params, follow_redirects=True)
            if params
            else self.http.get(path, follow_redirects=True)
        )
        return parse_page(response)

    def sign_in(self, key: str) -> httpx.Response:
        """Sign in with ``key`` through the sign-in form; return the form's answer (303 when it worked)."""
        form = self.get('/ui/sign-in').form('sign-in')
        return self.http.post('/ui/sign-in', data={**form.fields, 'key': key})

    def submit(self, form: Form, button: str = '', **changes: str) -> Page:
        """Submit ``form`` with fields changed, by a named button (``'action=save'``); return the page it leads to."""
        data = {**form.fields, **changes}
        if button:
            field_name, _, value = button.partition('=')
            data[field_name] = value
        response = self.http.post(form.action, data=data)
        if response.status_code == 303:
            return self.get(response.headers['location'])
        return parse_page(response)

    def post(self, path: str, data: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
        """Send a form POST as it is (no redirect followed)."""
        return self.http.post(path, data=data, headers=headers)


def csrf_of(page: Page) -> str:
    """Return the CSRF token the page's forms carry."""
    match = re.search(r'name="csrf" value="([^"]+)"', page.html)
    assert match, 'no CSRF token on the page'
    return match.group(1)


def texts(page: Page, css_class: str) -> Iterator[str]:
    """Yield the texts of the elements with this class."""
    yield from page.by_class.get(css_class, [])
