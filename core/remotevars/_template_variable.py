"""``TemplateVariable[T, InputsT]``: a variable whose value is rendered with inputs on each read.

``get(inputs, ...)`` resolves like a plain read, composes ``@{refs}@``, renders the ``{{fields}}`` of
the value with ``inputs`` (see :mod:`remotevars._template`) and validates the result against the
type, falling back to the code default (rendered the same way) when a step fails. The JSON schema
of ``inputs_type`` travels with the variable as ``template_inputs_schema`` (pushed and pulled like
``json_schema``).

Before rendering, the fields the template uses are checked against that schema (once per distinct
template text): the mismatch policy decides whether an undeclared field is ignored, warned about,
or raised as :class:`~remotevars.TemplateInputsMismatchError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, TypeVar

from remotevars._errors import TemplateInputsMismatchError
from remotevars._pipeline import MISSING_REASON, RenderFunction, emit_warning
from remotevars._resolve import resolve_value
from remotevars._result import ResolvedVariable
from remotevars._variable import ResolveFunction, Variable, active_override

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from remotevars._client import Client
    from remotevars._template import TemplateMismatchPolicy

__all__ = ['TemplateVariable', 'read_rendered', 'warn_on_composed_templates']

T = TypeVar('T')
InputsT = TypeVar('InputsT')

_FIELD_CACHE_LIMIT: Final = 256


class TemplateVariable(Variable[T], Generic[T, InputsT]):
    """A variable rendered with inputs: ``get(inputs)`` returns the value with its ``{{fields}}`` filled.

    Create with :func:`remotevars.template_var`. ``template_mismatch_policy`` (``'ignore'``,
    ``'warn'``, ``'error'``; None: the client options', else ``'warn'``) says what a read does when
    the template uses fields ``inputs_type`` does not declare.
    """

    is_template: ClassVar[bool] = True

    def __init__(
        self,
        name: str,
        *,
        type: Any,
        default: T | ResolveFunction[T],
        inputs_type: Any,
        description: str | None,
        client: Client,
        template_mismatch_policy: TemplateMismatchPolicy | None = None,
    ) -> None:
        super().__init__(name, type=type, default=default, description=description, client=client)
        self.inputs_type = inputs_type
        self.template_mismatch_policy: TemplateMismatchPolicy | None = template_mismatch_policy
        from pydantic import TypeAdapter  # here: `import remotevars` does not load pydantic's models

        self._inputs_adapter: TypeAdapter[InputsT] = TypeAdapter(inputs_type)
        self._inputs_schema: dict[str, Any] | None = None
        self._inputs_schema_json = ''
        #: Post-composition JSON text -> fields its templates use that the inputs schema lacks.
        self._undeclared: dict[str, list[str]] = {}

    def template_inputs_schema(self) -> dict[str, Any]:
        """Return the JSON schema of ``inputs_type`` (what is pushed as ``template_inputs_schema``)."""
        if self._inputs_schema is None:
            schema = self._inputs_adapter.json_schema()
            self._inputs_schema_json = json.dumps(schema, sort_keys=True)
            self._inputs_schema = schema
        return self._inputs_schema

    #: The reference SDK's name for :meth:`template_inputs_schema`.
    get_template_inputs_schema = template_inputs_schema

    def get(  # type: ignore[override]  # the inputs come first, as in the reference
        self,
        inputs: InputsT,
        targeting_key: Any = None,
        attributes: Mapping[str, Any] | None = None,
        *,
        label: str | None = None,
    ) -> ResolvedVariable[T]:
        """Resolve, compose, render with ``inputs`` and validate. Never raises, except
        :class:`~remotevars.TemplateInputsMismatchError` under the ``'error'`` policy.
        """
        return read_rendered(self, self._renderer(inputs), targeting_key, attributes, label)

    def render(self, inputs: InputsT, targeting_key: Any = None, attributes: Mapping[str, Any] | None = None) -> T:
        """Return ``get(inputs, ...).value``: the rendered value (for templates and views)."""
        return self.get(inputs, targeting_key, attributes).value

    def inputs_from(self, values: Mapping[str, Any]) -> Any:
        """Return ``values`` validated as ``inputs_type``, objects read by attribute (a Django user for a
        model with ``username``); the mapping itself when it does not validate (the read then renders
        what it can, or falls back to the code default).
        """
        try:
            return self._inputs_adapter.validate_python(dict(values), from_attributes=True)
        except (ValueError, TypeError):
            return dict(values)

    def _policy(self) -> TemplateMismatchPolicy:
        if self.template_mismatch_policy is not None:
            return self.template_mismatch_policy
        policy: TemplateMismatchPolicy = getattr(self._client.options, 'template_mismatch_policy', 'warn')
        return policy

    def _renderer(self, inputs: Any) -> RenderFunction:
        policy = self._policy()

        def render(serialized: str) -> str:
            from remotevars._template import render_serialized

            if policy != 'ignore':
                self._check_fields(serialized, policy)
            return render_serialized(serialized, inputs)

        return render

    def _check_fields(self, serialized: str, policy: TemplateMismatchPolicy) -> None:
        fields = self._undeclared.get(serialized)
        if fields is None:
            from remotevars._template import template_strings, undeclared_fields

            schema = self.template_inputs_schema()
            fields = list(
                dict.fromkeys(undeclared_fields(template_strings(serialized), schema, self._inputs_schema_json))
            )
            if len(self._undeclared) >= _FIELD_CACHE_LIMIT:
                self._undeclared.clear()
            self._undeclared[serialized] = fields
        if not fields:
            return
        type_name = getattr(self.inputs_type, '__name__', repr(self.inputs_type))
        message = (
            f"Variable '{self.name}': template references {', '.join(repr(f) for f in fields)} "
            f'which are not declared in inputs_type {type_name!r}.'
        )
        if policy == 'error':
            raise TemplateInputsMismatchError(message)
        emit_warning(message)


def read_rendered(
    variable: Variable[T],
    render: RenderFunction,
    targeting_key: Any = None,
    attributes: Mapping[str, Any] | None = None,
    label: str | None = None,
) -> ResolvedVariable[T]:
    """Return what a read of ``variable`` serves when each value is rendered with ``render``.

    The pipeline of :meth:`TemplateVariable.get`: override or config value (or code default), composed,
    rendered (JSON text in, JSON text out), validated, with the usual fallbacks. Never raises, except
    :class:`~remotevars.TemplateInputsMismatchError` from ``render``.
    """
    try:
        found, override = active_override(variable.name)
        if found:
            return variable._from_override(override, targeting_key, attributes, render)
        snapshot = variable._current_snapshot()
        compiled = snapshot.lookup(variable.name)
        if compiled is None and snapshot.state == 'missing_config':
            snapshot = variable.client._wait_for_first_config(snapshot)
            compiled = snapshot.lookup(variable.name)
        read = variable._read(snapshot, targeting_key, attributes, render)
        if compiled is None:
            return read.code_default(MISSING_REASON[snapshot.state])
        serialized, selected, version = resolve_value(compiled, read.targeting_key, read.attributes, label=label)
        if serialized is None:
            return read.code_default('code_default')
        return read.value(serialized, selected, version, 'cached' if snapshot.state == 'cached' else 'resolved')
    except TemplateInputsMismatchError:
        raise
    except Exception as exc:  # reads never raise
        return variable._failed(exc, targeting_key, attributes)


def _static_references(variable: Variable[Any]) -> set[str]:
    serialized = variable._serialized_default
    if serialized is None or '@{' not in serialized:
        return set()
    from remotevars._compose import find_references

    return set(find_references(serialized))


def warn_on_composed_templates(registry: Mapping[str, Variable[Any]], variable: Variable[Any]) -> None:
    """Warn (RuntimeWarning) when a plain variable's static default composes a template variable.

    The plain variable has no inputs, so the composed template's fields could never be filled.
    Checked for the variable just declared, in both directions.
    """

    def warn(plain: str, template: str) -> None:
        emit_warning(
            f'Variable {plain!r} composes template variable {template!r}, but {plain!r} has no inputs_type of '
            f'its own, so the composed template placeholders cannot receive inputs when {plain!r} is resolved. '
            f'Declare {plain!r} with template_var() and a compatible inputs_type if you intend to render it, '
            'or remove the reference.'
        )

    if not isinstance(variable, TemplateVariable):
        for ref in sorted(_static_references(variable)):
            if isinstance(registry.get(ref), TemplateVariable):
                warn(variable.name, ref)
        return
    for other in registry.values():
        if (
            other is not variable
            and not isinstance(other, TemplateVariable)
            and variable.name in _static_references(other)
        ):
            warn(other.name, variable.name)
