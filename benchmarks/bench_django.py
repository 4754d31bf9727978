"""Issue 5's speed target: what django_remotevars adds to a request, through Django's request handling.

Two variants of one view, each served by Django's request handler (``BaseHandler.get_response``: URL
resolution, the middleware chain, the view, template rendering, the response), requests built untimed
with ``RequestFactory`` and carrying a returning visitor's cookies:

- ``remotevars``: ``RemoteVarsMiddleware`` in the chain (targeting key from the anonymous-id cookie, one
  pinned snapshot) and a view reading 10 variables (two of them 50/50 rollouts bucketed by the key)
  and rendering 5 of them in a template;
- ``constants``: no remotevars middleware, and the same view and template with 10 constants.

Each request is timed on its own with ``perf_counter_ns``; variants run interleaved in rounds so the
drifts of a shared machine hit both alike. The figure is the median over rounds of (median remotevars
request - median constants request). Target: at most 40 microseconds. Config comes from a local
``VariablesConfig`` object, so nothing here touches the network.

Run from the repository root: ``.venv/bin/python benchmarks/bench_django.py [--rounds N] [--batch N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import django
from django.conf import settings

TARGET_US = 40.0
N_VARIABLES = 10
TEMPLATE = (
    '<html><body><h1>{{ v0 }}</h1><p>{{ v1 }}</p><p>{{ v2 }}</p>'
    '<ul><li>{{ v3 }}</li><li>{{ v4 }}</li></ul></body></html>'
)


def _setup() -> None:
    settings.configure(
        DEBUG=False,
        SECRET_KEY='bench',
        ALLOWED_HOSTS=['testserver'],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=['django_remotevars'],
        MIDDLEWARE=[],
        TEMPLATES=[
            {
                'BACKEND': 'django.template.backends.django.DjangoTemplates',
                'APP_DIRS': False,
                'OPTIONS': {
                    'loaders': [
                        (
                            'django.template.loaders.cached.Loader',
                            [('django.template.loaders.locmem.Loader', {'page.html': TEMPLATE})],
                        )
                    ]
                },
            }
        ],
        DATABASES={},
        USE_TZ=True,
        LOGGING_CONFIG=None,
    )
    django.setup()


_setup()

from django.core.handlers.base import BaseHandler  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.shortcuts import render  # noqa: E402
from django.test import RequestFactory, override_settings  # noqa: E402
from django.urls import path  # noqa: E402

import remotevars  # noqa: E402
from django_remotevars.middleware import ANONYMOUS_COOKIE  # noqa: E402

VARIABLES = [remotevars.var(f'bench_{i}', default=f'default {i}') for i in range(N_VARIABLES)]
CONSTANTS = [f'constant {i}' for i in range(N_VARIABLES)]


def _config() -> remotevars.VariablesConfig:
    variables: dict[str, Any] = {}
    for i in range(N_VARIABLES):
        labels = {'production': {'version': 1, 'serialized_value': json.dumps(f'production {i}')}}
        rollout = {'production': 1.0}
        if i < 2:  # two experiments: bucketed by the targeting key on every read
            labels['variant'] = {'version': 2, 'serialized_value': json.dumps(f'variant {i}')}
            rollout = {'production': 0.5, 'variant': 0.5}
        variables[f'bench_{i}'] = {
            'name': f'bench_{i}',
            'labels': labels,
            'rollout': {'labels': rollout},
            'overrides': [],
        }
    return remotevars.VariablesConfig.model_validate({'variables': variables})


def remotevars_view(request: HttpRequest) -> HttpResponse:
    values = [variable.get().value for variable in VARIABLES]
    return render(request, 'page.html', {f'v{i}': values[i] for i in range(5)})


def constants_view(request: HttpRequest) -> HttpResponse:
    values = [value for value in CONSTANTS]
    return render(request, 'page.html', {f'v{i}': values[i] for i in range(5)})


urlpatterns = [path('rv/', remotevars_view), path('const/', constants_view)]


def _handler(middleware: list[str]) -> BaseHandler:
    handler = BaseHandler()
    with override_settings(MIDDLEWARE=middleware):
        handler.load_middleware()
    return handler


#: What a returning visitor's browser sends (both variants get it: the site's cookies are the site's).
COOKIE = f'{ANONYMOUS_COOKIE}=0123456789abcdef0123456789abcdef; csrftoken=abcdefghijklmnopqrstuvwxyz012345'


def _time_pairs(rv: BaseHandler, const: BaseHandler, count: int, flip: bool) -> tuple[list[int], list[int]]:
    """Time ``count`` request pairs, alternating the variants request by request.

    Requests are built untimed; the timer covers ``get_response``: URL resolution, the middleware chain,
    the view, template rendering and the response.
    """
    clock, factory = time.perf_counter_ns, RequestFactory()
    rv_times: list[int] = []
    const_times: list[int] = []
    for i in range(count):
        first = (rv, factory.get('/rv/', HTTP_COOKIE=COOKIE), rv_times)
        second = (const, factory.get('/const/', HTTP_COOKIE=COOKIE), const_times)
        if (i % 2 == 0) == flip:
            first, second = second, first
        for handler, request, out in (first, second):
            start = clock()
            handler.get_response(request)
            out.append(clock() - start)
    return rv_times, const_times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=30)
    parser.add_argument('--batch', type=int, default=200, help='request pairs per round')
    args = parser.parse_args()

    remotevars.configure(remotevars.LocalVariablesOptions(config=_config()))
    rv_handler = _handler(['django_remotevars.middleware.RemoteVarsMiddleware'])
    const_handler = _handler([])
    factory = RequestFactory()
    rv_page = rv_handler.get_response(factory.get('/rv/', HTTP_COOKIE=COOKIE)).content.decode()
    assert 'production 5' not in rv_page and ('production 0' in rv_page or 'variant 0' in rv_page), rv_page
    assert 'constant 0' in const_handler.get_response(factory.get('/const/', HTTP_COOKIE=COOKIE)).content.decode()

    for _ in range(3):  # warm-up
        _time_pairs(rv_handler, const_handler, args.batch, False)
    added: list[float] = []
    rv_all: list[int] = []
    const_all: list[int] = []
    for round_number in range(args.rounds):
        rv_times, const_times = _time_pairs(rv_handler, const_handler, args.batch, round_number % 2 == 1)
        added.append((statistics.median(rv_times) - statistics.median(const_times)) / 1000)
        rv_all += rv_times
        const_all += const_times
    remotevars.shutdown()

    rv_us, const_us = statistics.median(rv_all) / 1000, statistics.median(const_all) / 1000
    figure = statistics.median(added)
    ordered = sorted(added)
    print(f'Django {django.get_version()}, Python {sys.version.split()[0]}, {args.rounds} rounds x {args.batch} pairs')
    print(f'  constants view (no remotevars):      {const_us:8.1f} us per request (median)')
    print(f'  remotevars view (10 reads, 5 shown): {rv_us:8.1f} us per request (median)')
    print(f'  added cost: {figure:.1f} us per request (median of round medians; target <= {TARGET_US:g} us)')
    print(
        f'  rounds: p10 {ordered[len(ordered) // 10]:.1f} us, p90 {ordered[len(ordered) * 9 // 10]:.1f} us '
        f'(a wide spread means a busy machine: compare within one sitting)'
    )
    print('  PASS' if figure <= TARGET_US else '  ABOVE TARGET')
    return 0


if __name__ == '__main__':
    sys.exit(main())
