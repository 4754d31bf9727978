"""``Client``: the registry of variables, the provider feeding it, and the snapshot in force.

One client per process per configuration. Providers hand payloads to the client; it builds a new
snapshot, swaps it in whole, and tells listeners what changed. Module-level functions
(``remotevars.configure``, ``remotevars.var``...) act on a default client.
"""

from __future__ import annotations

import logging
import os
import random
import re
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from contextvars import Token
from typing import TYPE_CHECKING, Any, Final, TypeVar, overload

from remotevars._errors import ConfigPayloadError, ConfigurationError, VariableRegistrationError
from remotevars._events import RefreshEvent, diff_snapshots
from remotevars._options import LocalVariablesOptions, VariablesOptions
from remotevars._scope import SCOPE, Scope, TargetingState
from remotevars._snapshot import Snapshot, VariableIssue, build_snapshot, patch_snapshot
from remotevars._variable import Variable, is_resolve_function
from remotevars.providers._base import ProviderStatus, VariableProvider

if TYPE_CHECKING:
    from remotevars._template import TemplateMismatchPolicy
    from remotevars._template_variable import TemplateVariable

__all__ = ['Client', 'RefreshListener', 'RequestScope']

T = TypeVar('T')
InputsT = TypeVar('InputsT')

logger = logging.getLogger('remotevars')

_NAME: Final = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*')

RefreshListener = Callable[[RefreshEvent], None]

_CLIENTS: Final[weakref.WeakSet[Client]] = weakref.WeakSet()

V = TypeVar('V', bound=Variable[Any])


def _checked_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise VariableRegistrationError(
            f'Invalid variable name {name!r}. Variable names must be valid Python identifiers '
            '(letters, digits, and underscores, not starting with a digit).'
        )
    return name


def _value_type(name: str, type_: Any, default: Any) -> Any:
    # The declared type, or the default's class; raises TypeError when neither says.
    if type_ is not None:
        return type_
    if default is None:
        raise TypeError(f'Variable {name!r}: `type` must be provided when `default` is None.')
    if is_resolve_function(default):
        raise TypeError(f'Variable {name!r}: `type` must be provided when the default is a resolve function.')
    return default.__class__


class _Sink:
    """The face of a client that its provider sees."""

    def __init__(self, client: Client, provider: VariableProvider) -> None:
        self._client = client
        self._provider = provider

    def apply(self, payload: Any, *, source: str, from_cache: bool = False) -> list[VariableIssue]:
        return self._client._apply(self._provider, payload, source, from_cache)

    def apply_changes(self, changes: Mapping[str, bytes | str | None], *, source: str) -> list[VariableIssue]:
        return self._client._apply_changes(self._provider, changes, source)

    def first_attempt_done(self) -> None:
        self._client._first_attempt.set()


class Client:
    """A registry of variables plus the provider and snapshot they resolve against."""

    def __init__(self, *, share_variables_with: Client | None = None) -> None:
        """Create a client; ``share_variables_with`` makes it use another client's registry.

        Sharing lets several apps in one process (each with its own client and config) read the
        variables declared once with :func:`remotevars.var`; see :meth:`activated`.
        """
        self._snapshot: Snapshot = Snapshot.empty('no_provider')
        self._registry: dict[str, Variable[Any]] = (
            {} if share_variables_with is None else share_variables_with._registry
        )
        self._provider: VariableProvider | None = None
        self._options: VariablesOptions | LocalVariablesOptions | None = None
        self._listeners: list[RefreshListener] = []
        self._lock = threading.RLock()
        self._first_attempt = threading.Event()
        self._first_deadline: float | None = None
        #: Options given to ``configure(..., lazy=True)`` and not started yet.
        self._pending: VariablesOptions | LocalVariablesOptions | None = None
        _CLIENTS.add(self)

    def __repr__(self) -> str:
        status = self.status()
        return f'<remotevars.Client {status.kind} {status.source!r}, {len(self._registry)} variables>'

    # -- declaring ------------------------------------------------------------------------------

    # With an explicit type, T comes from the type alone: a default or resolve function annotated with
    # Any would otherwise make mypy fall back to Variable[Any].
    @overload
    def var(self, name: str, *, type: type[T], default: object, description: str | None = None) -> Variable[T]: ...

    @overload
    def var(self, name: str, *, default: T, description: str | None = None) -> Variable[T]: ...

    @overload
    def var(self, name: str, *, type: Any, default: Any, description: str | None = None) -> Variable[Any]: ...

    def var(
        self,
        name: str,
        *,
        type: Any = None,
        default: Any,
        description: str | None = None,
    ) -> Variable[Any]:
        """Declare a variable and register it with this client.

        ``type`` is anything pydantic validates (inferred from ``default`` when omitted); ``default``
        is a value or a resolve function of ``(targeting_key, attributes)``. Raises
        :class:`VariableRegistrationError` (a ValueError) for a name that is not an identifier or that
        is already registered, and TypeError when the type cannot be inferred.
        """
        _checked_name(name)
        value_type = _value_type(name, type, default)
        return self._register(Variable(name, type=value_type, default=default, description=description, client=self))

    @overload
    def template_var(
        self,
        name: str,
        *,
        type: type[T],
        default: object,
        inputs_type: type[InputsT],
        description: str | None = None,
        template_mismatch_policy: TemplateMismatchPolicy | None = None,
    ) -> TemplateVariable[T, InputsT]: ...

    @overload
    def template_var(
        self,
        name: str,
        *,
        default: T,
        inputs_type: type[InputsT],
        description: str | None = None,
        template_mismatch_policy: TemplateMismatchPolicy | None = None,
    ) -> TemplateVariable[T, InputsT]: ...

    @overload
    def template_var(
        self,
        name: str,
        *,
        type: Any = None,
        default: Any,
        inputs_type: Any,
        description: str | None = None,
        template_mismatch_policy: TemplateMismatchPolicy | None = None,
    ) -> TemplateVariable[Any, Any]: ...

    def template_var(
        self,
        name: str,
        *,
        type: Any = None,
        default: Any,
        inputs_type: Any,
        description: str | None = None,
        template_mismatch_policy: TemplateMismatchPolicy | None = None,
    ) -> TemplateVariable[Any, Any]:
        """Declare a template variable (see :class:`~remotevars.TemplateVariable`) and register it.

        Like :meth:`var`, plus ``inputs_type`` (what ``get(inputs)`` renders with; its JSON schema is
        pushed as ``template_inputs_schema``) and the variable's ``template_mismatch_policy``.
        """
        from remotevars._template_variable import TemplateVariable

        _checked_name(name)
        variable: TemplateVariable[Any, Any] = TemplateVariable(
            name,
            type=_value_type(name, type, default),
            default=default,
            inputs_type=inputs_type,
            description=description,
            client=self,
            template_mismatch_policy=template_mismatch_policy,
        )
        return self._register(variable)

    def _register(self, variable: V) -> V:
        with self._lock:
            if variable.name in self._registry:
                raise VariableRegistrationError(
                    f"A variable with name '{variable.name}' has already been registered. "
                    'Each variable must have a unique name.'
                )
            self._registry[variable.name] = variable
        if '@{' in (variable._serialized_default or '') or variable.is_template:
            from remotevars._template_variable import warn_on_composed_templates

            warn_on_composed_templates(self._registry, variable)
        return variable

    def variables(self) -> list[Variable[Any]]:
        """Return the registered variables, in declaration order."""
        with self._lock:
            return list(self._registry.values())

    def get_variable(self, name: str) -> Variable[Any] | None:
        """Return the registered variable called ``name``, or None."""
        return self._registry.get(name)

    def clear(self) -> None:
        """Forget every registered variable (for tests)."""
        with self._lock:
            self._registry.clear()

    # -- configuring ----------------------------------------------------------------------------

    def configure(
        self, variables: VariablesOptions | LocalVariablesOptions | None = None, *, lazy: bool = False
    ) -> None:
        """Choose where configs come from; replaces (and shuts down) any previous provider.

        ``lazy=True`` connects only when something needs the config: the first read that finds no
        config (it then waits as usual), :meth:`start`, :meth:`wait_for_first_config` or
        :meth:`refresh`; a process that never reads never connects (command-line tools). Raises
        :class:`ConfigurationError` when the options cannot work (for instance an unreadable local
        file); the previous provider is already stopped then and defaults are served. A lazy start
        that fails is logged instead, and defaults are served.
        """
        with self._lock:
            previous, self._provider = self._provider, None
            if previous is not None:
                previous.shutdown(0.2)
            self._first_attempt = threading.Event()
            self._options = variables
            self._pending = None
            self._first_deadline = None
            if variables is None:
                self._snapshot = Snapshot.empty('no_provider')
                return
            self._snapshot = Snapshot.empty('missing_config')
            if lazy:
                self._pending = variables
                return
        self._start(variables)

    def start(self) -> None:
        """Start a provider configured with ``lazy=True`` now (nothing to do otherwise).

        Raises :class:`ConfigurationError` when its options cannot work; defaults are served then.
        """
        with self._lock:
            options, self._pending = self._pending, None
        if options is not None:
            self._start(options)

    def _start_quietly(self) -> None:
        try:
            self.start()
        except Exception:  # reads never raise: a lazy start that fails serves defaults
            logger.exception('remotevars could not start its variables source; code defaults are served')

    def _start(self, variables: VariablesOptions | LocalVariablesOptions) -> None:
        with self._lock:
            provider = self._make_provider(variables)
            self._first_deadline = (
                time.monotonic() + variables.first_resolve_timeout
                if isinstance(variables, VariablesOptions) and variables.block_before_first_resolve
                else None
            )
            self._provider = provider
        try:
            provider.start(_Sink(self, provider))
        except Exception:
            with self._lock:
                if self._provider is provider:
                    self._provider = None
                    self._snapshot = Snapshot.empty('no_provider')
            raise

    @staticmethod
    def _make_provider(options: VariablesOptions | LocalVariablesOptions) -> VariableProvider:
        if isinstance(options, LocalVariablesOptions):
            from remotevars.providers.local import LocalProvider

            return LocalProvider(options)
        if isinstance(options, VariablesOptions):
            try:
                from remotevars.providers.remote import RemoteProvider
            except ImportError as exc:  # pragma: no cover - until the remote provider lands
                raise ConfigurationError('Remote variables are not available in this build.') from exc
            provider: VariableProvider = RemoteProvider(options)
            return provider
        raise ConfigurationError(
            f'variables must be VariablesOptions, LocalVariablesOptions or None, not {type(options).__name__}'
        )

    def _apply(self, provider: VariableProvider, payload: Any, source: str, from_cache: bool) -> list[VariableIssue]:
        def build(old: Snapshot) -> tuple[Snapshot, list[VariableIssue]]:
            # Compiled variables (and the results cached on them) are only reused between snapshots of
            # the same kind, so nothing read from a cache file is later reported as fresh.
            previous = old if old.state == ('cached' if from_cache else 'loaded') else None
            return build_snapshot(payload, previous, source=source, from_cache=from_cache)

        return self._swap(provider, build, source)

    def _apply_changes(
        self, provider: VariableProvider, changes: Mapping[str, bytes | str | None], source: str
    ) -> list[VariableIssue]:
        def build(old: Snapshot) -> tuple[Snapshot, list[VariableIssue]]:
            if old.state != 'loaded':
                raise ConfigPayloadError('a partial update needs a loaded config to apply to')
            return patch_snapshot(old, changes, source=source)

        return self._swap(provider, build, source)

    def _swap(
        self,
        provider: VariableProvider,
        build: Callable[[Snapshot], tuple[Snapshot, list[VariableIssue]]],
        source: str,
    ) -> list[VariableIssue]:
        with self._lock:
            if provider is not self._provider:
                return []  # a provider that was replaced must not install its late results
            old = self._snapshot
            new, issues = build(old)
            changes = diff_snapshots(old, new)
            self._snapshot = new
            listeners = list(self._listeners)
        self._first_attempt.set()
        event = RefreshEvent(source=source, changes=changes)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                logger.exception('A remotevars refresh listener raised; the others still run')
        return issues

    def _wait_for_first_config(self, snapshot: Snapshot) -> Snapshot:
        """Start a lazy provider, then block (until the first-resolve deadline at most) for its first attempt.

        Never blocks a thread running an event loop: a read there serves what is in force (an async
        view must not stall every other request of its server while a config is fetched).
        """
        if self._pending is not None:
            self._start_quietly()
        deadline = self._first_deadline
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._first_deadline = None
            elif not _on_event_loop():
                self._first_attempt.wait(remaining)
        return self._snapshot

    # -- runtime --------------------------------------------------------------------------------

    @property
    def options(self) -> VariablesOptions | LocalVariablesOptions | None:
        """The options of the last ``configure()`` (None when nothing is configured)."""
        return self._options

    @property
    def snapshot(self) -> Snapshot:
        """The snapshot in force (pinned for this context, if any)."""
        scope = SCOPE.get()
        pinned = None if scope is None else scope.pinned
        return self._snapshot if pinned is None else pinned.get(self, self._snapshot)

    def pinned(self) -> AbstractContextManager[Snapshot]:
        """Pin the current snapshot for the block: every read inside sees the same config."""
        return _Pinned(self)

    def activated(self) -> AbstractContextManager[Client]:
        """Make every read inside the block use this client's config, whichever client a
        variable was declared on (per thread/task; used per request by the adapters)."""
        return _Activated(self)

    def request_scope(
        self,
        targeting_key: Any = None,
        attributes: Mapping[str, Any] | None = None,
        *,
        activate: bool = True,
        key_loader: Callable[[], Any] | None = None,
    ) -> RequestScope:
        """Return the scope of one request: this client's snapshot pinned, the targeting key and
        attributes set, and (``activate``) this client's config used for every variable read.
        Without a targeting key the scope draws one at random, so its reads agree with each other.
        ``key_loader`` (without ``targeting_key``) computes the key on the first read that needs one
        (a rollout between labels, a resolve function), so a request that needs none never asks for it
        (no user lookup, no anonymous cookie).

        Use it as a context manager, or call ``enter()`` / ``exit()`` from framework hooks; the
        Django middleware and the Flask extension enter one per request.
        """
        return RequestScope(self, targeting_key, attributes, activate, key_loader)

    def wait_for_first_config(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the provider's first attempt; return whether a config is in force.

        A lazy provider is started first (a failure to start is logged; the result is then False).
        """
        if self._pending is not None:
            self._start_quietly()
        if self._provider is not None:
            self._first_attempt.wait(timeout)
        return self._snapshot.state in ('loaded', 'cached')

    def add_listener(self, listener: RefreshListener) -> None:
        """Call ``listener(event)`` after each applied config, from the thread that applied it."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: RefreshListener) -> None:
        """Stop calling ``listener``; unknown listeners are ignored."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def refresh(self, force: bool = False) -> None:
        """Ask the provider to refresh now (a lazy one is started)."""
        if self._pending is not None:
            self._start_quietly()
        provider = self._provider
        if provider is not None:
            provider.refresh(force=force)

    def status(self) -> ProviderStatus:
        """Return the provider's status (kind ``none`` when nothing is configured, ``pending`` before a lazy start)."""
        provider = self._provider
        if provider is not None:
            return provider.status()
        if self._pending is not None:
            return ProviderStatus(kind='pending', source='(connects on the first read)')
        return ProviderStatus(kind='none', source='')

    def shutdown(self, timeout: float = 1.0) -> None:
        """Stop the provider's background work; reads go on serving the last config."""
        provider = self._provider
        if provider is not None:
            provider.shutdown(timeout)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.RLock()
        attempted = self._first_attempt.is_set()
        self._first_attempt = threading.Event()
        if attempted:
            self._first_attempt.set()
        if self._provider is not None:
            self._provider.after_fork_in_child()


def _pin(scope: Scope | None, client: Client) -> tuple[Mapping[Client, Snapshot], Snapshot]:
    # The pinned mapping with ``client`` pinned (an enclosing pin of it stays in force), and its snapshot.
    pinned = None if scope is None else scope.pinned
    if pinned is None:
        snapshot = client._snapshot
        return {client: snapshot}, snapshot
    snapshot = pinned.get(client, client._snapshot)
    return {**pinned, client: snapshot}, snapshot


class _Pinned:
    # A class rather than @contextmanager: adapters enter it on every request, so it must be cheap.
    __slots__ = ('_client', '_token')

    def __init__(self, client: Client) -> None:
        self._client = client
        self._token: Token[Scope | None] | None = None

    def __enter__(self) -> Snapshot:
        scope = SCOPE.get()
        pinned, snapshot = _pin(scope, self._client)
        self._token = SCOPE.set(
            Scope(None, pinned, None) if scope is None else Scope(scope.client, pinned, scope.targeting)
        )
        return snapshot

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            SCOPE.reset(self._token)
            self._token = None


class _LoadedKey(TargetingState):
    """A targeting state whose default key is computed by the first read that needs it."""

    __slots__ = ('_key', '_loader')

    def __init__(
        self, loader: Callable[[], Any], by_variable: Mapping[str, Any], attributes: Mapping[str, Any] | None
    ) -> None:
        self._loader: Callable[[], Any] | None = loader
        self._key: Any = None
        super().__init__(None, by_variable, attributes)

    @property
    def default_key(self) -> Any:
        loader = self._loader
        if loader is not None:
            self._loader = None
            try:
                self._key = loader()
            except Exception:
                logger.exception('The targeting key loader raised; this request draws a random key')
            if self._key is None:
                self._key = f'anonymous-{random.getrandbits(64):016x}'
        return self._key

    @default_key.setter
    def default_key(self, value: Any) -> None:
        self._key = value


class RequestScope:
    """One request's view of a client; see :meth:`Client.request_scope`. Enter once, exit once."""

    __slots__ = ('_activate', '_attributes', '_client', '_key', '_key_loader', '_token')

    def __init__(
        self,
        client: Client,
        targeting_key: Any,
        attributes: Mapping[str, Any] | None,
        activate: bool,
        key_loader: Callable[[], Any] | None = None,
    ) -> None:
        self._client = client
        self._key = targeting_key
        self._attributes = attributes
        self._activate = activate
        self._key_loader = key_loader
        self._token: Token[Scope | None] | None = None

    def enter(self) -> Snapshot:
        """Start the scope; returns the pinned snapshot."""
        client = self._client
        scope = SCOPE.get()
        pinned, snapshot = _pin(scope, client)
        outer = None if scope is None else scope.targeting
        attributes = self._attributes or None
        if outer is not None and outer.attributes:
            attributes = {**outer.attributes, **attributes} if attributes else outer.attributes
        by_variable = outer.by_variable if outer is not None else {}
        key = self._key
        targeting: TargetingState
        if key is None and self._key_loader is not None:
            targeting = _LoadedKey(self._key_loader, by_variable, attributes)
        else:
            if key is None:
                # Without a key every read would draw afresh; one draw per scope keeps a request's reads
                # (a view and its template) on the same labels.
                key = f'anonymous-{random.getrandbits(64):016x}'
            targeting = TargetingState(key, by_variable, attributes)
        active = client if self._activate else (None if scope is None else scope.client)
        self._token = SCOPE.set(Scope(active, pinned, targeting))
        return snapshot

    def exit(self) -> None:
        """End the scope (idempotent)."""
        token, self._token = self._token, None
        if token is not None:
            SCOPE.reset(token)

    def __enter__(self) -> Snapshot:
        return self.enter()

    def __exit__(self, *exc_info: object) -> None:
        self.exit()


class _Activated:
    __slots__ = ('_client', '_token')

    def __init__(self, client: Client) -> None:
        self._client = client
        self._token: Token[Scope | None] | None = None

    def __enter__(self) -> Client:
        scope = SCOPE.get()
        client = self._client
        self._token = SCOPE.set(
            Scope(client, None, None) if scope is None else Scope(client, scope.pinned, scope.targeting)
        )
        return client

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            SCOPE.reset(self._token)
            self._token = None


def _on_event_loop() -> bool:
    """Return whether this thread is running an asyncio or trio event loop (without importing either)."""
    asyncio = sys.modules.get('asyncio')
    if asyncio is not None and asyncio._get_running_loop() is not None:
        return True
    in_trio_run = getattr(getattr(sys.modules.get('trio'), 'lowlevel', None), 'in_trio_run', None)  # trio >= 0.23
    return in_trio_run is not None and bool(in_trio_run())


def _after_fork_in_child() -> None:
    for client in list(_CLIENTS):
        client._after_fork_in_child()


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_after_fork_in_child)
