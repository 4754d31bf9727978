"""The one-command demo (``make demo``): a variables server and the Django and Flask example apps.

It starts ``remotevars serve`` (with its web console at ``/ui/``) on a fresh SQLite file under ``.demo/``
(reset on every run, so re-running always starts from the same state), pushes the apps' variables with
the frameworks' own commands (``manage.py vars_push``, ``flask vars push``), gives them versions, labels,
a rollout and an override with the admin commands, starts both apps on 127.0.0.1, prints their URLs,
the console's URL with a key to sign in with, and three commands to try, and stops everything on
Ctrl-C or SIGTERM.

Ports: ``--server-port`` / ``--django-port`` / ``--flask-port`` (or the environment variables
``REMOTEVARS_DEMO_SERVER_PORT`` ...; defaults 8700, 8701, 8702). ``--dir`` (``REMOTEVARS_DEMO_DIR``)
moves the working folder. Every child runs in a process group of its own and is stopped by signalling
that group, so nothing is left behind.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Final

REPO: Final = Path(__file__).resolve().parent.parent
DJANGO_DIR: Final = REPO / 'example_projects' / 'django_site'
FLASK_DIR: Final = REPO / 'example_projects' / 'flask_app'
READ_KEY: Final = 'demo-read-key'
WRITE_KEY: Final = 'demo-write-key'
#: The key to sign in to the console with; its name (from the keys file) is the actor in the history.
CONSOLE_KEY: Final = 'demo-console-key'
CONSOLE_KEY_NAME: Final = 'demo-editor'
START_TIMEOUT: Final = 45.0
STOP_TIMEOUT: Final = 10.0

_HOLIDAY_BANNER: Final = 'Holiday hours: replies may take up to 48 hours'
_ASSISTANT_V1: Final = {
    'model': 'support-small',
    'temperature': 0.2,
    'greeting': 'Hi! Ask me about passwords, plans or exports.',
    'max_answer_words': 120,
}
_ASSISTANT_V2: Final = {**_ASSISTANT_V1, 'model': 'support-large', 'greeting': 'Hello! I am the new assistant.'}

#: The admin commands that give the pushed variables their versions, labels, rollouts and override.
SETUP_COMMANDS: Final[tuple[tuple[str, ...], ...]] = (
    (
        'create-version',
        'banner_text',
        json.dumps('Welcome to Acme support: we answer within a day'),
        '--label',
        'production',
    ),
    ('create-version', 'banner_text', json.dumps(_HOLIDAY_BANNER)),
    ('set-rollout', 'banner_text', 'production=1'),
    ('create-version', 'assistant', json.dumps(_ASSISTANT_V1), '--label', 'production'),
    ('set-rollout', 'assistant', 'production=1'),
    ('create-version', 'live_chat', 'true', '--label', 'on'),
    ('add-override', 'live_chat', '--when', 'plan=enterprise', '--rollout', 'on=1'),
    ('create-version', 'help_layout', json.dumps('classic'), '--label', 'stable'),
    ('create-version', 'help_layout', json.dumps('cards'), '--label', 'canary'),
    ('set-rollout', 'help_layout', 'stable=0.5', 'canary=0.5'),
)

#: The three commands to try while the demo runs: (what it shows, admin command).
TRY_COMMANDS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    (
        'Move a label: everyone on production gets the holiday banner',
        ('set-label', 'banner_text', 'production', '--version', '2'),
    ),
    (
        'Change the rollout: 90% of users get the cards layout',
        ('set-rollout', 'help_layout', 'stable=0.1', 'canary=0.9'),
    ),
    (
        'Push a new version of the assistant settings and label it production',
        ('create-version', 'assistant', json.dumps(_ASSISTANT_V2), '--label', 'production'),
    ),
)


class DemoError(Exception):
    """A step of the demo failed; the message says which and where its log is."""


@dataclass(frozen=True)
class Layout:
    """Where the demo keeps its files and which ports it uses."""

    folder: Path
    server_port: int
    django_port: int
    flask_port: int

    @property
    def server_url(self) -> str:
        """The variables server's origin."""
        return f'http://127.0.0.1:{self.server_port}'

    @property
    def django_url(self) -> str:
        """The Django site's front page."""
        return f'http://127.0.0.1:{self.django_port}/'

    @property
    def flask_url(self) -> str:
        """The Flask app's front page."""
        return f'http://127.0.0.1:{self.flask_port}/'

    @property
    def console_url(self) -> str:
        """The variables server's web console."""
        return f'{self.server_url}/ui/'

    @property
    def keys_file(self) -> Path:
        """The server's keys file (the console's named key)."""
        return self.folder / 'keys.toml'

    @property
    def server_db(self) -> Path:
        """The variables server's SQLite file."""
        return self.folder / 'variables.sqlite3'

    @property
    def django_db(self) -> Path:
        """The Django site's SQLite file (users and sessions)."""
        return self.folder / 'django_site.sqlite3'

    @property
    def logs(self) -> Path:
        """The folder of the children's logs."""
        return self.folder / 'logs'


def app_environment(layout: Layout, base: Mapping[str, str]) -> dict[str, str]:
    """Return the environment of the example apps and their commands: the server, a read key, the files."""
    return {
        **base,
        'PYDANTIC_DISABLE_PLUGINS': '__all__',
        'PYTHONUNBUFFERED': '1',
        'REMOTEVARS_BASE_URL': layout.server_url,
        'REMOTEVARS_API_KEY': READ_KEY,
        'SUPPORT_SITE_DB': str(layout.django_db),
        'SUPPORT_SITE_VARS_CACHE': str(layout.folder / 'django-vars-cache.json'),
        'FLASK_REMOTEVARS_CACHE_FILE': str(layout.folder / 'flask-vars-cache.json'),
    }


def server_command(layout: Layout) -> list[str]:
    """Return the command starting the variables server."""
    return [
        sys.executable, '-m', 'remotevars.server', '--host', '127.0.0.1', '--port', str(layout.server_port),
        '--db', str(layout.server_db), '--read-key', READ_KEY, '--write-key', WRITE_KEY, '--keepalive', '5',
        '--keys-file', str(layout.keys_file),
    ]  # fmt: skip


def write_keys_file(layout: Layout) -> None:
    """Write the server's keys file: the console's named write key (the apps use the unnamed keys)."""
    layout.keys_file.write_text(
        f'[[keys]]\nname = "{CONSOLE_KEY_NAME}"\nscope = "write"\nsecret = "{CONSOLE_KEY}"\n', encoding='utf-8'
    )


def django_command(layout: Layout) -> list[str]:
    """Return the command serving the Django site (no autoreloader: one process to stop)."""
    return [sys.executable, 'manage.py', 'runserver', f'127.0.0.1:{layout.django_port}', '--noreload']


def flask_command(layout: Layout) -> list[str]:
    """Return the command serving the Flask app."""
    port = str(layout.flask_port)
    return [sys.executable, '-m', 'flask', '--app', 'support_app', 'run', '--host', '127.0.0.1', '--port', port]


def admin_argv(command: Sequence[str], layout: Layout) -> list[str]:
    """Return the ``remotevars`` arguments of an admin command against the demo server, with the write key."""
    return [*command, '--base-url', layout.server_url, '--api-key', WRITE_KEY]


@dataclass
class Child:
    """A long-running child process in a process group of its own, its output in a log file."""

    name: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start the process (its own session, so a terminal's Ctrl-C reaches only the demo)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open('ab') as output:
            self.process = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )

    def alive(self) -> bool:
        """Return whether the process is still running."""
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Stop the process group: SIGTERM, then SIGKILL after ``STOP_TIMEOUT`` seconds."""
        process = self.process
        if process is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(STOP_TIMEOUT)
                break
            except subprocess.TimeoutExpired:
                continue
        # The leader may be gone while a grandchild lives on in its group: end the group in any case.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        self.process = None

    def log_tail(self, lines: int = 20) -> str:
        """Return the last lines of the log."""
        try:
            return '\n'.join(self.log.read_text(errors='replace').splitlines()[-lines:])
        except OSError:
            return '(no log)'


def port_is_free(port: int) -> bool:
    """Return whether 127.0.0.1:port can be bound right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(('127.0.0.1', port))
        except OSError:
            return False
        return True


def wait_for_url(
    url: str, child: Child, *, headers: Mapping[str, str] | None = None, stop: threading.Event | None = None
) -> None:
    """Return once ``url`` answers below 500.

    Raises :class:`DemoError` if the child dies, time runs out or ``stop`` is set (Ctrl-C while starting).
    """
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if stop is not None and stop.is_set():
            raise DemoError('interrupted while starting')
        if not child.alive():
            raise DemoError(f'{child.name} exited during start-up; its log ({child.log}):\n{child.log_tail()}')
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=dict(headers or {})), timeout=2.0):
                return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise DemoError(f'{child.name} did not answer at {url} within {START_TIMEOUT:.0f}s; log: {child.log}')


def run_step(title: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str], out: IO[str]) -> None:
    """Run a setup command, print its title and output indented; raises :class:`DemoError` if it fails."""
    out.write(f'\n$ {title}\n')
    out.flush()
    try:
        done = subprocess.run(argv, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired as exc:
        raise DemoError(f'{title}: no answer within 120s') from exc
    text = (done.stdout + done.stderr).strip()
    out.write(''.join(f'  {line}\n' for line in text.splitlines()[-12:]))
    if done.returncode != 0:
        raise DemoError(f'{title} failed with exit code {done.returncode}')


def run_admin(command: Sequence[str], layout: Layout, out: IO[str]) -> None:
    """Run one ``remotevars`` admin command in this process; raises :class:`DemoError` if it fails."""
    from remotevars.cli import main

    out.write(f'$ remotevars {shlex.join(command)}\n  ')
    out.flush()
    try:
        main.main(args=admin_argv(command, layout), prog_name='remotevars', standalone_mode=False)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise DemoError(f'remotevars {shlex.join(command)} failed (exit code {exc.code})') from None


def reset(layout: Layout) -> None:
    """Start from a clean state: remove the previous run's databases, caches and logs (the folder stays)."""
    layout.folder.mkdir(parents=True, exist_ok=True)
    for path in layout.folder.glob('*.sqlite3*'):
        path.unlink()
    for path in layout.folder.glob('*-vars-cache.json'):
        path.unlink()
    for path in layout.logs.glob('*.log'):
        path.unlink()


def try_text(layout: Layout, remotevars_program: str) -> str:
    """Return what the demo prints once everything runs: URLs, users, the console and the three commands to try."""
    lines = [
        '',
        'remotevars demo is running. Ctrl-C stops everything.',
        '',
        f'  variables server  {layout.server_url}   (database {layout.server_db}, logs in {layout.logs})',
        f'  console           {layout.console_url}   sign in with the key {CONSOLE_KEY} ({READ_KEY} only reads)',
        f'  Django site       {layout.django_url}   sign in as alice, bob or carol (password demo-password)',
        f'  Flask app         {layout.flask_url}   ?user=alice, ?user=bob or ?user=carol',
        '',
        'alice and bob land on different labels of the help_layout rollout; carol (enterprise) also gets the',
        'live chat section.',
        '',
        f'Open the console ({layout.console_url}), open help_layout, click "Move" next to its stable label, point',
        'it at version 2 ("cards"), review and confirm, then reload both apps: everyone gets the cards layout.',
        '',
        'Or try these in another terminal, then reload the pages (the apps keep running):',
        '',
        f'  export REMOTEVARS_BASE_URL={layout.server_url} REMOTEVARS_API_KEY={WRITE_KEY}',
    ]
    for number, (what, command) in enumerate(TRY_COMMANDS, start=1):
        lines += ['', f'  # {number}. {what}', f'  {remotevars_program} {shlex.join(command)}']
    lines += ['', f'  {remotevars_program} show help_layout   # labels, rollout, overrides, versions', '']
    return '\n'.join(lines)


def _remotevars_program() -> str:
    """Return how to call the ``remotevars`` command next to this Python (relative to the working folder)."""
    script = Path(sys.executable).with_name('remotevars')
    if not script.exists():
        return 'remotevars'
    relative = os.path.relpath(script)
    return str(script) if relative.startswith('..') else relative


@contextlib.contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """Yield an event set by SIGINT or SIGTERM; the previous handlers come back afterwards."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _check(stop: threading.Event) -> None:
    if stop.is_set():
        raise DemoError('interrupted during the setup')


def seed(layout: Layout, env: Mapping[str, str], out: IO[str], check: Callable[[], None] = lambda: None) -> None:
    """Seed the running server: the demo users, both apps' variables pushed with their frameworks' commands,
    then versions, labels, a rollout and an override. ``check`` runs before each step (it may raise).

    Raises :class:`DemoError` when a step fails.
    """
    push_env = {**env, 'REMOTEVARS_API_KEY': WRITE_KEY}
    flask_push = [sys.executable, '-m', 'flask', '--app', 'support_app', 'vars', 'push', '--yes']
    steps = (
        ('manage.py seed_users', [sys.executable, 'manage.py', 'seed_users'], DJANGO_DIR, env),
        ('manage.py vars_push --yes', [sys.executable, 'manage.py', 'vars_push', '--yes'], DJANGO_DIR, push_env),
        ('flask --app support_app vars push --yes', flask_push, FLASK_DIR, push_env),
    )
    for title, argv, cwd, step_env in steps:
        check()
        run_step(title, argv, cwd, step_env, out)
    out.write('\nVersions, labels, a rollout and an override:\n')
    for command in SETUP_COMMANDS:
        check()
        run_admin(command, layout, out)


def run(layout: Layout, stop: threading.Event, out: IO[str]) -> int:
    """Set everything up, serve until ``stop`` is set or a child dies, then stop the children; return 0 or 1."""
    busy = [p for p in (layout.server_port, layout.django_port, layout.flask_port) if not port_is_free(p)]
    if busy:
        out.write(f'Ports in use: {busy}. Stop what uses them or pick others (see --help).\n')
        return 1
    reset(layout)
    write_keys_file(layout)
    env = app_environment(layout, os.environ)
    children: list[Child] = []
    try:
        server = Child('variables server', server_command(layout), REPO, env, layout.logs / 'server.log')
        children.append(server)
        out.write(f'Starting the variables server on {layout.server_url} ...\n')
        server.start()
        auth = {'Authorization': f'bearer {READ_KEY}'}
        wait_for_url(f'{layout.server_url}/v1/variables/', server, headers=auth, stop=stop)

        seed(layout, env, out, lambda: _check(stop))

        django = Child('Django site', django_command(layout), DJANGO_DIR, env, layout.logs / 'django_site.log')
        flask = Child('Flask app', flask_command(layout), FLASK_DIR, env, layout.logs / 'flask_app.log')
        children += [django, flask]
        out.write('\nStarting the Django site and the Flask app ...\n')
        django.start()
        flask.start()
        wait_for_url(layout.django_url, django, stop=stop)
        wait_for_url(layout.flask_url, flask, stop=stop)
        out.write(try_text(layout, _remotevars_program()) + '\n')
        out.flush()
        while not stop.wait(0.5):
            dead = [child for child in children if not child.alive()]
            if dead:
                raise DemoError(f'{dead[0].name} stopped unexpectedly; its log ({dead[0].log}):\n{dead[0].log_tail()}')
        out.write('\nStopping ...\n')
        return 0
    except DemoError as exc:
        out.write(f'\ndemo: {exc}\n')
        return 1
    finally:
        for child in reversed(children):
            child.stop()
        out.write('Stopped the apps and the server.\n')
        out.flush()


def _port(name: str, default: int) -> int:
    return int(os.environ.get(f'REMOTEVARS_DEMO_{name}_PORT', default))


def parse_args(argv: Sequence[str] | None = None) -> Layout:
    """Return the layout the command line (and environment) ask for."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0] if __doc__ else None)
    parser.add_argument('--server-port', type=int, default=_port('SERVER', 8700))
    parser.add_argument('--django-port', type=int, default=_port('DJANGO', 8701))
    parser.add_argument('--flask-port', type=int, default=_port('FLASK', 8702))
    parser.add_argument('--dir', type=Path, default=Path(os.environ.get('REMOTEVARS_DEMO_DIR', REPO / '.demo')))
    args = parser.parse_args(argv)
    return Layout(args.dir.resolve(), args.server_port, args.django_port, args.flask_port)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo until Ctrl-C or SIGTERM; return the exit code."""
    layout = parse_args(argv)
    with stop_signals() as stop:
        return run(layout, stop, sys.stdout)


if __name__ == '__main__':
    sys.exit(main())
