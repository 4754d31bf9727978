"""Helpers of the end-to-end tests of the example projects: the demo module, the apps, headless Chromium.

- ``demo``: ``example_projects/demo.py`` loaded as a module, so the tests run the demo's own setup steps
  (framework push commands, admin commands) and start the apps with the demo's command lines.
- ``browser_missing()``: why the browser tests cannot run here (None when they can).
- ``chromium(tmp_path)``: a headless Debian Chromium driven by Selenium through Debian's chromedriver.
- ``example_app(name, layout, ...)``: seed the server for one example app and serve it on loopback.
- ``remotevars_command(*args)``: run the ``remotevars`` command line as a subprocess.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import httpx

import remotevars

REPO: Final = Path(__file__).resolve().parents[2]
CHROMIUM: Final = Path('/usr/bin/chromium')
CHROMEDRIVER: Final = Path('/usr/bin/chromedriver')
APPS: Final = ('django', 'flask')
CHROMIUM_FLAGS: Final = (
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
    '--window-size=1100,900',
)


def _load_demo() -> ModuleType:
    path = REPO / 'example_projects' / 'demo.py'
    spec = importlib.util.spec_from_file_location('remotevars_example_demo', path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


demo: Final = _load_demo()


def browser_missing() -> str | None:
    """Return why a browser test cannot run here (no Chromium, no chromedriver, no selenium), or None."""
    if not CHROMIUM.is_file():
        return f'{CHROMIUM} is missing (apt-get install chromium chromium-driver; `make test` does it as root)'
    if not CHROMEDRIVER.is_file():
        return f'{CHROMEDRIVER} is missing (apt-get install chromium-driver; `make test` does it as root)'
    if importlib.util.find_spec('selenium') is None:
        return 'selenium is not installed (it is in the dev extra)'
    return None


@contextlib.contextmanager
def chromium(tmp_path: Path) -> Iterator[Any]:
    """Yield a Selenium driver of a headless Chromium with a fresh profile; quits it on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tmp_path / 'chromium-profile'
    profile.mkdir(exist_ok=True)
    options.add_argument(f'--user-data-dir={profile}')
    with (tmp_path / 'chromedriver.log').open('w') as log:
        # An explicit driver path: Selenium Manager (which would download drivers) is never run.
        service = Service(executable_path=str(CHROMEDRIVER), log_output=log)
        driver = webdriver.Chrome(options=options, service=service)
        try:
            driver.set_page_load_timeout(20)
            yield driver
        finally:
            driver.quit()


def text_of(driver: Any, element_id: str) -> str:
    """Return the visible text of the element with this id ('' when there is none)."""
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.ID, element_id)
    return str(found[0].text) if found else ''


def reload_until(driver: Any, url: str, check: Callable[[], bool], *, timeout: float = 5.0) -> float:
    """Load ``url`` until ``check()`` holds; return the seconds it took. Raises ``AssertionError`` after ``timeout``."""
    start = time.monotonic()
    while True:
        driver.get(url)
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f'{url}: condition not met within {timeout}s; page:\n{driver.page_source[:2000]}')
        time.sleep(0.2)


def sign_in(driver: Any, app: str, base_url: str, username: str) -> None:
    """Sign in through the app's own form (the Django auth view, the Flask session form)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.delete_all_cookies()
    driver.get(f'{base_url}login/')
    if app == 'django':
        driver.find_element(By.NAME, 'username').send_keys(username)
        driver.find_element(By.NAME, 'password').send_keys('demo-password')
    else:
        Select(driver.find_element(By.NAME, 'username')).select_by_value(username)
    driver.find_element(By.ID, 'submit').click()
    deadline = time.monotonic() + 10
    while text_of(driver, 'user') != username:
        if time.monotonic() > deadline:
            raise AssertionError(f'sign-in as {username} failed; page:\n{driver.page_source[:2000]}')
        time.sleep(0.1)


def remotevars_command(*args: str, timeout: float = 30.0) -> str:
    """Run ``remotevars ARGS...`` (the installed command line) and return its output; raises on failure."""
    script = Path(sys.executable).with_name('remotevars')
    program = [str(script)] if script.exists() else [sys.executable, '-c', 'from remotevars.cli import main; main()']
    done = subprocess.run([*program, *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f'remotevars {args}: exit {done.returncode}\n{done.stdout}{done.stderr}'
    return done.stdout


def server_config(layout: Any) -> remotevars.VariablesConfig:
    """Return the demo server's whole configuration."""
    headers = {'Authorization': f'bearer {demo.READ_KEY}'}
    response = httpx.get(f'{layout.server_url}/v1/variables/', headers=headers, timeout=10.0)
    response.raise_for_status()
    return remotevars.VariablesConfig.model_validate(response.json())


def seed(app: str, layout: Any) -> str:
    """Push the app's variables with its framework command and run the demo's admin setup; return the output."""
    env = demo.app_environment(layout, os.environ)
    push_env = {**env, 'REMOTEVARS_API_KEY': demo.WRITE_KEY}
    out = io.StringIO()
    if app == 'django':
        python = sys.executable
        demo.run_step('seed_users', [python, 'manage.py', 'seed_users'], demo.DJANGO_DIR, env, out)
        demo.run_step('vars_push', [python, 'manage.py', 'vars_push', '--yes'], demo.DJANGO_DIR, push_env, out)
    else:
        push = [sys.executable, '-m', 'flask', '--app', 'support_app', 'vars', 'push', '--yes']
        demo.run_step('flask vars push', push, demo.FLASK_DIR, push_env, out)
    for command in demo.SETUP_COMMANDS:
        demo.run_admin(command, layout, out)
    return out.getvalue()


@contextlib.contextmanager
def example_app(app: str, layout: Any) -> Iterator[str]:
    """Serve the example app (the demo's command line) on loopback; yield its front page URL; stop it on exit."""
    env = demo.app_environment(layout, os.environ)
    if app == 'django':
        child = demo.Child('Django site', demo.django_command(layout), demo.DJANGO_DIR, env, layout.logs / 'django.log')
        url = layout.django_url
    else:
        child = demo.Child('Flask app', demo.flask_command(layout), demo.FLASK_DIR, env, layout.logs / 'flask.log')
        url = layout.flask_url
    child.start()
    try:
        demo.wait_for_url(url, child)
        yield url
    finally:
        child.stop()
