"""Signals from the client's listener: payloads, and a raising receiver isolated from the others."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

pytest.importorskip('django.conf')
pytest.importorskip('pytest_django')

import remotevars
from django_remotevars.signals import variable_updated, variables_refreshed
from tests.django.conftest import seed, wait_until


def test_updates_send_variable_updated_and_variables_refreshed(remote: Any, caplog: pytest.LogCaptureFixture) -> None:
    updated: list[dict[str, Any]] = []
    refreshed: list[dict[str, Any]] = []
    threads: set[str] = set()

    def on_updated(sender: Any, **kwargs: Any) -> None:
        threads.add(threading.current_thread().name)
        updated.append({'sender': sender, **kwargs})

    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError('receiver bug')

    def on_refreshed(sender: Any, **kwargs: Any) -> None:
        refreshed.append({'sender': sender, **kwargs})

    # The broken receiver is connected first, so the others only run if it is isolated.
    variable_updated.connect(broken)
    variable_updated.connect(on_updated)
    variables_refreshed.connect(broken)
    variables_refreshed.connect(on_refreshed)
    try:
        with caplog.at_level(logging.ERROR, logger='django_remotevars'):
            first = seed(remote, 'max_items', 20)
            wait_until(lambda: any(u['name'] == 'max_items' for u in updated), message='created')
            second = seed(remote, 'max_items', 30)
            wait_until(lambda: any(u['name'] == 'max_items' and u['kind'] == 'updated' for u in updated), message='upd')
    finally:
        for signal in (variable_updated, variables_refreshed):
            signal.disconnect(broken)
        variable_updated.disconnect(on_updated)
        variables_refreshed.disconnect(on_refreshed)

    client = remotevars.get_client()
    created = next(u for u in updated if u['name'] == 'max_items' and u['kind'] in ('created', 'updated'))
    assert created['sender'] is client
    change = next(u for u in updated if u['name'] == 'max_items' and u['kind'] == 'updated')
    v1, v2 = first['labels']['production']['version'], second['labels']['production']['version']
    assert change['old'].labels == {'production': v1}
    assert change['new'].labels == {'production': v2}
    assert change['new'].rollout == {'production': 1.0}
    assert change['change'].name == 'max_items'
    assert 'MainThread' not in threads  # sent from the refresh thread
    assert refreshed and all(r['sender'] is client for r in refreshed)
    assert any(c.name == 'max_items' for r in refreshed for c in r['changes'])
    assert all(isinstance(r['source'], str) and r['source'] for r in refreshed)
    assert remotevars.get_client().get_variable('max_items').get().value == 30  # type: ignore[union-attr]
    messages = [r.getMessage() for r in caplog.records]
    assert any('variable_updated' in m and 'raised' in m for m in messages)
    assert any('variables_refreshed' in m and 'raised' in m for m in messages)
