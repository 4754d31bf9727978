"""The value form generated from a JSON schema: what it renders, and that reading it back gives the value again."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from remotevars.server.console._schema_form import Field as FormField
from remotevars.server.console._schema_form import build_form, errors_by_field, read_form


class Item(BaseModel):
    name: str
    qty: int = 1


class Settings(BaseModel):
    model: str = 'small'
    temperature: float = Field(default=0.2, ge=0, le=2)
    mode: Literal['fast', 'careful'] = 'fast'
    enabled: bool = False
    note: str | None = None
    items: list[Item] = []
    limits: dict[str, int] = {}


SCHEMA = Settings.model_json_schema()


def submitted(form: FormField) -> dict[str, str]:
    """Return what a browser sends for the form as rendered (unchanged inputs)."""
    fields: dict[str, str] = {form.kind_name: form.kind}
    if form.is_null:
        fields[form.null_name] = '1'
    if form.kind in ('text', 'number', 'integer', 'enum', 'json'):
        fields[form.path] = form.text
    if form.kind == 'boolean' and form.checked:
        fields[form.path] = '1'
    if form.kind == 'array':
        fields[form.count_name] = str(len(form.children))
    for child in form.children:
        fields |= submitted(child)
    return fields


def kinds(form: FormField) -> dict[str, str]:
    return {f.path: f.kind for f in form.walk()}


def test_each_kind_of_schema_gets_its_input() -> None:
    value = Settings(items=[Item(name='pen')], limits={'a': 1}).model_dump(mode='json')
    assert kinds(build_form(SCHEMA, value)) == {
        '$': 'object',
        '$.model': 'text',
        '$.temperature': 'number',
        '$.mode': 'enum',
        '$.enabled': 'boolean',
        '$.note': 'text',
        '$.items': 'array',
        '$.items[0]': 'object',  # a $ref followed
        '$.items[0].name': 'text',
        '$.items[0].qty': 'integer',
        '$.limits': 'json',  # a map: the form cannot list its keys, raw JSON for this part only
    }
    form = build_form(SCHEMA, value)
    note = next(f for f in form.walk() if f.path == '$.note')
    assert note.nullable and note.is_null
    mode = next(f for f in form.walk() if f.path == '$.mode')
    assert mode.options == [('"fast"', 'fast'), ('"careful"', 'careful')]


@pytest.mark.parametrize(
    'value',
    [
        Settings().model_dump(mode='json'),
        Settings(model='a\nlong\nprompt', temperature=1, enabled=True, note='n', mode='careful').model_dump(
            mode='json'
        ),
        Settings(items=[Item(name='a'), Item(name='b', qty=3)], limits={'x': 2}).model_dump(mode='json'),
    ],
)
def test_reading_the_form_back_gives_the_value(value: dict[str, Any]) -> None:
    assert read_form(SCHEMA, submitted(build_form(SCHEMA, value))) == (value, {})


def test_rows_are_added_and_removed() -> None:
    value = Settings(items=[Item(name='a'), Item(name='b')]).model_dump(mode='json')
    fields = submitted(build_form(SCHEMA, value))
    added, _ = read_form(SCHEMA, fields, adding='$.items')
    assert added['items'] == [{'name': 'a', 'qty': 1}, {'name': 'b', 'qty': 1}, {'name': ''}]
    removed, _ = read_form(SCHEMA, fields | {'$.items[0]#remove': '1'})
    assert removed['items'] == [{'name': 'b', 'qty': 1}]


def test_text_that_is_not_a_number_is_kept_for_the_server_to_judge() -> None:
    fields = submitted(build_form(SCHEMA, Settings().model_dump(mode='json')))
    value, problems = read_form(SCHEMA, fields | {'$.temperature': 'warm', '$.limits': '{"a": '})
    assert value['temperature'] == 'warm'
    assert list(problems) == ['$.limits'] and problems['$.limits'].startswith('not valid JSON')


def test_a_value_the_form_cannot_show_faithfully_is_edited_as_json() -> None:
    # Keys the schema does not list (allowed: no additionalProperties) would be lost by a fieldset.
    schema = {'type': 'object', 'properties': {'a': {'type': 'string'}}}
    assert build_form(schema, {'a': 'x', 'b': 1}).kind == 'json'
    assert read_form(schema, submitted(build_form(schema, {'a': 'x', 'b': 1}))) == ({'a': 'x', 'b': 1}, {})
    assert build_form({'type': 'string'}, 42).kind == 'json'  # a value that breaks its schema
    assert build_form({'oneOf': [{'type': 'string'}, {'type': 'integer'}]}, 'x').kind == 'json'
    assert build_form({}, [1, 2]).kind == 'json'  # no schema to go by


def test_messages_land_next_to_their_field_or_the_nearest_enclosing_one() -> None:
    value = Settings(items=[Item(name='a')]).model_dump(mode='json')
    errors = errors_by_field(
        [
            {'path': '$.temperature', 'message': '5 is greater than the maximum of 2'},
            {'path': '$.items[0]', 'message': '"name" is a required property'},
            {'path': '$.limits.a', 'message': '"x" is not of type "integer"'},
            {'path': '$.temperature', 'message': '5 is greater than the maximum of 2'},
        ]
    )
    form = build_form(SCHEMA, value, errors)
    found = {f.path: f.errors for f in form.walk() if f.errors}
    assert found == {
        '$.temperature': ['5 is greater than the maximum of 2'],
        '$.items[0]': ['"name" is a required property'],
        '$.limits': ['"x" is not of type "integer"'],  # inside a JSON field: on that field
    }
