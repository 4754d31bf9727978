"""Issue 6's speed target: what flask_remotevars adds to a request, through Flask's request handling.

Variants of one view, each served through the app's WSGI entry point (Flask's whole request handling:
request context, URL matching, before/teardown hooks, view, Jinja rendering, response; a prepared
environ per request rather than the test client, whose own cost would blur the difference):

- ``remotevars``: an app with ``RemoteVars`` (its own client, config from a local JSON file; the
  targeting key from a ``uid`` cookie, which Flask's session has already parsed unless
  ``--no-session``; one pinned snapshot per request) and a view reading 10
  variables (two of them 50/50 rollouts bucketed by the key) and passing 5 to a Jinja template;
- ``jinja-global``: the same app, the view reading the 10 variables and the template reading 5 of them
  through the ``remotevars`` Jinja global instead of the context;
- ``constants``: an app without the extension, the same view and template with 10 constants.

Each request is timed on its own with ``perf_counter_ns``; variants run interleaved in rounds so the
drifts of a shared machine hit them alike. The figure is the median over rounds of (median variant
request - median constants request). Target: at most 40 microseconds for ``remotevars``. Nothing here
touches the network.

Run from the repository root: ``.venv/bin/python benchmarks/bench_flask.py [--rounds N] [--batch N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from flask import Flask, render_template
from jinja2 import DictLoader
from werkzeug.test import EnvironBuilder

import remotevars
from flask_remotevars import RemoteVars, get_state

TARGET_US = 40.0
N_VARIABLES = 10
PAGE = (
    '<html><body><h1>{{ v0 }}</h1><p>{{ v1 }}</p><p>{{ v2 }}</p>'
    '<ul><li>{{ v3 }}</li><li>{{ v4 }}</li></ul></body></html>'
)
GLOBAL_PAGE = (
    '<html><body><h1>{{ remotevars.bench_0 }}</h1><p>{{ remotevars.bench_1 }}</p><p>{{ remotevars.bench_2 }}</p>'
    '<ul><li>{{ remotevars.bench_3 }}</li><li>{{ remotevars.bench_4 }}</li></ul></body></html>'
)

VARIABLES = [remotevars.var(f'bench_{i}', default=f'default {i}') for i in range(N_VARIABLES)]
CONSTANTS = [f'constant {i}' for i in range(N_VARIABLES)]
NO_SESSION = False


def _config() -> str:
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
    return json.dumps({'variables': variables})


def _app(config_path: str | None) -> Flask:
    app = Flask('bench')
    # A secret key enables Flask's session, which parses the request's cookies on every request (as in
    # most real apps); the targeting loader's cookie read then costs a dictionary lookup.
    app.secret_key = None if NO_SESSION else 'bench'
    app.jinja_loader = DictLoader({'page.html': PAGE, 'global.html': GLOBAL_PAGE})
    if config_path is not None:
        app.config.update(REMOTEVARS_LOCAL_CONFIG=config_path, REMOTEVARS_WATCH_LOCAL_CONFIG=False)
        ext = RemoteVars(app)

        @ext.targeting_key_loader
        def uid(request: Any) -> str | None:
            return request.cookies.get('uid')  # type: ignore[no-any-return]

        @app.get('/rv/')
        def remotevars_view() -> str:
            values = [variable.get().value for variable in VARIABLES]
            return render_template('page.html', **{f'v{i}': values[i] for i in range(5)})

        @app.get('/global/')
        def global_view() -> str:
            [variable.get().value for variable in VARIABLES]
            return render_template('global.html')

    else:

        @app.get('/const/')
        def constants_view() -> str:
            values = [value for value in CONSTANTS]
            return render_template('page.html', **{f'v{i}': values[i] for i in range(5)})

    return app


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
    assert status == '200 OK', status
    return lambda data: None


def _time_batch(app: Flask, environ: dict[str, Any], batch: int, out: list[int]) -> None:
    """Serve ``environ`` ``batch`` times through ``app``, timing each request (body read and closed)."""
    clock, start_response = time.perf_counter_ns, _start_response
    for _ in range(batch):
        request = environ.copy()
        start = clock()
        body = app(request, start_response)
        b''.join(body)
        close = getattr(body, 'close', None)
        if close is not None:
            close()
        out.append(clock() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or '').splitlines()[0])
    parser.add_argument('--rounds', type=int, default=60)
    parser.add_argument('--batch', type=int, default=100)
    parser.add_argument('--no-session', action='store_true', help='No secret key: the loader parses the cookies.')
    args = parser.parse_args()
    global NO_SESSION
    NO_SESSION = args.no_session

    with tempfile.TemporaryDirectory() as directory:
        config_path = Path(directory) / 'variables.json'
        config_path.write_text(_config())
        rv_app, const_app = _app(str(config_path)), _app(None)
        rv_client, const_client = rv_app.test_client(), const_app.test_client()
        for client in (rv_client, const_client):  # the same cookie on both: the test client's own cost
            client.set_cookie('uid', 'user-42')
        rv_page = rv_client.get('/rv/').text
        assert 'production 2' in rv_page and ('production 0' in rv_page or 'variant 0' in rv_page), rv_page
        assert rv_client.get('/global/').text == rv_page
        assert 'constant 0' in const_client.get('/const/').text

        def environ(path: str) -> dict[str, Any]:
            return EnvironBuilder(path=path, headers=[('Cookie', 'uid=user-42')]).get_environ()

        variants = {'remotevars': (rv_app, environ('/rv/')), 'jinja-global': (rv_app, environ('/global/'))}
        constants = (const_app, environ('/const/'))
        for _ in range(3):  # warm-up
            for app, env in (*variants.values(), constants):
                _time_batch(app, env, args.batch, [])
        added: dict[str, list[float]] = {name: [] for name in variants}
        totals: dict[str, list[int]] = {name: [] for name in (*variants, 'constants')}
        for round_number in range(args.rounds):
            times: dict[str, list[int]] = {name: [] for name in totals}
            order = [*variants.items(), ('constants', constants)]
            for name, (app, env) in order if round_number % 2 == 0 else reversed(order):
                _time_batch(app, env, args.batch, times[name])
            for name in variants:
                added[name].append((statistics.median(times[name]) - statistics.median(times['constants'])) / 1000)
            for name, values in times.items():
                totals[name] += values
        get_state(rv_app).shutdown()

    print(f'Flask {version("flask")}, WSGI requests, {args.rounds} rounds x {args.batch} per variant')
    for name, timings in totals.items():
        print(f'  {name:<13} median request {statistics.median(timings) / 1000:8.1f} us')
    verdicts: list[float] = []
    for name, differences in added.items():
        figure = statistics.median(differences)
        spread = f'rounds range {min(differences):.1f}..{max(differences):.1f}'
        print(f'  added by {name:<13} {figure:6.1f} us (median over rounds; {spread})')
        verdicts.append(figure)
    ok = verdicts[0] <= TARGET_US
    print(f'target: remotevars adds at most {TARGET_US:.0f} us -> {"met" if ok else "NOT met"}')
    return 0 if ok else 1


if __name__ == '__main__':
    raise SystemExit(main())
