"""A small Flask app used by the Flask extension's tests, in process and as a subprocess.

``create_app()`` reads ``FLASK_REMOTEVARS_*`` environment variables (``app.config.from_prefixed_env``)
and then ``config``. ``/stream`` and ``/stream-template`` stream their answers (``stream_with_context``,
``stream_template_string``), reading variables while the response is sent. When ``DEMO_EVENTS_DIR`` is
set, every ``variables_refreshed`` signal appends a
JSON line (pid, parent pid, time, source, changed names) to ``<pid>.jsonl`` there, so a test can see
which processes run a refresh worker and when each one saw a change; each process that creates the
app also leaves a ``loaded-<pid>`` file there.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, render_template_string, stream_template_string, stream_with_context
from pydantic import BaseModel

import remotevars
from flask_remotevars import RemoteVars
from flask_remotevars.signals import variables_refreshed

demo_banner = remotevars.var('demo_banner', default='hello', description='The banner text.')
demo_limit = remotevars.var('demo_limit', default=10)
demo_rollout = remotevars.var('demo_rollout', default='off')
demo_tier = remotevars.var('demo_tier', default='basic')
DEMO_VARIABLES = (demo_banner, demo_limit, demo_rollout, demo_tier)


class DemoSettings(BaseModel):
    """A type for ``flask vars push-types``."""

    enabled: bool = False
    retries: int = 3


PAGE = '{{ remotevars.demo_banner }}|{{ remotevars.demo_rollout }}|{{ label }}'


def _record_refresh(sender: Flask, *, changes: tuple[remotevars.VariableChange, ...], source: str) -> None:
    directory = os.environ.get('DEMO_EVENTS_DIR')
    if not directory:
        return
    line = {
        'pid': os.getpid(),
        'ppid': os.getppid(),
        'time': time.time(),
        'source': source,
        'changes': [change.name for change in changes],
    }
    with (Path(directory) / f'{os.getpid()}.jsonl').open('a') as f:
        f.write(json.dumps(line) + '\n')


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Return the demo app: ``/`` answers the variables as JSON, ``/page`` renders them."""
    directory = os.environ.get('DEMO_EVENTS_DIR')
    if directory:
        (Path(directory) / f'loaded-{os.getpid()}').touch()
    app = Flask(__name__)
    app.config.from_prefixed_env()
    app.config.update(config or {})
    variables_refreshed.connect(_record_refresh, app)
    ext = RemoteVars()

    @ext.targeting_key_loader
    def user_key(request: Any) -> str | None:
        user: str | None = request.args.get('user')
        return user

    @ext.attributes_loader
    def user_attributes(request: Any) -> dict[str, Any]:
        return {'plan': request.args['plan']} if 'plan' in request.args else {}

    ext.init_app(app)

    @app.get('/')
    def values() -> Any:
        rollout = demo_rollout.get()
        return jsonify(
            pid=os.getpid(),
            banner=demo_banner.get().value,
            limit=demo_limit.get().value,
            rollout=rollout.value,
            label=rollout.label,
            tier=demo_tier.get().value,
        )

    @app.get('/page')
    def page() -> str:
        return render_template_string(PAGE, label=demo_rollout.get().label)

    @app.get('/stream')
    def stream() -> Response:
        # How LLM answers are sent: the view reads, then the generator reads again while streaming.
        in_view = demo_rollout.get().label

        def generate() -> Iterator[str]:
            yield f'{in_view}|'
            yield f'{demo_banner.get().value}|{demo_banner.get().reason}|'
            yield str(demo_rollout.get().label)

        return Response(stream_with_context(generate()))

    @app.get('/stream-template')
    def stream_template() -> Response:
        return Response(stream_template_string(PAGE, label=demo_rollout.get().label))

    return app
