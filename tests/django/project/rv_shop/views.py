"""Views of the test project: templates reading variables, JSON for targeting, pinning and worker checks."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

import remotevars
from django_remotevars import _runtime
from django_remotevars.signals import variable_updated
from rv_shop.variables import banner_text, checkout_flow

#: Set by the pinning test: called by the ``pinning`` view between its read and the template's.
MID_REQUEST_HOOK: list[Callable[[], None]] = []

#: When this process's client last saw each variable change (set from the refresh thread).
UPDATED_AT: dict[str, float] = {}
_lock = threading.Lock()


@receiver(variable_updated, dispatch_uid='rv_shop.record_update')
def _record_update(sender: Any, name: str, **kwargs: Any) -> None:
    with _lock:
        UPDATED_AT[name] = time.time()


def page(request: HttpRequest) -> HttpResponse:
    """Render the context processor and the tags."""
    return render(request, 'rv_shop/page.html', {'view_banner': banner_text.get().value})


def _flow_payload() -> dict[str, Any]:
    result = checkout_flow.get()
    targeting = remotevars._targeting.current_targeting()
    return {
        'key': None if targeting is None else targeting.default_key,
        'attributes': None if targeting is None else targeting.attributes,
        'label': result.label,
        'value': result.value,
        'version': result.version,
        'reason': result.reason,
    }


def flow(request: HttpRequest) -> JsonResponse:
    """Return which checkout flow this request's targeting lands in."""
    return JsonResponse(_flow_payload())


async def async_flow(request: HttpRequest) -> JsonResponse:
    """The same, from an async view (the middleware runs its async path under ASGI)."""
    return JsonResponse(_flow_payload())


async def async_ping(request: HttpRequest) -> JsonResponse:
    """An async view that reads no variable."""
    return JsonResponse({'pong': True})


def pinning(request: HttpRequest) -> HttpResponse:
    """Read the banner, let the test land an update, then render a template that reads it again."""
    in_view = banner_text.get()
    for hook in MID_REQUEST_HOOK:
        hook()
    live = remotevars.get_client()._snapshot.lookup('banner_text')
    context = {'in_view': in_view.value, 'live_version': None if live is None else live.targets['production'][1]}
    return render(request, 'rv_shop/pinning.html', context)


def worker(request: HttpRequest) -> JsonResponse:
    """Return this process's pid, what it serves, when it saw the banner change, and whether it started.

    ``?hold=SECONDS`` keeps the worker busy that long, so concurrent requests reach different workers.
    """
    time.sleep(min(float(request.GET.get('hold', 0)), 2.0))
    result = banner_text.get()
    with _lock:
        updated_at = UPDATED_AT.get('banner_text')
    return JsonResponse(
        {
            'pid': os.getpid(),
            'value': result.value,
            'version': result.version,
            'updated_at': updated_at,
            'started': _runtime.is_started(),
            'stream': remotevars.get_client().status().stream_connected,
        }
    )
