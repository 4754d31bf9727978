"""Under ASGI (uvicorn), waiting for the first config never blocks the event loop.

The environment names a stand-in server that accepts connections and never answers, and the first-resolve
timeout is 20 seconds (the first fetch may take 9). An async view reading a variable and an async view
reading nothing, requested side by side, must both answer well within that (the read serves its code
default while the fetch is pending).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

pytest.importorskip('django.conf')
pytest.importorskip('uvicorn')

from tests.django.conftest import PROJECT, SUBPROCESS_ENV
from tests.serverutil import free_port, silent_server

BIN = Path(sys.executable).parent


def test_first_read_does_not_block_the_event_loop(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / 'uvicorn.log'
    with silent_server() as silent:
        env = {
            **os.environ,
            **SUBPROCESS_ENV,
            'REMOTEVARS_BASE_URL': silent.url,
            'REMOTEVARS_API_KEY': 'a-key',
            'RV_EXTRA_SETTINGS': '{"REMOTEVARS_FIRST_RESOLVE_TIMEOUT": 20.0}',
        }
        env.pop('DJANGO_SETTINGS_MODULE', None)
        with log.open('wb') as out:
            process = subprocess.Popen(
                [str(BIN / 'uvicorn'), 'rv_project.asgi:application', '--port', str(port), '--lifespan', 'off'],
                cwd=PROJECT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            base = f'http://127.0.0.1:{port}'
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f'{base}/async-ping/', timeout=30).raise_for_status()
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.05)
            assert silent.connections >= 1  # the app is fetching its first config, which never comes
            # Well below the first-resolve timeout: a read that waited on the loop would time these out.
            with ThreadPoolExecutor(2) as pool:
                flow = pool.submit(httpx.get, f'{base}/async-flow/', timeout=2.5)
                ping = pool.submit(httpx.get, f'{base}/async-ping/', timeout=2.5)
                flow_response, ping_response = flow.result(), ping.result()
            assert ping_response.json() == {'pong': True}
            payload = flow_response.json()
            assert (payload['value'], payload['reason']) == ('classic', 'missing_config')
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
