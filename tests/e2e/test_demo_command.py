"""The one-command demo itself: started in the background, both pages fetched, stopped with Ctrl-C or SIGTERM.

``example_projects/demo.py`` runs as ``make demo`` runs it, on free ports and in a folder of the test's
own. While it serves, every process it started (found through ``/proc``: server, Django, Flask and any
of their children) is recorded; after Ctrl-C none of them may be left, and the ports must be free.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.exampleutil import demo
from tests.serverutil import free_port

pytestmark = pytest.mark.skipif(not Path('/proc/self/stat').exists(), reason='needs /proc to find child processes')

READY_LINE = 'show help_layout'


def _stat(pid: int) -> tuple[int, str, str] | None:
    """Return (parent pid, state, start time) of a process from /proc, or None when it is gone."""
    try:
        text = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return None
    # The command name (2nd field) is in parentheses and may contain spaces: split after the last ')'.
    fields = text[text.rindex(')') + 2 :].split()
    return int(fields[1]), fields[0], fields[19]


def descendants(root: int) -> dict[int, str]:
    """Return every live descendant of ``root``, by pid, with its start time (to tell a reused pid)."""
    parents: dict[int, int] = {}
    starts: dict[int, str] = {}
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = stat[0]
            starts[int(entry.name)] = stat[2]
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = starts[pid]
                frontier.append(pid)
    return found


def still_running(processes: dict[int, str]) -> list[int]:
    """Return the pids of ``processes`` that still run (same start time, not a zombie)."""
    left = []
    for pid, start in processes.items():
        stat = _stat(pid)
        if stat is not None and stat[2] == start and stat[1] != 'Z':
            left.append(pid)
    return left


@pytest.fixture
def demo_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], list[str], Any]]:
    """The demo command in the background; yields (process, its output lines so far, its layout)."""
    layout = demo.Layout(tmp_path / 'demo', free_port(), free_port(), free_port())
    command = [sys.executable, str(demo.REPO / 'example_projects' / 'demo.py'), '--dir', str(layout.folder)]
    env = {
        **os.environ,
        'PYDANTIC_DISABLE_PLUGINS': '__all__',
        'PYTHONUNBUFFERED': '1',
        'REMOTEVARS_DEMO_SERVER_PORT': str(layout.server_port),
        'REMOTEVARS_DEMO_DJANGO_PORT': str(layout.django_port),
        'REMOTEVARS_DEMO_FLASK_PORT': str(layout.flask_port),
    }
    process = subprocess.Popen(
        command, cwd=demo.REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    reader.start()
    try:
        yield process, lines, layout
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        reader.join(10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize('stop_signal', [signal.SIGINT, signal.SIGTERM], ids=['ctrl-c', 'sigterm'])
def test_demo_serves_both_apps_and_stops_cleanly(
    demo_process: tuple[subprocess.Popen[str], list[str], Any], stop_signal: signal.Signals
) -> None:
    process, lines, layout = demo_process
    deadline = time.monotonic() + 90
    while not any(READY_LINE in line for line in lines):
        assert process.poll() is None, 'the demo exited early:\n' + ''.join(lines)
        assert time.monotonic() < deadline, 'the demo was not ready within 90s:\n' + ''.join(lines)
        time.sleep(0.2)
    output = ''.join(lines)
    for url in (layout.server_url, layout.django_url, layout.flask_url, layout.console_url):
        assert url in output
    assert f'sign in with the key {demo.CONSOLE_KEY}' in output  # the console and a key to sign in with
    assert 'open help_layout, click "Move" next to its stable label' in output
    assert 'remotevars set-label banner_text production --version 2' in output  # the three commands to try
    assert 'remotevars set-rollout help_layout' in output
    assert 'remotevars create-version assistant' in output

    children = descendants(process.pid)
    assert len(children) >= 3, children  # server, Django, Flask

    with httpx.Client(timeout=10.0) as http:
        django_page = http.get(layout.django_url)
        flask_page = http.get(layout.flask_url, params={'user': 'carol'})
        console = http.get(layout.console_url, follow_redirects=True)  # to its sign-in page
    assert console.status_code == 200 and 'API key' in console.text
    assert django_page.status_code == 200
    assert 'Welcome to Acme support: we answer within a day' in django_page.text  # the server's value
    assert flask_page.status_code == 200
    assert 'id="live-chat"' in flask_page.text  # carol's enterprise plan turns the flag on

    process.send_signal(stop_signal)
    assert process.wait(40) == 0, ''.join(lines)
    assert 'Stopped the apps and the server.' in ''.join(lines)
    assert still_running(children) == []
    for port in (layout.server_port, layout.django_port, layout.flask_port):
        assert demo.port_is_free(port), port
