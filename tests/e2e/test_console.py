"""The console in headless Chromium, with the example Django and Flask apps running against the same server.

``remotevars serve`` (a subprocess, the demo's command line and keys file) is seeded as the demo seeds it;
both apps run. Chromium signs in to the console with the demo's write key, sees the list follow a change made
through the API, and: creates a version of
``assistant`` through the schema form (a value the schema refuses first: its message next to the field),
moves ``banner_text``'s label, changes ``help_layout``'s rollout, and rolls ``banner_text`` back from its
history. After each step both apps' pages serve the new value within 1 s. Then a read key sees the same
pages without edit controls, and a form posted to the console from another origin is refused.

``REMOTEVARS_UPDATE_SCREENSHOT=1`` also saves the screenshot of the variable page in ``docs/``, for the
README (otherwise it goes to the test's folder).
"""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.exampleutil import REPO, browser_missing, chromium, demo, example_app, server_config
from tests.serverutil import free_port, server_process

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or '')

WELCOME = json.loads(demo.SETUP_COMMANDS[0][2])
HOLIDAY = json.loads(demo.SETUP_COMMANDS[1][2])
SCREENSHOT = REPO / 'docs' / 'console-variable-page.png'
#: How soon the apps must serve a change made in the console (the acceptance figure).
PROPAGATION_LIMIT = 1.0


def _element(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    return match.group(1).strip() if match else ''


class Apps:
    """The two running example apps, read through their pages (Flask as alice, Django anonymously)."""

    def __init__(self, django_url: str, flask_url: str) -> None:
        self.urls = {'django': django_url, 'flask': f'{flask_url}?user=alice'}
        self.http = httpx.Client(timeout=5.0)
        self.delays: dict[str, float] = {}

    def close(self) -> None:
        self.http.close()

    def pages(self) -> dict[str, str]:
        return {app: self.http.get(url).text for app, url in self.urls.items()}

    def wait(self, step: str, element_id: str, expected: str, start: float) -> None:
        """Return once both pages show ``expected`` in the element; records how long it took since ``start``."""
        while True:
            pages = self.pages()
            if all(_element(html, element_id) == expected for html in pages.values()):
                self.delays[step] = time.monotonic() - start
                return
            if time.monotonic() - start > 5:
                found = {app: _element(html, element_id) for app, html in pages.items()}
                raise AssertionError(f'{step}: the apps show {found}, not {expected!r}')
            time.sleep(0.02)


@contextmanager
def forged_form_site(action: str, fields: dict[str, str]) -> Iterator[str]:
    """Serve, on another origin (127.0.0.1, another port), a page whose form posts ``fields`` to ``action``."""
    inputs = ''.join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    page = f'<html><body><form method="post" action="{action}">{inputs}<button id="go">Win</button></form>'.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header('Content-Type', 'text/html')
            self.send_header('Content-Length', str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    site = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{site.server_address[1]}/'
    finally:
        site.shutdown()
        site.server_close()
        thread.join(5)


def test_console_edits_reach_both_apps_and_a_read_key_only_looks(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    layout = demo.Layout(tmp_path, free_port(), free_port(), free_port())
    layout.logs.mkdir()
    demo.write_keys_file(layout)
    with server_process(
        layout.server_db,
        port=layout.server_port,
        read_keys=[demo.READ_KEY],
        write_keys=[demo.WRITE_KEY],
        extra_args=['--keys-file', str(layout.keys_file), '--keepalive', '5'],
    ):
        demo.seed(layout, demo.app_environment(layout, os.environ), io.StringIO())
        with (
            example_app('django', layout) as django_url,
            example_app('flask', layout) as flask_url,
            chromium(tmp_path) as browser,
            contextlib.closing(Apps(django_url, flask_url)) as apps,
        ):
            console = layout.console_url

            def find(element_id: str) -> Any:
                return browser.find_element(By.ID, element_id)

            def go(path: str, ready: str) -> None:
                browser.get(console + path)
                assert browser.find_elements(By.ID, ready), browser.page_source[:3000]

            def click_and_load(element_id: str, ready: str) -> None:
                find(element_id).click()
                deadline = time.monotonic() + 10
                while not browser.find_elements(By.ID, ready):
                    assert time.monotonic() < deadline, browser.page_source[:3000]
                    time.sleep(0.02)

            def sign_in(key: str) -> None:
                go('sign-in', 'key')
                find('key').send_keys(key)
                click_and_load('submit', 'viewer')

            def apply(button: str, step: str, element_id: str, expected: str) -> None:
                """Click the button that applies a change, then wait for both apps to serve it."""
                start = time.monotonic()
                click_and_load(button, 'done')
                apps.wait(step, element_id, expected, start)

            # Sign in with a write key: its name is shown, and is the actor in the history.
            sign_in(demo.CONSOLE_KEY)
            assert find('viewer').text == demo.CONSOLE_KEY_NAME
            assert 'banner_text' in find('variable-rows').text

            # The list follows the update stream: a change made elsewhere shows without a reload.
            assert 'paused' not in find('row-live_chat').text
            with httpx.Client(headers={'Authorization': f'bearer {demo.WRITE_KEY}'}) as api:
                api.put(f'{layout.server_url}/v1/variables/live_chat/labels/paused/', json={'ref': 'code_default'})
            deadline = time.monotonic() + 5
            while 'paused' not in find('row-live_chat').text:
                assert time.monotonic() < deadline, find('variable-rows').text
                time.sleep(0.05)

            # A new version through the schema form: the schema refuses the first value, next to its field.
            go('variables/assistant/', 'new-version')
            click_and_load('new-version', 'version-form')
            find('$.model').clear()
            find('$.model').send_keys('support-console')
            find('$.temperature').clear()
            find('$.temperature').send_keys('5')
            click_and_load('save', 'error')
            message = browser.find_element(By.CSS_SELECTOR, '.field-error[data-path="$.temperature"]').text
            assert message == '5 is greater than the maximum of 2'
            assert find('$.model').get_attribute('value') == 'support-console'  # what was typed is kept
            find('$.temperature').clear()
            find('$.temperature').send_keys('0.7')
            Select(find('label')).select_by_value('production')
            apply('save', 'create a version', 'model', 'support-console')

            # Move a label: banner_text's production to version 2, reviewed with the CLI's words.
            go('variables/banner_text/labels?label=production', 'target')
            Select(find('target')).select_by_value('version:2')
            click_and_load('review', 'change')
            assert find('change').text == "~ label 'production': version 1 -> version 2"
            apply('confirm', 'move a label', 'banner', HOLIDAY)

            # Change a rollout: everyone on the canary layout; the remainder is shown as weights are typed.
            go('variables/help_layout/rollout', 'weights')
            find('w:stable').clear()
            find('w:canary').clear()
            find('w:canary').send_keys('1')
            assert find('weights-remainder').text == '0'
            click_and_load('review', 'change')
            assert find('change').text == '~ rollout: stable=0.5, canary=0.5 -> canary=1'
            apply('confirm', 'change a rollout', 'layout', 'cards')
            browser.set_window_size(1100, 2000)
            go('variables/help_layout/', 'history')
            browser.save_screenshot(str(tmp_path / SCREENSHOT.name))
            if os.environ.get('REMOTEVARS_UPDATE_SCREENSHOT') == '1':
                browser.save_screenshot(str(SCREENSHOT))
            browser.set_window_size(1100, 900)

            # Roll back from the history: banner_text as it was before the label moved.
            go('variables/banner_text/', 'history')
            entries = browser.find_elements(By.CSS_SELECTOR, '#history > ol > li')
            assert demo.CONSOLE_KEY_NAME in entries[0].text and 'set-label' in entries[0].text
            entry = entries[1].get_attribute('id').removeprefix('history-')
            click_and_load(f'rollback-{entry}', 'change')
            assert find('change').text == "~ label 'production': version 2 -> version 1"
            apply('confirm', 'roll back', 'banner', WELCOME)
            assert all(delay < PROPAGATION_LIMIT for delay in apps.delays.values()), apps.delays
            print('console -> apps:', {step: f'{delay * 1000:.0f} ms' for step, delay in apps.delays.items()})

            # A read key sees the same pages, without any edit control.
            find('sign-out').click()
            sign_in(demo.READ_KEY)
            for path in ('', 'variables/help_layout/', 'variables/banner_text/'):
                go(path, 'viewer')
                assert find('viewer-scope').text == 'read only'
                assert browser.find_elements(By.CSS_SELECTOR, '.edit') == []
                posting = browser.find_elements(By.CSS_SELECTOR, 'form[method="post"]')
                assert [f.get_attribute('action').removeprefix(layout.server_url) for f in posting] == ['/ui/sign-out']
            assert 'Holiday hours' in find('versions').text  # the values are there to read

            # A form posted from another origin is refused, even to a signed-in write session.
            find('sign-out').click()
            sign_in(demo.CONSOLE_KEY)
            before = server_config(layout).variables['banner_text']
            fields = {'step': 'confirm', 'label': 'production', 'target': 'version:2', 'allow_destructive': 'yes'}
            with forged_form_site(f'{console}variables/banner_text/labels', fields) as site:
                browser.get(site)
                click_and_load('go', 'error')
            assert 'security token is missing or wrong' in find('error').text
            assert server_config(layout).variables['banner_text'] == before
            apps.wait('after the forged form', 'banner', WELCOME, time.monotonic())
