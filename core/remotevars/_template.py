"""Templates: rendering ``{{field}}`` in a serialized value with a read's inputs, and checking fields.

Pure functions. Rendering follows the Logfire SDK exactly: the inputs become a context (a model's
``model_dump()``, a mapping as a dict, anything else through pydantic's ``to_jsonable_python``),
every string in it is marked safe (prompts are not HTML: nothing is escaped), and every string of
the decoded value that contains ``{{`` is rendered with standard Handlebars (pydantic-handlebars).
Missing inputs render empty.

Field checks compare the ``{{fields}}`` a template uses with the JSON schema of its ``inputs_type``;
the results are cached per (template, schema), because a variable's templates rarely change while
the same check would otherwise run on every read.

pydantic-handlebars is imported on first use.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Literal

from remotevars._compose import find_references

if TYPE_CHECKING:
    from pydantic_handlebars import CompiledTemplate, HandlebarsEnvironment

__all__ = [
    'TemplateFieldIssue',
    'TemplateMismatchPolicy',
    'inputs_to_context',
    'render_serialized',
    'template_errors',
    'template_field_issues',
    'template_strings',
    'undeclared_fields',
]

#: What a template read does when its template uses fields its ``inputs_type`` does not declare:
#: nothing, a ``RuntimeWarning``, or raise :class:`~remotevars.TemplateInputsMismatchError`.
TemplateMismatchPolicy = Literal['ignore', 'warn', 'error']

_OPEN: Final = '{{'
_COMPILE_CACHE: Final = 1024
_CHECK_CACHE: Final = 1024


@lru_cache(maxsize=1)
def _environment() -> HandlebarsEnvironment:
    from pydantic_handlebars import HandlebarsEnvironment

    return HandlebarsEnvironment()


@lru_cache(maxsize=_COMPILE_CACHE)
def _compiled(source: str) -> CompiledTemplate:
    return _environment().compile(source)


def template_errors() -> tuple[type[Exception], ...]:
    """Return the exception types rendering can raise (for ``except`` clauses)."""
    from pydantic_handlebars import HandlebarsError

    return (HandlebarsError, ValueError, TypeError)


def inputs_to_context(inputs: Any) -> dict[str, Any]:
    """Return the render context of ``inputs`` (None gives an empty one).

    Raises TypeError when the inputs cannot be serialised or do not serialise to a mapping.
    """
    if inputs is None:
        return {}
    if hasattr(inputs, 'model_dump'):
        return dict(inputs.model_dump())
    if isinstance(inputs, Mapping):
        return dict(inputs)
    from pydantic_core import to_jsonable_python

    try:
        dumped = to_jsonable_python(inputs)
    except Exception as exc:
        raise TypeError(
            f'Could not serialize render inputs of type {type(inputs).__name__!r} to a template context; pass a '
            'Pydantic model, dataclass, TypedDict, dict/Mapping, or another pydantic-serializable object.'
        ) from exc
    if not isinstance(dumped, dict):
        raise TypeError(
            f'Render inputs of type {type(inputs).__name__!r} serialized to {type(dumped).__name__!r}; '
            'a mapping is required for a template context (field names to values).'
        )
    return dumped


def _safe(value: Any, safe_string: Callable[[str], Any]) -> Any:
    if isinstance(value, str):
        return safe_string(value)
    if isinstance(value, dict):
        return {key: _safe(item, safe_string) for key, item in value.items()}
    if isinstance(value, list):
        return [_safe(item, safe_string) for item in value]
    return value


def _render(value: Any, context: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return _compiled(value).render(context) if _OPEN in value else value
    if isinstance(value, dict):
        return {key: _render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, context) for item in value]
    return value


def render_serialized(serialized: str, inputs: Any) -> str:
    """Return the JSON text ``serialized`` with its ``{{}}`` templates rendered with ``inputs``.

    Raises TypeError for unusable inputs, ValueError for text that is not JSON, and the renderer's
    ``HandlebarsError`` for a template it cannot parse.
    """
    from pydantic_handlebars import SafeString

    context = _safe(inputs_to_context(inputs), SafeString)
    return json.dumps(_render(json.loads(serialized), context))


def _collect_templates(value: Any, found: list[str]) -> None:
    if isinstance(value, str):
        if _OPEN in value:
            found.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_templates(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect_templates(item, found)


def template_strings(serialized: str) -> list[str]:
    """Return the strings of a JSON value that contain ``{{`` (text that is not JSON counts whole)."""
    try:
        decoded = json.loads(serialized)
    except (ValueError, TypeError):
        return [serialized] if _OPEN in serialized else []
    found: list[str] = []
    _collect_templates(decoded, found)
    return found


@lru_cache(maxsize=_CHECK_CACHE)
def _undeclared(templates: tuple[str, ...], schema_json: str) -> tuple[str, ...]:
    from pydantic_handlebars import check_template_compatibility

    result = check_template_compatibility(list(templates), json.loads(schema_json))
    return tuple(issue.field_path for issue in result.issues if issue.severity == 'error')


def undeclared_fields(templates: list[str], schema: Mapping[str, Any], schema_json: str | None = None) -> list[str]:
    """Return the field paths ``templates`` use that ``schema`` does not declare (error severity), in order.

    ``schema_json`` (the schema as canonical JSON) saves encoding it when the caller has it.
    """
    if not templates:
        return []
    key = schema_json if schema_json is not None else json.dumps(schema, sort_keys=True)
    return list(_undeclared(tuple(templates), key))


@dataclass
class TemplateFieldIssue:
    """A ``{{field}}`` that ``root_variable``'s ``inputs_type`` does not declare.

    It was found in ``found_in_variable``'s value under ``found_in_label`` (None: the code default),
    reached from the root through ``reference_path`` (empty: the root's own value).
    """

    field_name: str
    found_in_variable: str
    found_in_label: str | None
    reference_path: list[str]
    root_variable: str

    def describe(self) -> str:
        """Return the one-line description push and validate print."""
        where = ''
        if self.reference_path:
            location = self.found_in_variable
            if self.found_in_label is not None:
                location += f' (label: {self.found_in_label})'
            chain = ' -> '.join(f'@{{{ref}}}@' for ref in self.reference_path)
            where = f' found in {location} via {chain}'
        return (
            f'{self.root_variable}: {{{{{self.field_name}}}}}{where} '
            f"is not declared in {self.root_variable}'s inputs_type schema"
        )


def template_field_issues(
    root: str,
    schema: Mapping[str, Any],
    values_of: Callable[[str], Mapping[str | None, str]],
) -> list[TemplateFieldIssue]:
    """Return the undeclared fields reachable from template variable ``root``'s values.

    ``values_of(name)`` gives every value a variable can serve, by label (None: the code default).
    References are followed depth first (each variable once per path); an issue is reported once per
    (field, variable, label). A graph deeper than the interpreter's recursion limit is walked as far
    as it goes.
    """
    issues: list[TemplateFieldIssue] = []
    seen: set[tuple[str, str, str | None]] = set()
    schema_json = json.dumps(schema, sort_keys=True)

    def walk(name: str, path: list[str], visited: frozenset[str]) -> None:
        if name in visited:
            return
        visited = visited | {name}
        for label, serialized in values_of(name).items():
            for field_name in undeclared_fields(template_strings(serialized), schema, schema_json):
                key = (field_name, name, label)
                if key not in seen:
                    seen.add(key)
                    issues.append(TemplateFieldIssue(field_name, name, label, list(path), root))
            for ref in find_references(serialized):
                walk(ref, [*path, ref], visited)

    with contextlib.suppress(RecursionError):  # walked as far as the interpreter allows
        walk(root, [], frozenset())
    return issues
