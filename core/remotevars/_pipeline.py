"""The slow path of a read: compose ``@{refs}@``, render ``{{templates}}``, validate, fall back.

A plain read of a value without ``@{`` never comes here (``Variable.get`` serves decoded values from
its caches). This module runs when a value or the code default composes other variables, and on
every read of a template variable. One :class:`Read` lives for one ``get()``: it holds the snapshot,
targeting key and attributes that the value and all its references resolve with, and memoises a
resolve-function default so it runs at most once per read.

The steps and their fallbacks follow the Logfire SDK: a config or override value is composed
strictly (a missing reference fails it); a failing step serves the code default with
``validation_error`` (validation) or ``other_error`` (composition, rendering); the code default is
composed strictly, then leniently (missing references render empty), then served raw. Each fallback
emits the SDK's ``RuntimeWarning`` (emission never changes the result, even under ``-W error``).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from pydantic_core import PydanticSerializationError, ValidationError

from remotevars._compose import OPEN, ComposedReference, composition_errors, expand_references, first_fatal_error
from remotevars._errors import VariableCompositionError
from remotevars._resolve import resolve_value
from remotevars._result import ResolutionReason, ResolvedVariable

if TYPE_CHECKING:
    from remotevars._snapshot import Snapshot
    from remotevars._variable import Variable

__all__ = ['MISSING_REASON', 'Read', 'RenderFunction', 'SERIALIZE_ERRORS', 'emit_warning']

#: Why a variable absent from the snapshot is served its code default, by snapshot state.
MISSING_REASON: Final[dict[str, ResolutionReason]] = {
    'no_provider': 'no_provider',
    'missing_config': 'missing_config',
    'loaded': 'unrecognized_variable',
    'cached': 'unrecognized_variable',
}
SERIALIZE_ERRORS: Final = (PydanticSerializationError, ValueError, TypeError, RuntimeError)
_VALIDATE_ERRORS: Final = (ValidationError, ValueError, TypeError)

#: Renders the ``{{}}`` of composed JSON text (template variables): JSON text in, JSON text out.
RenderFunction = Callable[[str], str]


def emit_warning(message: str) -> None:
    """Emit a RuntimeWarning about a fallback; a filter that turns it into an error cannot break the read."""
    with contextlib.suppress(Exception):
        warnings.warn(message, RuntimeWarning, stacklevel=4)


def _validation_detail(exc: Exception) -> object:
    return exc.errors(include_input=False, include_url=False) if isinstance(exc, ValidationError) else exc


class _Attempt:
    """One compose -> render -> validate pass: ``ok`` with ``value``, or the failing ``stage`` and ``error``."""

    __slots__ = ('composed', 'error', 'ok', 'stage', 'value')

    def __init__(
        self,
        ok: bool,
        value: Any = None,
        *,
        error: Exception | None = None,
        stage: str = '',
        composed: list[ComposedReference] | None = None,
    ) -> None:
        self.ok = ok
        self.value = value
        self.error = error
        self.stage = stage
        self.composed: list[ComposedReference] = composed if composed is not None else []

    @property
    def reason(self) -> ResolutionReason:
        return 'validation_error' if self.stage == 'validation' else 'other_error'


class _DefaultFailed(Exception):
    """The resolve-function default raised (the original error is ``__cause__``)."""


class Read:
    """The state of one slow read of ``variable``: where references resolve, and the default memo."""

    __slots__ = ('_default', 'attributes', 'render', 'snapshot', 'targeting_key', 'variable')

    def __init__(
        self,
        variable: Variable[Any],
        snapshot: Snapshot,
        targeting_key: Any,
        attributes: Mapping[str, Any],
        render: RenderFunction | None = None,
    ) -> None:
        self.variable = variable
        self.snapshot = snapshot
        self.targeting_key = targeting_key
        self.attributes = attributes
        self.render = render
        #: id(variable) -> (ok, value or exception) of resolve-function defaults called in this read.
        self._default: dict[int, tuple[bool, Any]] = {}

    # -- the code default ---------------------------------------------------------------------

    def default_of(self, variable: Variable[Any]) -> Any:
        """Return ``variable``'s raw code default, calling a resolve function at most once per read.

        Raises :class:`_DefaultFailed` (from the function's error) when it raises, every time.
        """
        function = variable._default_function
        if function is None:
            return variable.default
        key = id(variable)
        found = self._default.get(key)
        if found is None:
            try:
                found = (True, function(self.targeting_key, self.attributes))
            except Exception as exc:
                found = (False, exc)
            self._default[key] = found
        if not found[0]:
            raise _DefaultFailed from found[1]
        return found[1]

    def serialized_default_of(self, variable: Variable[Any]) -> str | None:
        """Return ``variable``'s code default as JSON text, None when it cannot be serialised.

        Raises :class:`_DefaultFailed` when a resolve-function default raises.
        """
        if variable._default_function is None:
            return variable._serialized_default
        try:
            return variable.type_adapter.dump_json(self.default_of(variable), warnings=False).decode()
        except SERIALIZE_ERRORS:
            return None

    # -- references ---------------------------------------------------------------------------

    def lookup_ref(self, name: str) -> tuple[str | None, str | None, int | None, ResolutionReason]:
        """Resolve a referenced name: override of a registered variable, then the config, then its default."""
        from remotevars._variable import active_override, is_resolve_function  # _variable imports this module

        registered = self.variable.client._registry.get(name)
        if registered is not None:
            found, override = active_override(name)
            if found:
                if is_resolve_function(override):
                    override = override(self.targeting_key, self.attributes)
                try:
                    return registered.type_adapter.dump_json(override).decode(), None, None, 'context_override'
                except SERIALIZE_ERRORS as exc:
                    emit_warning(
                        f"Context override for variable '{name}' could not be serialized while resolving "
                        f"'{self.variable.name}' composition; falling through to provider/code default: {exc}"
                    )
        compiled = self.snapshot.lookup(name)
        label: str | None = None
        version: int | None = None
        if compiled is None:
            serialized: str | None = None
            reason: ResolutionReason = MISSING_REASON[self.snapshot.state]
        else:
            serialized, label, version = resolve_value(compiled, self.targeting_key, self.attributes)
            reason = 'cached' if self.snapshot.state == 'cached' else 'resolved'
        if serialized is not None:
            return serialized, label, version, reason
        if registered is not None:
            try:
                default = self.serialized_default_of(registered)
            except _DefaultFailed:
                default = None
            if default is not None:
                return default, None, None, 'code_default'
        return None, label, version, reason

    # -- one attempt --------------------------------------------------------------------------

    def attempt(self, serialized: str, *, strict: bool) -> _Attempt:
        """Compose (with ``strict``), render and validate ``serialized``; never raises except a template mismatch."""
        composed: list[ComposedReference] = []
        if OPEN in serialized:
            try:
                serialized, composed = expand_references(serialized, self.variable.name, self.lookup_ref, strict=strict)
            except composition_errors() as exc:
                return _Attempt(False, error=exc, stage='composition')
            fatal = first_fatal_error(composed)
            if fatal is not None:
                return _Attempt(False, error=VariableCompositionError(fatal), stage='composition', composed=composed)
        if self.render is not None:
            from remotevars._template import template_errors

            try:
                serialized = self.render(serialized)
            except template_errors() as exc:
                return _Attempt(False, error=exc, stage='template rendering', composed=composed)
        try:
            value = self.variable.type_adapter.validate_json(serialized)
        except _VALIDATE_ERRORS as exc:
            return _Attempt(False, error=exc, stage='validation', composed=composed)
        return _Attempt(True, value, composed=composed)

    # -- whole reads --------------------------------------------------------------------------

    def value(
        self, serialized: str, label: str | None, version: int | None, reason: ResolutionReason
    ) -> ResolvedVariable[Any]:
        """Serve a config (or override) value, or the code default when a step fails."""
        attempt = self.attempt(serialized, strict=True)
        if attempt.ok:
            return ResolvedVariable(
                name=self.variable.name,
                value=attempt.value,
                label=label,
                version=version,
                reason=reason,
                composed_from=attempt.composed,
            )
        self._warn_failed(attempt)
        # The code default is served, so the failed label and version are not reported.
        return self.code_default(attempt.reason, attempt.error, trigger=attempt)

    def code_default(
        self, reason: ResolutionReason, exception: Exception | None = None, *, trigger: _Attempt | None = None
    ) -> ResolvedVariable[Any]:
        """Serve the code default: composed strictly, then leniently, then raw (see the module docstring).

        ``reason``/``exception`` describe why the default is served; ``trigger`` is the failed
        attempt of a config value when the default is a fallback.
        """
        variable = self.variable
        name = variable.name
        try:
            serialized = self.serialized_default_of(variable)
            raw = self.default_of(variable)
        except _DefaultFailed as failed:
            error = failed.__cause__ if isinstance(failed.__cause__, Exception) else failed
            emit_warning(
                f"Variable '{name}' could not be resolved and its code default raised; returning None: {error}"
            )
            return ResolvedVariable(name=name, value=None, reason='other_error', exception=error)
        if serialized is None:
            return ResolvedVariable(name=name, value=raw, reason=reason, exception=exception)
        attempt = self.attempt(serialized, strict=True)
        if not attempt.ok and attempt.stage == 'composition':
            lenient = self.attempt(serialized, strict=False)
            if lenient.ok:
                emit_warning(
                    f"Variable '{name}' code default has unresolved composition reference(s); "
                    'rendering them as empty strings.'
                )
            attempt = lenient
        composed = trigger.composed if trigger is not None and trigger.composed else attempt.composed
        if attempt.ok:
            return ResolvedVariable(
                name=name, value=attempt.value, reason=reason, exception=exception, composed_from=composed
            )
        if trigger is None:
            emit_warning(
                f"Variable '{name}' code default {attempt.stage} failed; returning the raw default: {attempt.error}"
            )
            reason, exception = attempt.reason, attempt.error
        return ResolvedVariable(
            name=name,
            value=raw,
            reason=reason,
            exception=exception,
            composed_from=trigger.composed if trigger is not None else [],
        )

    def _warn_failed(self, attempt: _Attempt) -> None:
        name = self.variable.name
        if attempt.stage == 'validation':
            assert attempt.error is not None
            detail = _validation_detail(attempt.error)
            emit_warning(f"Variable '{name}' value failed validation; falling back to code default: {detail}")
        else:
            emit_warning(f"Variable '{name}' {attempt.stage} failed; falling back to code default: {attempt.error}")
