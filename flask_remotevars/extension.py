"""``RemoteVars``: the Flask extension, and ``RemoteVarsState``, what it keeps per app.

The extension object holds only what is shared by every app it initialises (the targeting loaders
registered with its decorators, an optional client); everything about one app lives in
``app.extensions['remotevars']``, so one extension object serves any number of apps (app factories).
The rules themselves (settings, options, resolution, reports, commands) are the core's; this module maps
Flask's hooks onto them: the app context activates the app's client (reads in ``flask shell``, CLI
commands and jobs see the app's config), each request pins one snapshot with its targeting, and a
streamed response gets that request's view back when Flask pushes its context again.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, TypeVar, cast

import click
from flask import Flask, appcontext_popped, appcontext_pushed, current_app, request
from flask.globals import _cv_app

import remotevars
from flask_remotevars.signals import forwarder
from remotevars._scope import SCOPE, Scope
from remotevars._settings import SETTINGS_DEFAULTS, check_settings, import_callable, options_from_settings
from remotevars._status import ClientReport, client_report

if TYPE_CHECKING:
    from remotevars._snapshot import Snapshot

__all__ = ['AttributesLoader', 'EXTENSION_KEY', 'KeyLoader', 'RemoteVars', 'RemoteVarsState', 'TemplateVariables']

logger = logging.getLogger('flask_remotevars')

#: Where the per-app state lives: ``app.extensions[EXTENSION_KEY]``.
EXTENSION_KEY: Final = 'remotevars'


class _RequestPin(NamedTuple):
    """What ``before_request`` entered for one request, left again by ``teardown_request``."""

    state: RemoteVarsState
    scope: remotevars.RequestScope
    outer: _RequestPin | None


class _AppActivation(NamedTuple):
    """What an app context's push set, reset when it is popped."""

    state: RemoteVarsState
    token: Token[Scope | None]
    outer: _AppActivation | None


#: The request in flight in this context. Request-scoped like ``g`` (Flask's contexts are context
#: variables too), but read without a ``LocalProxy``, which costs a few microseconds per access.
_REQUEST: Final[ContextVar[_RequestPin | None]] = ContextVar('flask_remotevars_request', default=None)
#: The app contexts pushed in this context, innermost first.
_APP: Final[ContextVar[_AppActivation | None]] = ContextVar('flask_remotevars_app', default=None)
#: Where a request's read scope is kept on its app context's ``g``, for a streamed response to resume it.
_SAVED_SCOPE: Final = '_remotevars_request_scope'


#: Returns the targeting key for a request (``None``: no key, see :meth:`RemoteVars.targeting_key_loader`).
KeyLoader = Callable[[Any], Any]
#: Returns the targeting attributes for a request (``None``: none).
AttributesLoader = Callable[[Any], 'Mapping[str, Any] | None']

F = TypeVar('F', bound=Callable[..., Any])


class RemoteVars:
    """The Flask extension: ``RemoteVars(app)`` or ``ext = RemoteVars()`` then ``ext.init_app(app)``.

    ``client``: the :class:`remotevars.Client` every app initialised by this object uses. Without
    one, each app gets a client of its own, configured from its ``app.config`` and sharing the
    default client's registry, so variables stay declared once (``remotevars.var``) and read the
    app's config during its requests. Pass ``client=remotevars.get_client()`` to configure the default client from the
    app's config instead (one app per process; reads outside requests then see that config too).
    """

    def __init__(self, app: Flask | None = None, *, client: remotevars.Client | None = None) -> None:
        self._client = client
        self._key_loader: KeyLoader | None = None
        self._attributes_loader: AttributesLoader | None = None
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return f'<RemoteVars client={self._client!r}>'

    # -- targeting loaders (flask-login's ``user_loader`` style) ----------------------------------

    def targeting_key_loader(self, loader: F) -> F:
        """Register ``loader(request) -> key`` as the targeting key of each request; returns it.

        The key decides which label of a rollout a request gets (the same key, the same label).
        ``None`` means no key: each request then draws its labels once, so a view and its template
        still agree. An app's ``REMOTEVARS_TARGETING_KEY`` setting, when set, wins over this.
        """
        self._key_loader = loader
        return loader

    def attributes_loader(self, loader: F) -> F:
        """Register ``loader(request) -> mapping`` as the targeting attributes of each request.

        Attributes feed the conditions of rollout overrides. An app's ``REMOTEVARS_ATTRIBUTES``
        setting, when set, wins over this. Returns ``loader``.
        """
        self._attributes_loader = loader
        return loader

    # -- per app --------------------------------------------------------------------------------

    def init_app(self, app: Flask, *, client: remotevars.Client | None = None) -> RemoteVarsState:
        """Set the extension up for ``app`` and start its client; returns the app's state.

        Raises :class:`remotevars.ConfigurationError` when the app already has it, when the
        ``REMOTEVARS_*`` settings cannot work (the message lists every problem with its id), or when
        the configured source cannot be loaded.
        """
        if EXTENSION_KEY in app.extensions:
            raise remotevars.ConfigurationError(
                f'flask_remotevars is already initialised on the app {app.name!r}: call init_app once per app '
                f'(the state is in app.extensions[{EXTENSION_KEY!r}]).'
            )
        for name, default in SETTINGS_DEFAULTS.items():
            app.config.setdefault(name, default)
        process = _process_kind()
        # A command-line process (flask routes, flask vars build-config...) may not need the source at
        # all: its problems are reported when something starts it (a read, flask vars status).
        _validate(app, source=process == 'serving')
        _import_modules(app.config['REMOTEVARS_MODULES'])
        state = RemoteVarsState(
            app,
            extension=self,
            client=client or self._client,
            key_loader=_configured_callable(app.config['REMOTEVARS_TARGETING_KEY']),
            attributes_loader=_configured_callable(app.config['REMOTEVARS_ATTRIBUTES']),
        )
        if process == 'watcher':
            logger.debug('Werkzeug reloader watcher process: remotevars starts in the serving process only')
        else:
            try:
                state.start(lazy=process == 'command')
            except BaseException:
                state.shutdown()
                raise
        app.extensions[EXTENSION_KEY] = state
        appcontext_pushed.connect(state._app_context_pushed, app, weak=False)
        appcontext_popped.connect(state._app_context_popped, app, weak=False)
        app.before_request(state._before_request)
        app.teardown_request(state._teardown_request)
        app.jinja_env.globals['remotevars'] = TemplateVariables(state)

        from flask_remotevars.cli import vars_group

        app.cli.add_command(vars_group)
        return state

    def state(self, app: Flask | None = None) -> RemoteVarsState:
        """Return the state of ``app`` (default: the current app).

        Raises :class:`remotevars.ConfigurationError` when the app was not initialised.
        """
        return get_state(app)


def get_state(app: Flask | None = None) -> RemoteVarsState:
    """Return the :class:`RemoteVarsState` of ``app`` (default: ``current_app``).

    Raises :class:`remotevars.ConfigurationError` when the extension was not initialised on it.
    """
    target = app if app is not None else current_app
    state = target.extensions.get(EXTENSION_KEY)
    if not isinstance(state, RemoteVarsState):
        raise remotevars.ConfigurationError(
            f'flask_remotevars is not initialised on the app {target.name!r}: call RemoteVars(app) or init_app(app).'
        )
    return state


class RemoteVarsState:
    """What the extension keeps for one app (``app.extensions['remotevars']``).

    ``client`` is the app's client: one of its own unless a client was passed, sharing the default
    client's registry, so the variables declared with ``remotevars.var`` are the app's variables
    too; during a request of the app (or in :meth:`activated`) they read its config.
    """

    def __init__(
        self,
        app: Flask,
        *,
        extension: RemoteVars,
        client: remotevars.Client | None,
        key_loader: KeyLoader | None,
        attributes_loader: AttributesLoader | None,
    ) -> None:
        self.extension = extension
        self.owns_client = client is None
        self.client: remotevars.Client = (
            remotevars.Client(share_variables_with=remotevars.get_client()) if client is None else client
        )
        self._config = app.config
        self._key_loader = key_loader
        self._attributes_loader = attributes_loader
        self._listener = forwarder(app)
        self._lock = threading.Lock()
        self.started = False
        self.client.add_listener(self._listener)

    def __repr__(self) -> str:
        return f'<RemoteVarsState client={self.client!r} started={self.started}>'

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, *, lazy: bool = False, now: bool = False) -> None:
        """Configure the client from the app's settings (once; later calls do nothing but ``now``).

        A remote source is fetched in the background; a local file is read now. ``lazy``: connect on
        the first read that needs the config instead (command-line processes). ``now``: also start a
        lazily configured source now. An app whose settings name no source (or say
        ``REMOTEVARS_ENABLED = False``) keeps what its client had (code defaults for a client of its
        own). Raises :class:`remotevars.ConfigurationError` when the settings or the source cannot work.
        """
        with self._lock:
            first, self.started = not self.started, True
        if first:
            try:
                options = options_from_settings(self._config)
            except remotevars.ConfigurationError:
                if lazy:
                    return  # reported by whatever starts the source: a read serves code defaults meanwhile
                raise
            if options is not None:
                self.client.configure(options, lazy=lazy and not now)
        elif now:
            options_from_settings(self._config)  # a lazy first start kept quiet about what the settings say is wrong
        if now:
            self.client.start()

    def shutdown(self, timeout: float = 1.0) -> None:
        """Stop forwarding signals and, for a client of its own, stop its background work."""
        self.client.remove_listener(self._listener)
        if self.owns_client:
            self.client.shutdown(timeout)

    # -- reading --------------------------------------------------------------------------------

    def variables(self) -> list[remotevars.Variable[Any]]:
        """Return the variables this app serves (its client's registry), in declaration order."""
        return self.client.variables()

    def variable(self, name: str) -> remotevars.Variable[Any] | None:
        """Return the variable called ``name`` that this app serves, or None."""
        return self.client.get_variable(name)

    @contextmanager
    def activated(self) -> Iterator[Snapshot]:
        """Read this app's config in the block, outside a request too (CLI commands, jobs, threads).

        Every variable read inside resolves against the app client's current snapshot, pinned for
        the block (the core's ``Client.activated()`` and ``Client.pinned()``); yields that snapshot.
        """
        with self.client.activated(), self.client.pinned() as snapshot:
            yield snapshot

    def report(self) -> ClientReport:
        """Return the core's status report of this app's client."""
        return client_report(self.client)

    # -- context hooks --------------------------------------------------------------------------

    def _app_context_pushed(self, sender: Flask, **kwargs: Any) -> None:
        # Every read in an app context of this app uses its client: a request's own scope is entered
        # by before_request; a context pushed again to stream a response resumes that request's scope.
        context = _cv_app.get(None)
        saved = None if context is None else context.g.__dict__.get(_SAVED_SCOPE)
        if saved is None:
            outer = SCOPE.get()
            saved = (
                Scope(self.client, None, None) if outer is None else Scope(self.client, outer.pinned, outer.targeting)
            )
        _APP.set(_AppActivation(self, SCOPE.set(saved), _APP.get()))

    def _app_context_popped(self, sender: Flask, **kwargs: Any) -> None:
        entry = _APP.get()
        if entry is None or entry.state is not self:
            return
        _APP.set(entry.outer)
        SCOPE.reset(entry.token)

    def _before_request(self) -> None:
        if not self.started:
            self._start_late()
        key_loader = self._key_loader or self.extension._key_loader
        attributes_loader = self._attributes_loader or self.extension._attributes_loader
        key = attributes = None
        if key_loader is not None or attributes_loader is not None:
            # Loaders get the request itself: attribute reads through the proxy cost more.
            current = cast(Any, request)._get_current_object()
            if key_loader is not None:
                key = _call_loader(key_loader, current, 'targeting key')
            if attributes_loader is not None:
                attributes = _call_loader(attributes_loader, current, 'attributes')
        scope = self.client.request_scope(key, attributes)
        scope.enter()
        _REQUEST.set(_RequestPin(self, scope, _REQUEST.get()))
        context = _cv_app.get(None)
        if context is not None:
            context.g.__dict__[_SAVED_SCOPE] = SCOPE.get()

    def _teardown_request(self, exc: BaseException | None) -> None:
        entry = _REQUEST.get()
        if entry is None or entry.state is not self:
            return  # an earlier before_request hook answered before ours ran
        _REQUEST.set(entry.outer)
        entry.scope.exit()

    def _start_late(self) -> None:
        # The app was loaded by the reloader's watcher, or started otherwise late: a request proves
        # this process serves. A source that fails now is logged; reads serve code defaults.
        try:
            self.start()
        except remotevars.RemoteVarsError:
            logger.exception('remotevars could not start; variables serve their code defaults')


class TemplateVariables:
    """The ``remotevars`` Jinja global: ``{{ remotevars.banner_text }}`` is that variable's value, and
    ``{{ remotevars.render('welcome', inputs) }}`` a template variable rendered with ``inputs`` (a mapping,
    validated as its ``inputs_type`` with objects read by attribute, or keyword arguments). Jinja escapes
    the result like any other value.

    Values resolve with the request's targeting against its pinned snapshot (outside a request,
    against the app's current snapshot). An unknown name is undefined for Jinja.
    """

    __slots__ = ('_state',)

    def __init__(self, state: RemoteVarsState) -> None:
        self._state = state

    def __repr__(self) -> str:
        return f'<remotevars template variables: {", ".join(v.name for v in self._state.variables())}>'

    def __getattribute__(self, name: str) -> Any:
        # Overridden rather than __getattr__: that runs only after the normal lookup has failed and
        # built an AttributeError, which costs more than the read itself.
        if name[:1] == '_':
            return object.__getattribute__(self, name)
        if name == 'render':
            return object.__getattribute__(self, '_render')
        client: remotevars.Client = object.__getattribute__(self, '_state').client
        variable = client.get_variable(name)
        if variable is None:
            raise AttributeError(f'no remotevars variable named {name!r}')
        if variable.is_template:
            return object.__getattribute__(self, '_value')(name, AttributeError)
        scope = SCOPE.get()
        if scope is not None and scope.client is client:
            return variable.get().value
        with client.activated():
            return variable.get().value

    def __getitem__(self, name: str) -> Any:
        if name[:1] == '_':
            raise KeyError(name)
        return self._value(name, KeyError)

    def _value(self, name: str, missing: type[Exception], inputs: Any = None, render: bool = False) -> Any:
        client: remotevars.Client = self._state.client
        variable = client.get_variable(name)
        if variable is None or (render and not isinstance(variable, remotevars.TemplateVariable)):
            raise missing(f'no remotevars {"template " if render else ""}variable named {name!r}')
        scope = SCOPE.get()
        if scope is not None and scope.client is client:
            return _read(variable, inputs)
        with client.activated():
            return _read(variable, inputs)

    def _render(self, name: str, inputs: Any = None, /, **fields: Any) -> Any:
        """``remotevars.render('welcome', inputs)`` (or keyword inputs): the template variable rendered."""
        return self._value(name, AttributeError, {**(inputs or {}), **fields} if fields else inputs, render=True)


def _read(variable: remotevars.Variable[Any], inputs: Any) -> Any:
    # A template variable renders with the inputs (none for plain attribute access); mappings are
    # validated as its inputs_type first, objects read by attribute.
    if isinstance(variable, remotevars.TemplateVariable):
        if isinstance(inputs, Mapping):
            inputs = variable.inputs_from(inputs)
        return variable.get(inputs).value
    return variable.get().value


def _validate(app: Flask, *, source: bool) -> None:
    """Log the settings' warnings; raise ConfigurationError listing their errors (``source``: also those
    of the variables source, which a command-line process only meets when something starts it)."""
    errors = []
    for problem in check_settings(app.config):
        if problem.concerns_source and not source:
            continue
        if problem.level == 'error':
            errors.append(str(problem))
        else:
            logger.warning('%s', problem)
    if errors:
        raise remotevars.ConfigurationError(
            f'The REMOTEVARS_* settings of the app {app.name!r} cannot work: ' + '; '.join(errors)
        )


def _import_modules(modules: Any) -> None:
    """Import the modules that declare variables (``REMOTEVARS_MODULES``, checked by ``_validate``)."""
    for module in modules or ():
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise remotevars.ConfigurationError(f'REMOTEVARS_MODULES names {module!r}: {exc}') from exc


def _configured_callable(value: Any) -> Callable[..., Any] | None:
    """Return the callable a loader setting names (a callable itself or a dotted path), or None."""
    if value is None:
        return None
    return value if callable(value) else import_callable(str(value))


def _call_loader(loader: Callable[[Any], Any], current: Any, what: str) -> Any:
    """Call a targeting loader with the request; a loader that raises is logged and gives None."""
    try:
        return loader(current)
    except Exception:
        logger.exception('The remotevars %s loader raised; the request goes on without it', what)
        return None


def _process_kind() -> Literal['serving', 'watcher', 'command']:
    """Return what this process does with the app: serve requests, watch files for ``flask run``'s
    reloader (it never serves), or run another ``flask`` command (``routes``, ``shell``, ``vars ...``).

    A WSGI server or a script has no click context: it serves. ``flask run``'s watcher loads the app
    too, then restarts a child (``WERKZEUG_RUN_MAIN=true``) that serves. An
    ``app.run(use_reloader=True)`` watcher cannot be told apart when the app is created: it serves.
    """
    if os.environ.get('WERKZEUG_RUN_MAIN') == 'true':
        return 'serving'
    from flask.cli import run_command
    from flask.helpers import get_debug_flag

    context = click.get_current_context(silent=True)
    if context is None:
        return 'serving'
    while context is not None:
        if context.command is run_command:
            reload = context.params.get('reload')
            return 'watcher' if (get_debug_flag() if reload is None else reload) else 'serving'
        context = context.parent
    return 'command'
