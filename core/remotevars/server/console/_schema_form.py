"""A value form generated from a variable's JSON schema, and the value read back from the submitted form.

Pure. :func:`build_form` turns a schema and a value into a tree of :class:`Field` s: strings become
textareas (prompts are long), numbers and integers number inputs, booleans checkboxes, enums selects,
objects fieldsets and arrays repeatable rows. What the form cannot render (unions, maps, tuples, a value
with keys its schema does not list...) becomes a small raw-JSON field for that part only; the whole value
can also be edited as raw JSON. Local ``$ref`` s (``#/$defs/...``, pydantic's) are followed.

Every input is named by the JSON path of its part of the value (``$.model``, ``$.items[0].name``), the
same paths the server's schema validation names, so each of its messages lands next to its field.
:func:`read_form` builds the value back. Text that does not parse as a number is kept as text, so the
server's validation, not the form, says what is wrong with it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from remotevars.server._json import StrictJsonError, loads_strict
from remotevars.server._json_schema import json_path
from remotevars.server._wire import DEFAULT_LIMITS

__all__ = ['Field', 'FieldKind', 'attach_errors', 'build_form', 'errors_by_field', 'read_form']

FieldKind = Literal['text', 'number', 'integer', 'boolean', 'enum', 'object', 'array', 'json']

_MAX_DEPTH = 12
_NULL = '#null'
_COUNT = '#count'
_REMOVE = '#remove'
_KIND = '#kind'


@dataclass
class Field:
    """One input of the form (or a fieldset / list of rows), at JSON path ``path``.

    ``text`` is what the input shows (scalars, enums as the JSON of the chosen option, JSON fields);
    ``children`` are an object's properties or an array's rows; ``errors`` the messages about this part.
    """

    path: str
    kind: FieldKind
    label: str
    description: str | None = None
    required: bool = False
    nullable: bool = False
    is_null: bool = False
    text: str = ''
    checked: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)  # (JSON of the value, what it shows)
    children: list[Field] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The input's name in the form (its JSON path)."""
        return self.path

    @property
    def kind_name(self) -> str:
        """The name of the hidden input saying how this field was rendered (how to read it back)."""
        return self.path + _KIND

    @property
    def null_name(self) -> str:
        """The name of the checkbox that makes a nullable field null."""
        return self.path + _NULL

    @property
    def count_name(self) -> str:
        """The name of an array's hidden row count."""
        return self.path + _COUNT

    @property
    def remove_name(self) -> str:
        """The name of the checkbox that removes this row from its array."""
        return self.path + _REMOVE

    @property
    def rows(self) -> int:
        """How many lines a textarea needs for its text (at least 2, at most 20)."""
        return min(20, max(2, self.text.count('\n') + 1, len(self.text) // 90 + 1))

    def walk(self) -> list[Field]:
        """Return this field and every field inside it, depth first."""
        found = [self]
        for child in self.children:
            found += child.walk()
        return found


# -- schemas -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Node:
    """A schema part, classified: its kind, whether null is allowed, and the schema of its non-null part."""

    kind: FieldKind
    schema: Mapping[str, Any]
    nullable: bool
    title: str | None
    description: str | None


def _follow(schema: Any, root: Mapping[str, Any]) -> Any:
    """Return ``schema`` with a local ``$ref`` followed (siblings such as a description kept); None if unresolvable."""
    for _ in range(_MAX_DEPTH):
        if not isinstance(schema, Mapping) or '$ref' not in schema:
            return schema
        ref = schema['$ref']
        if not isinstance(ref, str) or not ref.startswith('#/'):
            return None
        target: Any = root
        for escaped in ref[2:].split('/'):
            part = escaped.replace('~1', '/').replace('~0', '~')
            if not isinstance(target, Mapping) or part not in target:
                return None
            target = target[part]
        if not isinstance(target, Mapping):
            return None
        schema = {**target, **{k: v for k, v in schema.items() if k != '$ref'}}
    return None


def _classify(schema: Any, root: Mapping[str, Any]) -> _Node:
    schema = _follow(schema, root)
    if not isinstance(schema, Mapping):
        return _Node('json', {}, False, None, None)
    title, description = schema.get('title'), schema.get('description')
    nullable = False
    # Optional[X] as pydantic writes it: anyOf [X, {"type": "null"}]; allOf with one item is X.
    for combinator in ('anyOf', 'oneOf'):
        options = schema.get(combinator)
        if isinstance(options, list):
            rest = [o for o in options if _follow(o, root) != {'type': 'null'}]
            if len(rest) != 1 or len(rest) == len(options):
                return _Node('json', schema, False, title, description)
            inner = _classify(rest[0], root)
            return _Node(inner.kind, inner.schema, True, title or inner.title, description or inner.description)
    all_of = schema.get('allOf')
    if isinstance(all_of, list) and len(all_of) == 1:
        inner = _classify(all_of[0], root)
        return _Node(inner.kind, inner.schema, inner.nullable, title or inner.title, description or inner.description)
    kind_of = schema.get('type')
    if isinstance(kind_of, list):
        types = [t for t in kind_of if t != 'null']
        nullable = len(types) < len(kind_of)
        kind_of = types[0] if len(types) == 1 else None
    if 'enum' in schema and isinstance(schema['enum'], list) and schema['enum']:
        return _Node('enum', schema, nullable or None in schema['enum'], title, description)
    if 'const' in schema:
        return _Node('enum', {**schema, 'enum': [schema['const']]}, nullable, title, description)
    simple: dict[Any, FieldKind] = {'string': 'text', 'number': 'number', 'integer': 'integer', 'boolean': 'boolean'}
    if kind_of in simple:
        return _Node(simple[kind_of], schema, nullable, title, description)
    if kind_of == 'object' and isinstance(schema.get('properties'), Mapping):
        extra = schema.get('additionalProperties', True)
        if extra in (True, False) and not schema.get('patternProperties'):
            return _Node('object', schema, nullable, title, description)
    if kind_of == 'array' and isinstance(schema.get('items'), Mapping) and 'prefixItems' not in schema:
        return _Node('array', schema, nullable, title, description)
    return _Node('json', schema, nullable, title, description)


def _empty(node: _Node, root: Mapping[str, Any]) -> Any:
    """Return the value a new part starts with: its schema's default, else an empty value of its kind."""
    if 'default' in node.schema:
        return node.schema['default']
    if node.nullable:
        return None
    if node.kind == 'text':
        return ''
    if node.kind == 'boolean':
        return False
    if node.kind == 'enum':
        return node.schema['enum'][0]
    if node.kind == 'object':
        properties: Mapping[str, Any] = node.schema['properties']
        required = set(node.schema.get('required', ()))
        return {name: _empty(_classify(s, root), root) for name, s in properties.items() if name in required}
    if node.kind == 'array':
        return []
    return None


# -- building ------------------------------------------------------------------------------------


def _option_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _build(
    node: _Node,
    value: Any,
    location: tuple[str | int, ...],
    label: str,
    required: bool,
    root: Mapping[str, Any],
    depth: int,
) -> Field:
    path = json_path(location)
    made = Field(path, node.kind, label, node.description, required, node.nullable)
    made.is_null = node.nullable and value is None
    # A value the form cannot show faithfully is edited as JSON (nothing is silently dropped).
    kind = node.kind if depth <= _MAX_DEPTH and (made.is_null or _fits(node, value)) else 'json'
    made.kind = kind
    if kind == 'json':
        made.nullable = False
        made.is_null = False
        made.text = '' if value is None and not required else json.dumps(value, indent=2, ensure_ascii=False)
    elif kind == 'text':
        made.text = value if isinstance(value, str) else ''
    elif kind in ('number', 'integer'):
        made.text = '' if value is None else json.dumps(value)
    elif kind == 'boolean':
        made.checked = value is True
    elif kind == 'enum':
        made.options = [(json.dumps(v), _option_text(v)) for v in node.schema['enum'] if v is not None]
        made.text = json.dumps(value) if value is not None or not made.options else made.options[0][0]
    elif kind == 'object':
        data = value if isinstance(value, dict) else {}
        properties: Mapping[str, Any] = node.schema['properties']
        needed = set(node.schema.get('required', ()))
        for name, schema in properties.items():
            child = _classify(schema, root)
            child_value = data[name] if name in data else (_empty(child, root) if name in needed else None)
            made.children.append(_build(child, child_value, (*location, name), name, name in needed, root, depth + 1))
    elif kind == 'array':
        item = _classify(node.schema['items'], root)
        for i, element in enumerate(value if isinstance(value, list) else []):
            made.children.append(_build(item, element, (*location, i), f'{i + 1}', True, root, depth + 1))
    return made


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fits(node: _Node, value: Any) -> bool:
    """Return whether the input of ``node``'s kind can show ``value`` as it is (None: a new, empty part)."""
    if value is None:
        return node.kind != 'enum' or bool([v for v in node.schema['enum'] if v is not None])
    if node.kind == 'object':
        return isinstance(value, dict) and not set(value) - set(node.schema['properties'])
    if node.kind == 'enum':
        return value in node.schema['enum']
    checks: dict[str, Callable[[Any], bool]] = {
        'array': lambda v: isinstance(v, list),
        'text': lambda v: isinstance(v, str),
        'boolean': lambda v: isinstance(v, bool),
        'number': _is_number,
        'integer': _is_number,
    }
    check = checks.get(node.kind)
    return check is None or check(value)


def build_form(schema: Mapping[str, Any], value: Any, errors: Mapping[str, list[str]] | None = None) -> Field:
    """Return the form of ``value`` under ``schema`` (the root field is ``$``), with ``errors`` attached.

    ``errors`` maps JSON paths to messages; one about a part that has no field of its own (a missing
    property, an item of a list) is attached to the nearest enclosing field.
    """
    node = _classify(schema, schema)
    root = _build(node, value, (), node.title or 'value', True, schema, 0)
    attach_errors(root, errors or {})
    return root


def attach_errors(form: Field, errors: Mapping[str, list[str]]) -> None:
    """Attach each message of ``errors`` (by JSON path) to its field, or to the nearest enclosing one."""
    fields = {f.path: f for f in form.walk()}
    for path, messages in errors.items():
        target = path
        while target not in fields:
            target = _parent(target)
        fields[target].errors.extend(messages)


def _parent(path: str) -> str:
    """Return the JSON path of the part enclosing ``path`` (``$`` for the root and anything unparsable)."""
    if path == '$' or not path.startswith('$'):
        return '$'
    i = len(path) - 1
    if path.endswith(']'):
        # The matching "[": the last one not inside a quoted key (keys are JSON strings, quotes escaped).
        depth_quote = False
        while i > 0:
            char = path[i]
            if char == '"' and path[i - 1] != '\\':
                depth_quote = not depth_quote
            elif char == '[' and not depth_quote:
                return path[:i] or '$'
            i -= 1
        return '$'
    dot = path.rfind('.')
    return path[:dot] if dot > 0 else '$'


def errors_by_field(errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Return the server's schema violations (``{"path": ..., "message": ...}`` each) grouped by JSON path."""
    grouped: dict[str, list[str]] = {}
    for error in errors:
        message = str(error['message'])
        if message not in grouped.setdefault(str(error['path']), []):
            grouped[str(error['path'])].append(message)
    return grouped


# -- reading -------------------------------------------------------------------------------------

_ABSENT: Any = object()


def _number(text: str, integer: bool) -> Any:
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    if not _is_number(parsed) or not math.isfinite(parsed):
        return text
    if integer and isinstance(parsed, float) and parsed.is_integer():
        return int(parsed)
    return parsed


def _read(
    node: _Node,
    form: Mapping[str, str],
    location: tuple[str | int, ...],
    required: bool,
    root: Mapping[str, Any],
    problems: dict[str, str],
    adding: str | None,
) -> Any:
    path = json_path(location)
    # Each field says how it was rendered (see Field.kind_name): the value is read the same way.
    kind = form.get(path + _KIND)
    if kind is None:
        return _ABSENT
    if form.get(path + _NULL):
        return None
    text = form.get(path, '')
    if kind == 'text':
        return text.replace('\r\n', '\n')
    if kind in ('number', 'integer'):
        if not text.strip():
            return _ABSENT if not required else ''
        return _number(text.strip(), kind == 'integer')
    if kind == 'boolean':
        return bool(form.get(path))
    if kind == 'enum':
        try:
            return json.loads(text)
        except ValueError:
            return text
    if kind == 'object' and node.kind == 'object':
        properties: Mapping[str, Any] = node.schema['properties']
        needed = set(node.schema.get('required', ()))
        result: dict[str, Any] = {}
        for name, schema in properties.items():
            got = _read(_classify(schema, root), form, (*location, name), name in needed, root, problems, adding)
            if got is not _ABSENT:
                result[name] = got
        return result
    if kind == 'array' and node.kind == 'array':
        # Its rows, less the ones ticked for removal, plus a new one when asked.
        item = _classify(node.schema['items'], root)
        count = int(form[path + _COUNT]) if form.get(path + _COUNT, '').isdigit() else 0
        rows = []
        for i in range(min(count, 10_000)):
            if form.get(json_path((*location, i)) + _REMOVE):
                continue
            got = _read(item, form, (*location, i), True, root, problems, adding)
            rows.append(None if got is _ABSENT else got)
        if adding == path:
            rows.append(_empty(item, root))
        return rows
    # JSON (or a field whose kind does not fit the schema: read as JSON, the server judges it).
    if not text.strip():
        return _ABSENT if not required else None
    try:
        return loads_strict(text, max_depth=DEFAULT_LIMITS.max_json_depth)
    except StrictJsonError as exc:
        problems[path] = f'not valid JSON ({exc})'
        return None


def read_form(
    schema: Mapping[str, Any], form: Mapping[str, str], *, adding: str | None = None
) -> tuple[Any, dict[str, str]]:
    """Return the value a submitted form holds under ``schema`` and its problems (JSON path -> message).

    A problem is a part that is not valid JSON (it reads as None). ``adding`` is the JSON path of an array
    to give one more (empty) row, for the form's "add" buttons.
    """
    problems: dict[str, str] = {}
    value = _read(_classify(schema, schema), form, (), True, schema, problems, adding)
    return (None if value is _ABSENT else value), problems
