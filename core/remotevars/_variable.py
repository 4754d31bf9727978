"""``Variable[T]`` and ``ResolvedVariable[T]``: declaring a typed variable and reading it.

A read resolves against the client's current snapshot (or the one pinned for the request), then
decodes the chosen version with the variable's pydantic ``TypeAdapter``. Decoded values are cached per
serialized value, and whole results per (compiled variable, label), so a repeated read costs a few
dictionary lookups. Values are therefore shared between reads: treat them as read-only.

Reads never raise: any failure yields the code default with a reason and the exception.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, TypeVar, cast

from pydantic_core import ValidationError

from remotevars._errors import VariableSerializationError
from remotevars._pipeline import MISSING_REASON, SERIALIZE_ERRORS, Read, RenderFunction, emit_warning
from remotevars._resolve import choose_rollout, select_for_key
from remotevars._result import ResolutionReason, ResolvedVariable
from remotevars._scope import SCOPE

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from remotevars._client import Client
    from remotevars._resolve import CompiledVariable
    from remotevars._snapshot import Snapshot
    from remotevars.config import VariableConfig

__all__ = ['ResolveFunction', 'Variable', 'active_override', 'is_resolve_function']

T = TypeVar('T')

logger = logging.getLogger('remotevars')

#: A code default (or override) computed per read from ``(targeting_key, attributes)``.
ResolveFunction = Callable[[Any, Mapping[str, Any]], T]

_OVERRIDES: Final[ContextVar[Mapping[str, Any] | None]] = ContextVar('remotevars_overrides', default=None)

_DECODE_CACHE_LIMIT: Final = 512
#: Seconds between two log records of the same read failure of one variable.
_FAILURE_LOG_EVERY: Final = 60.0
_EMPTY: Final[Mapping[str, Any]] = {}
#: Cached in place of a label's result when its value composes other variables: such reads take
#: the slow path (:mod:`remotevars._pipeline`), since references resolve per targeting key.
_COMPOSES: Final[Any] = ResolvedVariable(name='', value=None, reason='other_error')
_IMMUTABLE: Final = (str, int, float, bool, bytes, type(None), Enum)


def _immutable(value: Any) -> bool:
    """Return whether a caller cannot change ``value`` in place (so one object can serve every read)."""
    if isinstance(value, _IMMUTABLE):
        return True
    if isinstance(value, (tuple, frozenset)):
        return all(_immutable(item) for item in value)
    return False


def active_override(name: str) -> tuple[bool, Any]:
    """Return ``(True, value)`` when ``Variable.override`` is active for ``name`` here, else ``(False, None)``."""
    overrides = _OVERRIDES.get()
    if overrides is not None and name in overrides:
        return True, overrides[name]
    return False, None


def is_resolve_function(candidate: Any) -> bool:
    """Return whether ``candidate`` is callable with exactly two positional arguments.

    That is: it accepts ``*args`` with at most two required positionals, or it has at most two
    required and at least two positional parameters. Keyword-only parameters and ``**kwargs`` are
    ignored; uninspectable callables are not resolve functions.
    """
    if not callable(candidate):
        return False
    try:
        parameters = inspect.signature(candidate).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    has_varargs = any(p.kind is p.VAR_POSITIONAL for p in parameters)
    if has_varargs:
        return len(required) <= 2
    return len(required) <= 2 <= len(positional)


class Variable(Generic[T]):
    """A typed runtime variable with a code default. Create with :func:`remotevars.var`.

    ``get()`` returns a :class:`ResolvedVariable` whose ``value`` is a ``T``: the config's value for
    the targeting key and attributes, or the code default.
    """

    #: Whether ``get()`` renders with inputs (:class:`~remotevars.TemplateVariable`).
    is_template: ClassVar[bool] = False

    def __init__(
        self,
        name: str,
        *,
        type: Any,
        default: T | ResolveFunction[T],
        description: str | None,
        client: Client,
    ) -> None:
        self.name = name
        self.value_type = type
        self.default = default
        self.description = description
        from pydantic import TypeAdapter  # here: `import remotevars` does not load pydantic's models

        self.type_adapter: TypeAdapter[T] = TypeAdapter(type)
        self._client = client
        self._default_function: ResolveFunction[T] | None = (
            cast('ResolveFunction[T]', default) if is_resolve_function(default) else None
        )
        #: The static default as JSON text (None for a resolve function or a default that cannot be serialised).
        self._serialized_default: str | None = None
        #: Why the static default does not fit the type (it is then served as it is, with validation_error).
        self._default_error: Exception | None = None
        # What a static default serves as: the default decoded through the type, as the reference
        # does (``default=1`` with ``type=float`` reads 1.0), so reads never hand out the object the
        # code holds.
        self._static_default: T = cast(T, default)
        self._default_shared = True
        self._default_composes = False
        if self._default_function is None:
            self._prepare_static_default(default)
        self._default_results: dict[str, ResolvedVariable[T]] = {}
        # (compiled variable, {label: result}) swapped as one tuple so threads never mix the two.
        self._results: tuple[CompiledVariable | None, dict[str, ResolvedVariable[T] | None]] = (None, {})
        self._decoded: dict[str, tuple[bool, Any]] = {}
        #: (snapshot serial, result) of a read that depends on nothing but the snapshot.
        self._fixed: tuple[object, ResolvedVariable[T]] | None = None
        #: The last read failure logged, and when (monotonic seconds).
        self._failure_logged: tuple[str, float] | None = None

    def _prepare_static_default(self, default: Any) -> None:
        try:
            serialized = self.type_adapter.dump_json(default, warnings=False).decode()
        except SERIALIZE_ERRORS:
            # Served as it is (nothing to decode it from), like the reference.
            self._default_shared = _immutable(default)
            return
        self._serialized_default = serialized
        self._default_composes = '@{' in serialized
        try:
            decoded = self.type_adapter.validate_json(serialized)
        except (ValidationError, ValueError, TypeError) as exc:
            self._default_error = exc
            emit_warning(f"Variable '{self.name}' code default does not fit its type; it is served as it is: {exc}")
            decoded = default
        self._static_default = decoded
        # A mutable default (a dict, a model) is decoded afresh for each read, so that a caller
        # mutating what it got cannot change later reads.
        self._default_shared = _immutable(decoded)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(name={self.name!r}, type={self.value_type!r}, default={self.default!r})'

    @property
    def client(self) -> Client:
        """The client this variable reads from."""
        return self._client

    # -- reading --------------------------------------------------------------------------------

    def get(
        self,
        targeting_key: Any = None,
        attributes: Mapping[str, Any] | None = None,
        *,
        label: str | None = None,
    ) -> ResolvedVariable[T]:
        """Resolve the variable for a targeting key and attributes. Never raises.

        Without ``targeting_key`` the targeting context decides; with neither, a multi-label rollout
        draws at random on each read (as the reference does). An explicit ``label`` that exists is
        served (its code-default ref gives the code default); one that does not is ignored.
        """
        name = self.name
        try:
            overrides = _OVERRIDES.get()
            if overrides is not None and name in overrides:
                return self._from_override(overrides[name], targeting_key, attributes)
            scope = SCOPE.get()
            if scope is None:
                client = self._client
                snapshot = client._snapshot
                targeting = None
            else:
                client = scope.client or self._client
                pinned = scope.pinned
                snapshot = client._snapshot if pinned is None else pinned.get(client, client._snapshot)
                targeting = scope.targeting
            # Fast path: a result that cannot depend on the key, the attributes or the context
            # (absent variable with a static default, or a fixed rollout without overrides),
            # remembered for the snapshot it was computed from.
            fixed = self._fixed
            if fixed is not None and fixed[0] is snapshot.serial and label is None:
                return fixed[1]
            variable = snapshot.variables.get(name)
            if variable is None:
                if snapshot.aliases:
                    variable = snapshot.lookup(name)
                if variable is None and snapshot.state == 'missing_config':
                    snapshot = client._wait_for_first_config(snapshot)
                    variable = snapshot.lookup(name)
                if variable is None:
                    default = self._code_default(MISSING_REASON[snapshot.state], targeting_key, attributes, snapshot)
                    if self._default_is_fixed() and snapshot.state != 'missing_config':
                        self._fixed = (snapshot.serial, default)
                    return default
            if label is not None and label in variable.targets:
                selected: str | None = label
            else:
                rollout = variable.rollout
                if variable.overrides:
                    if targeting is not None and targeting.attributes:
                        attributes = {**targeting.attributes, **attributes} if attributes else targeting.attributes
                    rollout = choose_rollout(variable, attributes)
                if rollout.is_fixed:
                    selected = rollout.fixed
                else:
                    if targeting_key is None and targeting is not None:
                        targeting_key = targeting.key_for(name)
                    selected = select_for_key(variable, rollout, targeting_key)
            if selected is None:
                return self._code_default('code_default', targeting_key, attributes, snapshot)
            cache = self._results
            if cache[0] is not variable:
                cache = self._results = (variable, {})
            result = cache[1].get(selected)
            if result is None:
                built = self._label_result(variable, selected, cache[1], snapshot.state == 'cached')
                if built is None:
                    return self._code_default('code_default', targeting_key, attributes, snapshot)
                if isinstance(built, Exception):
                    return self._code_default('validation_error', targeting_key, attributes, snapshot, built)
                result = built
            if result is _COMPOSES:
                serialized, version = variable.targets[selected]
                assert serialized is not None
                read = self._read(snapshot, targeting_key, attributes)
                return read.value(serialized, selected, version, 'cached' if snapshot.state == 'cached' else 'resolved')
            if (
                label is None
                and not variable.overrides
                and variable.rollout.is_fixed
                and cache[1].get(selected) is result
            ):
                # Only results cached for the variable qualify (a resolve-function default does not).
                self._fixed = (snapshot.serial, result)
            return result
        except Exception as exc:  # reads never raise
            return self._failed(exc, targeting_key, attributes)

    def _default_is_fixed(self) -> bool:
        # Whether the code-default result is one object for every read (so it may be remembered).
        return self._default_function is None and self._default_shared and not self._default_composes

    def _merged_attributes(self, attributes: Mapping[str, Any] | None) -> Mapping[str, Any]:
        scope = SCOPE.get()
        context = None if scope is None or scope.targeting is None else scope.targeting.attributes
        if not context:
            return attributes if attributes is not None else _EMPTY
        if not attributes:
            return context
        return {**context, **attributes}

    def _targeting_key(self, targeting_key: Any) -> Any:
        if targeting_key is None:
            scope = SCOPE.get()
            if scope is not None and scope.targeting is not None:
                return scope.targeting.key_for(self.name)
        return targeting_key

    def _current_snapshot(self) -> Snapshot:
        scope = SCOPE.get()
        client = self._client if scope is None or scope.client is None else scope.client
        pinned = None if scope is None else scope.pinned
        return client._snapshot if pinned is None else pinned.get(client, client._snapshot)

    def _read(
        self,
        snapshot: Snapshot | None,
        targeting_key: Any,
        attributes: Mapping[str, Any] | None,
        render: RenderFunction | None = None,
    ) -> Read:
        """Return the state of a slow read (composition, rendering) with the context's key and attributes."""
        return Read(
            self,
            snapshot if snapshot is not None else self._current_snapshot(),
            self._targeting_key(targeting_key),
            self._merged_attributes(attributes),
            render,
        )

    def _label_result(
        self, variable: CompiledVariable, label: str, cache: dict[str, ResolvedVariable[T] | None], cached: bool
    ) -> ResolvedVariable[T] | Exception | None:
        """Build the result of serving ``label`` and cache it.

        Returns None when the label leads to the code default, and the validation error (not cached)
        when the value does not fit the type and the code default cannot be served from a cache (a
        resolve function, a mutable or composed default). A value that composes other variables
        caches the ``_COMPOSES`` marker.
        """
        serialized, version = variable.targets[label]
        if serialized is None:
            return None
        if '@{' in serialized:
            cache[label] = _COMPOSES
            return cast('ResolvedVariable[T]', _COMPOSES)
        ok, decoded = self._decode(serialized, label, version)
        if ok:
            result: ResolvedVariable[T] = ResolvedVariable(
                name=self.name, value=decoded, label=label, version=version, reason='cached' if cached else 'resolved'
            )
        elif not self._default_is_fixed() or self._default_error is not None:
            return cast(Exception, decoded)
        else:
            # The code default was served, so no label/version is reported (fixes the reference's
            # mis-attribution of the failed label).
            result = ResolvedVariable(
                name=self.name,
                value=self._static_default,
                reason='validation_error',
                exception=decoded,
            )
        cache[label] = result
        return result

    def _decode(self, serialized: str, label: str, version: int | None) -> tuple[bool, Any]:
        """Validate JSON text against the type once; later calls return the cached outcome."""
        found = self._decoded.get(serialized)
        if found is None:
            try:
                found = (True, self.type_adapter.validate_json(serialized))
            except (ValidationError, ValueError, TypeError) as exc:
                found = (False, exc)
                detail = exc.errors(include_input=False, include_url=False) if isinstance(exc, ValidationError) else exc
                # Once per version (decoding is cached), not on every read.
                emit_warning(f"Variable '{self.name}' value failed validation; falling back to code default: {detail}")
                logger.warning(
                    'Variable %r: label %r (version %s) does not fit the type; serving the code default: %s',
                    self.name,
                    label,
                    version,
                    exc,
                )
            if len(self._decoded) >= _DECODE_CACHE_LIMIT:
                self._decoded.clear()
            self._decoded[serialized] = found
        return found

    def _code_default(
        self,
        reason: ResolutionReason,
        targeting_key: Any,
        attributes: Mapping[str, Any] | None,
        snapshot: Snapshot | None = None,
        exception: Exception | None = None,
    ) -> ResolvedVariable[T]:
        if not self._default_is_fixed():
            if self._default_function is None and not self._default_composes and self._default_error is None:
                # A mutable static default: a fresh copy for each read (one that cannot be serialised is
                # served as it is: there is nothing to copy it from).
                serialized = self._serialized_default
                value = cast(T, self.default) if serialized is None else self.type_adapter.validate_json(serialized)
                return ResolvedVariable(name=self.name, value=value, reason=reason, exception=exception)
            return self._read(snapshot, targeting_key, attributes).code_default(reason, exception)
        if self._default_error is not None:
            # The default does not fit the type: served as it is, as the reference does.
            reason, exception = 'validation_error', self._default_error
        if exception is not None:
            return ResolvedVariable(name=self.name, value=self._static_default, reason=reason, exception=exception)
        result = self._default_results.get(reason)
        if result is None:
            result = self._default_results[reason] = ResolvedVariable(
                name=self.name,
                value=self._static_default,
                reason=reason,
            )
        return result

    def _failed(self, exc: Exception, targeting_key: Any, attributes: Mapping[str, Any] | None) -> ResolvedVariable[T]:
        # The same failure on every read (a regex search that times out on some input, say) is logged with
        # its traceback once a minute, not once per read: a log flood would slow every thread down.
        key, now = f'{type(exc).__name__}: {exc}', time.monotonic()
        logged = self._failure_logged
        if logged is None or logged[0] != key or now - logged[1] >= _FAILURE_LOG_EVERY:
            self._failure_logged = (key, now)
            logger.error('Variable %r could not be resolved; serving the code default', self.name, exc_info=exc)
        if self._default_function is not None:
            try:
                value: Any = self._default_function(
                    self._targeting_key(targeting_key), self._merged_attributes(attributes)
                )
            except Exception as default_exc:
                emit_warning(
                    f"Variable '{self.name}' could not be resolved and its code default raised; "
                    f'returning None: {default_exc}'
                )
                value = None
            return ResolvedVariable(name=self.name, value=value, reason='other_error', exception=exc)
        return ResolvedVariable(name=self.name, value=self._static_default, reason='other_error', exception=exc)

    def _from_override(
        self,
        override: Any,
        targeting_key: Any,
        attributes: Mapping[str, Any] | None,
        render: RenderFunction | None = None,
    ) -> ResolvedVariable[T]:
        if is_resolve_function(override):
            override = override(self._targeting_key(targeting_key), self._merged_attributes(attributes))
        try:
            value = self.type_adapter.validate_python(override)
        except (ValidationError, ValueError, TypeError) as exc:
            # Unlike the reference, an override that does not fit the type is not served verbatim.
            logger.warning('Variable %r: the override does not fit the type; serving the code default', self.name)
            default = self._code_default('code_default', targeting_key, attributes)
            return ResolvedVariable(name=self.name, value=default.value, reason='validation_error', exception=exc)
        if render is None and isinstance(value, _IMMUTABLE) and not isinstance(value, str):
            return ResolvedVariable(name=self.name, value=value, reason='context_override')
        try:
            serialized = self.type_adapter.dump_json(value).decode()
        except SERIALIZE_ERRORS:
            # Nothing to compose or render: served as it is.
            return ResolvedVariable(name=self.name, value=value, reason='context_override')
        if render is None and '@{' not in serialized:
            return ResolvedVariable(name=self.name, value=value, reason='context_override')
        # An override stands in for a config value: composed and rendered the same way.
        return self._read(None, targeting_key, attributes, render).value(serialized, None, None, 'context_override')

    # -- testing, refreshing, exporting ---------------------------------------------------------

    @contextmanager
    def override(self, value: T | ResolveFunction[T]) -> Iterator[None]:
        """Serve ``value`` (or what a resolve function returns) for this name inside the block.

        Overrides apply by name in the current context (thread, task) and nest; they also apply
        where another variable composes this one with ``@{name}@``, and an override of a template
        variable is rendered with the read's inputs.
        """
        current = _OVERRIDES.get()
        token = _OVERRIDES.set({**(current or {}), self.name: value})
        try:
            yield
        finally:
            _OVERRIDES.reset(token)

    def refresh_sync(self, force: bool = False) -> None:
        """Ask the client's provider to refresh now (``force`` skips any freshness check)."""
        self._client.refresh(force=force)

    async def refresh(self, force: bool = False) -> None:
        """Like :meth:`refresh_sync`, without blocking the event loop (asyncio or trio)."""
        from functools import partial

        from anyio import to_thread  # only here: an app that never awaits a refresh does not import it

        await to_thread.run_sync(partial(self._client.refresh, force=force))

    def template_inputs_schema(self) -> dict[str, Any] | None:
        """Return the JSON schema of the template inputs (None: not a template variable)."""
        return None

    def to_config(self, *, strict: bool = False) -> VariableConfig:
        """Return a minimal ``VariableConfig``: name, description, JSON schema and example.

        The example is the JSON of the code default (None for a resolve function). With
        ``strict=True`` a default that cannot be serialised raises
        :class:`~remotevars.VariableSerializationError` naming the variable; otherwise it is None.
        Template variables also carry their ``template_inputs_schema``.
        """
        from remotevars.config import Rollout, VariableConfig

        return VariableConfig(
            name=self.name,
            description=self.description,
            labels={},
            rollout=Rollout(labels={}),
            overrides=[],
            json_schema=self.type_adapter.json_schema(),
            example=self.serialized_default(strict=strict),
            template_inputs_schema=self.template_inputs_schema(),
        )

    def serialized_default(self, *, strict: bool = False) -> str | None:
        """Return the code default as JSON text (None for a resolve function).

        Raises :class:`~remotevars.VariableSerializationError` with ``strict=True`` when it cannot be
        serialised; returns None in that case otherwise.
        """
        if self._default_function is not None:
            return None
        if self._serialized_default is not None:
            return self._serialized_default
        try:
            return self.type_adapter.dump_json(cast(T, self.default)).decode()
        except SERIALIZE_ERRORS as exc:
            if strict:
                raise VariableSerializationError(
                    f'The code default of variable {self.name!r} cannot be serialised to JSON: {exc}'
                ) from exc
            return None
