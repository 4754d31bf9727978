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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, cast

from pydantic_core import PydanticSerializationError, ValidationError

from remotevars._errors import VariableSerializationError
from remotevars._resolve import choose_rollout, select_for_key
from remotevars._result import ResolutionReason, ResolvedVariable
from remotevars._scope import SCOPE

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from remotevars._client import Client
    from remotevars._resolve import CompiledVariable
    from remotevars.config import VariableConfig

__all__ = ['ResolveFunction', 'Variable', 'is_resolve_function']

T = TypeVar('T')

logger = logging.getLogger('remotevars')

#: A code default (or override) computed per read from ``(targeting_key, attributes)``.
ResolveFunction = Callable[[Any, Mapping[str, Any]], T]

_OVERRIDES: Final[ContextVar[Mapping[str, Any] | None]] = ContextVar('remotevars_overrides', default=None)

_DECODE_CACHE_LIMIT: Final = 512
#: Why a variable absent from the snapshot is served its code default, by snapshot state.
_MISSING_REASON: Final[dict[str, ResolutionReason]] = {
    'no_provider': 'no_provider',
    'missing_config': 'missing_config',
    'loaded': 'unrecognized_variable',
    'cached': 'unrecognized_variable',
}
_EMPTY: Final[Mapping[str, Any]] = {}


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
        # What a static default serves as (unused when the default is a resolve function).
        self._static_default: T = cast(T, default)
        self._default_results: dict[str, ResolvedVariable[T]] = {}
        # (compiled variable, {label: result}) swapped as one tuple so threads never mix the two.
        self._results: tuple[CompiledVariable | None, dict[str, ResolvedVariable[T] | None]] = (None, {})
        self._decoded: dict[str, tuple[bool, Any]] = {}
        #: (snapshot serial, result) of a read that depends on nothing but the snapshot.
        self._fixed: tuple[object, ResolvedVariable[T]] | None = None

    def __repr__(self) -> str:
        return f'Variable(name={self.name!r}, type={self.value_type!r}, default={self.default!r})'

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
                    default = self._code_default(_MISSING_REASON[snapshot.state], targeting_key, attributes)
                    if self._default_function is None and snapshot.state != 'missing_config':
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
                return self._code_default('code_default', targeting_key, attributes)
            cache = self._results
            if cache[0] is not variable:
                cache = self._results = (variable, {})
            result = cache[1].get(selected)
            if result is None:
                built = self._label_result(variable, selected, cache[1], snapshot.state == 'cached')
                if built is None:
                    return self._code_default('code_default', targeting_key, attributes)
                if isinstance(built, Exception):
                    return self._code_default('validation_error', targeting_key, attributes, built)
                result = built
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

    def _label_result(
        self, variable: CompiledVariable, label: str, cache: dict[str, ResolvedVariable[T] | None], cached: bool
    ) -> ResolvedVariable[T] | Exception | None:
        """Build the result of serving ``label`` and cache it.

        Returns None when the label leads to the code default, and the validation error (not cached)
        when the value does not fit the type and the code default is a resolve function, which must
        then be called for each read.
        """
        serialized, version = variable.targets[label]
        if serialized is None:
            return None
        ok, decoded = self._decode(serialized, label, version)
        if ok:
            result: ResolvedVariable[T] = ResolvedVariable(
                name=self.name, value=decoded, label=label, version=version, reason='cached' if cached else 'resolved'
            )
        elif self._default_function is not None:
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
        exception: Exception | None = None,
    ) -> ResolvedVariable[T]:
        if self._default_function is not None:
            return self._call_default(
                self._targeting_key(targeting_key), self._merged_attributes(attributes), reason, exception
            )
        result = self._default_results.get(reason)
        if result is None:
            result = self._default_results[reason] = ResolvedVariable(
                name=self.name,
                value=self._static_default,
                reason=reason,
            )
        return result

    def _call_default(
        self,
        targeting_key: Any,
        attributes: Mapping[str, Any],
        reason: ResolutionReason,
        exception: Exception | None,
    ) -> ResolvedVariable[T]:
        assert self._default_function is not None
        try:
            value: Any = self._default_function(targeting_key, attributes)
        except Exception as exc:
            logger.warning('Variable %r: the code default function raised; returning None: %r', self.name, exc)
            return ResolvedVariable(
                name=self.name, value=cast(T, None), reason='other_error', exception=exception or exc
            )
        return ResolvedVariable(name=self.name, value=value, reason=reason, exception=exception)

    def _failed(self, exc: Exception, targeting_key: Any, attributes: Mapping[str, Any] | None) -> ResolvedVariable[T]:
        logger.error('Variable %r could not be resolved; serving the code default', self.name, exc_info=exc)
        if self._default_function is not None:
            try:
                return self._call_default(targeting_key, attributes or _EMPTY, 'other_error', exc)
            except Exception:  # pragma: no cover - _call_default already guards the call
                pass
        return ResolvedVariable(name=self.name, value=self._static_default, reason='other_error', exception=exc)

    def _from_override(
        self, override: Any, targeting_key: Any, attributes: Mapping[str, Any] | None
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
        return ResolvedVariable(name=self.name, value=value, reason='context_override')

    # -- testing, refreshing, exporting ---------------------------------------------------------

    @contextmanager
    def override(self, value: T | ResolveFunction[T]) -> Iterator[None]:
        """Serve ``value`` (or what a resolve function returns) for this name inside the block.

        Overrides apply by name in the current context (thread, task) and nest.
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
        """Like :meth:`refresh_sync`, without blocking the event loop."""
        import asyncio  # only here: an app that never awaits a refresh does not pay for importing asyncio

        await asyncio.to_thread(self._client.refresh, force=force)

    def to_config(self, *, strict: bool = False) -> VariableConfig:
        """Return a minimal ``VariableConfig``: name, description, JSON schema and example.

        The example is the JSON of the code default (None for a resolve function). With
        ``strict=True`` a default that cannot be serialised raises
        :class:`~remotevars.VariableSerializationError` naming the variable; otherwise it is None.
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
        )

    def serialized_default(self, *, strict: bool = False) -> str | None:
        """Return the code default as JSON text (None for a resolve function).

        Raises :class:`~remotevars.VariableSerializationError` with ``strict=True`` when it cannot be
        serialised; returns None in that case otherwise.
        """
        if self._default_function is not None:
            return None
        try:
            return self.type_adapter.dump_json(self._static_default).decode()
        except (PydanticSerializationError, ValueError, TypeError) as exc:
            if strict:
                raise VariableSerializationError(
                    f'The code default of variable {self.name!r} cannot be serialised to JSON: {exc}'
                ) from exc
            return None
