"""The example apps in a real browser: headless Chromium against the Django site and the Flask app.

Each test runs the chain a user sees: ``remotevars serve`` (a subprocess), the app's variables pushed
with its framework command and given versions, labels, a rollout and an override with the admin
commands (the demo's own setup), the app served on loopback (the demo's command line), and Chromium
signing in through the app's form. Then: the page shows the server's values; a label moved with
``remotevars set-label`` shows on reload without restarting the app; users land on the rollout labels
``VariableConfig.resolve_label`` computes for the key the app uses; and with the server stopped the page
still renders its last good values.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.exampleutil import (
    APPS,
    browser_missing,
    chromium,
    demo,
    example_app,
    reload_until,
    remotevars_command,
    seed,
    server_config,
    sign_in,
    text_of,
)
from tests.serverutil import free_port, server_process

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or '')

WELCOME = json.loads(demo.SETUP_COMMANDS[0][2])
HOLIDAY = json.loads(demo.SETUP_COMMANDS[1][2])


@pytest.mark.parametrize('app', APPS)
def test_example_app_in_chromium(app: str, tmp_path: Path) -> None:
    layout = demo.Layout(tmp_path, free_port(), free_port(), free_port())
    layout.logs.mkdir()
    with server_process(
        layout.server_db, port=layout.server_port, read_keys=[demo.READ_KEY], write_keys=[demo.WRITE_KEY]
    ) as server:
        seed(app, layout)
        with example_app(app, layout) as url, chromium(tmp_path) as browser:
            # The page shows the server's values (not the code defaults).
            sign_in(browser, app, url, 'alice')
            assert text_of(browser, 'banner') == WELCOME
            assert text_of(browser, 'model') == 'support-small'
            assert text_of(browser, 'live-chat') == ''  # alice is on the free plan: the flag is off

            # A label moved with the command line shows on reload, the app still running.
            admin = ['--base-url', layout.server_url, '--api-key', demo.WRITE_KEY]
            remotevars_command('set-label', 'banner_text', 'production', '--version', '2', *admin)
            took = reload_until(browser, url, lambda: text_of(browser, 'banner') == HOLIDAY, timeout=5.0)
            assert took < 5.0
            browser.save_screenshot(str(tmp_path / f'{app}-alice.png'))

            # Each user lands on the label the rollout gives the key the app uses (Django: the user's
            # pk; Flask: the user name), and carol's plan turns the live chat section on.
            config = server_config(layout)
            layouts = {}
            for user, plan in (('alice', 'free'), ('bob', 'free'), ('carol', 'enterprise')):
                sign_in(browser, app, url, user)
                key = text_of(browser, 'key')
                assert key == user if app == 'flask' else key.isdigit()
                expected = config.variables['help_layout'].resolve_label(key, {'plan': plan})
                assert text_of(browser, 'layout-label') == expected, user
                layouts[user] = expected
                assert (text_of(browser, 'live-chat') != '') == (plan == 'enterprise'), user
            assert layouts['alice'] != layouts['bob']  # the two free users show both sides of the rollout
            browser.save_screenshot(str(tmp_path / f'{app}-carol.png'))

            # The server goes away: the page still renders with the last good values.
            server.stop()
            browser.get(url)
            assert text_of(browser, 'banner') == HOLIDAY
            assert text_of(browser, 'layout-label') == layouts['carol']
            assert text_of(browser, 'live-chat') != ''
