"""The example support app (Flask): an app factory, a session sign-in, and the remotevars extension.

Run with ``flask --app support_app run`` from this folder. The variables server comes from the
environment (``REMOTEVARS_BASE_URL`` / ``REMOTEVARS_API_KEY``, read by the extension when the app's
config leaves them unset); without them every variable serves its code default.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask, Request, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from flask_remotevars import RemoteVars
from support_app.variables import assistant, help_layout

#: The demo's users and their plans (rollout overrides match on the plan).
USERS: Mapping[str, str] = {'alice': 'free', 'bob': 'free', 'carol': 'enterprise'}

ARTICLES = (
    ('Reset your password', 'Use the "Forgot password" link on the sign-in page.'),
    ('Change your plan', 'Plans can be changed at any time from the billing page.'),
    ('Export your data', 'Settings, then Export: you get a zip file by email.'),
)

remotevars_ext = RemoteVars()


@remotevars_ext.targeting_key_loader
def targeting_key(req: Request) -> str:
    """Return the signed-in user's name, else a visitor id kept in the session (stable across requests)."""
    user: str | None = session.get('user')
    if user is not None:
        return user
    if 'visitor' not in session:
        session['visitor'] = secrets.token_hex(8)
    visitor: str = session['visitor']
    return visitor


@remotevars_ext.attributes_loader
def targeting_attributes(req: Request) -> dict[str, Any]:
    """Return ``{'plan': ...}`` for a signed-in user (rollout overrides match on it)."""
    user = str(session.get('user'))
    return {'plan': USERS[user]} if user in USERS else {}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Return the support app; ``config`` updates the defaults (and ``FLASK_*`` environment variables)."""
    app = Flask(__name__)
    app.config['SECRET_KEY'] = os.environ.get('SUPPORT_APP_SECRET_KEY', 'example-only-not-secret')
    app.config['REMOTEVARS_MODULES'] = ['support_app.variables']
    app.config.from_prefixed_env()
    app.config.update(config or {})

    @app.before_request
    def sign_in_from_query() -> None:
        # The demo's shortcut: /?user=bob signs in as bob (a real app would have passwords). Registered
        # before init_app, so it runs before the extension reads this request's targeting key.
        user = request.args.get('user')
        if user in USERS:
            session['user'] = user

    remotevars_ext.init_app(app)

    @app.get('/')
    def support() -> str:
        layout = help_layout.get()  # the extension set this request's targeting key and attributes
        user = session.get('user')
        return render_template(
            'support.html',
            user=user,
            plan=USERS.get(user or ''),
            layout=layout,
            assistant_result=assistant.get(),
            articles=ARTICLES,
        )

    @app.route('/login/', methods=['GET', 'POST'])
    def login() -> str | Response:
        if request.method == 'POST' and request.form.get('username') in USERS:
            session['user'] = request.form['username']
            return redirect(url_for('support'))
        return render_template('login.html', users=USERS)

    @app.post('/logout/')
    def logout() -> Response:
        session.pop('user', None)
        return redirect(url_for('support'))

    return app
