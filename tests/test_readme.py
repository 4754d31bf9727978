"""The README's quickstarts, extracted and executed, so they cannot rot; and its reference tables stay complete.

- plain Python: the snippet runs as a script from the repository root (it reads the plain-Python example's
  JSON config).
- Django: the snippet's files (``# settings.py``, ``# helpdesk/variables.py``, ``# helpdesk/views.py``) and its
  template become a project around a minimal base settings module; a request through Django's test client
  must render the value and label from a real server.
- Flask: the snippet becomes ``app.py``; a request through Flask's test client must do the same.

The server runs on loopback; the snippets name the demo's address, which is replaced by the test server's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from remotevars._settings import SETTINGS_DEFAULTS
from tests.serverutil import RunningServer, running_server, seed_variable, variable_body

REPO = Path(__file__).resolve().parent.parent
README = (REPO / 'README.md').read_text()
DEMO_URL = 'http://127.0.0.1:8700'
READ_KEY = 'demo-read-key'
SERVER_BANNER = 'Hello from the server'

DJANGO_BASE_SETTINGS = """
SECRET_KEY = 'readme-test'
ALLOWED_HOSTS = ['testserver']
ROOT_URLCONF = 'qs_urls'
USE_TZ = True
INSTALLED_APPS = ['django.contrib.auth', 'django.contrib.contenttypes', 'django.contrib.sessions', 'helpdesk']
MIDDLEWARE = [
    'django.contrib.sessions.middleware.SessionMiddleware',
    'django.contrib.auth.middleware.AuthenticationMiddleware',
]
TEMPLATES = [{
    'BACKEND': 'django.template.backends.django.DjangoTemplates',
    'DIRS': ['templates'],
    'OPTIONS': {'context_processors': ['django.template.context_processors.request']},
}]
DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'}}
"""

DJANGO_URLS = """
from django.urls import path

from helpdesk.views import support

urlpatterns = [path('', support)]
"""


def section(title: str) -> str:
    """Return the README section under ``## title`` (up to the next ``## `` heading)."""
    match = re.search(rf'^## {re.escape(title)}\n(.*?)(?=^## )', README, re.M | re.S)
    assert match is not None, f'README has no section {title!r}'
    return match.group(1)


def code_blocks(text: str, language: str) -> list[str]:
    """Return the fenced code blocks of ``language`` in ``text``."""
    return re.findall(rf'^```{language}\n(.*?)^```', text, re.M | re.S)


def split_files(block: str) -> dict[str, str]:
    """Split a snippet at ``# path.py`` comment lines into the files it shows."""
    files: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in block.splitlines():
        match = re.match(r'# ([\w/]+\.py)\b', line)
        if match:
            current = files.setdefault(match.group(1), [])
        elif current is not None:
            current.append(line)
    return {name: '\n'.join(lines) + '\n' for name, lines in files.items()}


def run_python(code: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a fresh interpreter; return its stdout (asserts a zero exit)."""
    environment = {**os.environ, 'PYDANTIC_DISABLE_PLUGINS': '__all__', **(env or {})}
    for name in ('REMOTEVARS_BASE_URL', 'REMOTEVARS_API_KEY', 'DJANGO_SETTINGS_MODULE'):
        if env is None or name not in env:
            environment.pop(name, None)
    done = subprocess.run(
        [sys.executable, '-c', code], cwd=cwd, env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f'exit {done.returncode}\n{done.stdout}\n{done.stderr}'
    return done.stdout


@pytest.fixture(scope='module')
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The real server with ``banner_text`` labelled ``production`` for everyone."""
    db = tmp_path_factory.mktemp('readme') / 'variables.sqlite3'
    with running_server(db, read_keys=[READ_KEY], write_keys=['write']) as running:
        seed_variable(running.url, 'write', variable_body('banner_text', SERVER_BANNER))
        yield running


@pytest.mark.parametrize('title', ['Quickstart (plain Python)', 'Quickstart (Django)', 'Quickstart (Flask)'])
def test_quickstarts_are_short(title: str) -> None:
    blocks = code_blocks(section(title), 'python') + code_blocks(section(title), 'django')
    assert blocks
    assert sum(1 for block in blocks for line in block.splitlines() if line.strip()) < 20


def test_plain_python_quickstart_runs() -> None:
    (block,) = code_blocks(section('Quickstart (plain Python)'), 'python')
    output = run_python(block, REPO).splitlines()
    model, label, version, reason = output[0].split()
    assert (label, reason) in {('production', 'resolved'), ('experiment', 'resolved')}
    assert model in {'gpt-4o-mini', 'claude-sonnet'} and version.isdigit()
    assert output[1] in {'True', 'False'}


def test_django_quickstart_renders_the_server_value(server: RunningServer, tmp_path: Path) -> None:
    text = section('Quickstart (Django)')
    blocks = code_blocks(text, 'python')
    (template,) = code_blocks(text, 'django')
    files = split_files('\n'.join(blocks).replace(DEMO_URL, server.url))
    assert set(files) == {'settings.py', 'helpdesk/variables.py', 'helpdesk/views.py'}
    (tmp_path / 'helpdesk').mkdir()
    (tmp_path / 'helpdesk' / '__init__.py').write_text('')
    (tmp_path / 'templates').mkdir()
    (tmp_path / 'templates' / 'support.html').write_text(template)
    (tmp_path / 'qs_settings.py').write_text(DJANGO_BASE_SETTINGS + files.pop('settings.py'))
    (tmp_path / 'qs_urls.py').write_text(DJANGO_URLS)
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    code = textwrap.dedent("""
        import django
        django.setup()
        from django.test import Client
        response = Client().get('/')
        print(response.status_code)
        print(response.content.decode())
    """)
    output = run_python(code, tmp_path, {'DJANGO_SETTINGS_MODULE': 'qs_settings'})
    assert output.startswith('200\n')
    assert f'<p>{SERVER_BANNER} (label production)</p>' in output


def test_flask_quickstart_renders_the_server_value(server: RunningServer, tmp_path: Path) -> None:
    (block,) = code_blocks(section('Quickstart (Flask)'), 'python')
    (tmp_path / 'app.py').write_text(block.replace(DEMO_URL, server.url))
    code = textwrap.dedent("""
        from app import app
        response = app.test_client().get('/?user=alice')
        print(response.status_code)
        print(response.text)
    """)
    output = run_python(code, tmp_path)
    assert output == f'200\n{SERVER_BANNER} (label production)\n'


def test_settings_table_lists_every_setting() -> None:
    table = section('Settings')
    for name in SETTINGS_DEFAULTS:
        assert f'| `{name}` |' in table, name


def test_command_line_section_names_every_command() -> None:
    from remotevars.cli import main

    text = section('Command line')
    for name in main.commands:
        assert re.search(rf'`{re.escape(name)}\b|, `{re.escape(name)}`', text), name
    django_commands = (REPO / 'django_remotevars' / 'management' / 'commands').glob('vars_*.py')
    for path in django_commands:
        assert path.stem in text, path.stem
