"""Which JSON Schema validator the server uses: jsonschema, jsonschema-rs and fastjsonschema side by side.

The server validates every new version against its variable's ``json_schema`` (pydantic-generated:
draft 2020-12, ``$defs`` and ``$ref``). For each validator installed this prints, per schema: the time
to build a validator (the server caches one per schema), to validate a valid value, and to validate an
invalid one *and* collect its errors with their JSON paths (what a 422 needs). It also checks that each
one finds the same errors as the others.

    .venv/bin/python benchmarks/bench_json_schema.py
    # the other two are not project dependencies; to compare, in a scratch venv:
    pip install jsonschema jsonschema-rs fastjsonschema pydantic && python benchmarks/bench_json_schema.py
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, TypeAdapter

Validate = Callable[[Any], list[str]]  # returns the JSON paths of the errors ([] when valid)


class Address(BaseModel):
    street: str
    zip_code: str
    country: str = 'FR'


class Agent(BaseModel):
    name: str
    temperature: float
    max_tokens: int
    tools: list[str]
    addresses: list[Address]
    tags: dict[str, int] = {}
    fallback: Agent | None = None


def _cases() -> list[tuple[str, dict[str, Any], Any, Any]]:
    agent = {
        'name': 'a',
        'temperature': 0.5,
        'max_tokens': 100,
        'tools': ['x', 'y'],
        'addresses': [{'street': 's', 'zip_code': '1'}] * 3,
        'tags': {'k': 1},
    }
    bad_agent = {**agent, 'max_tokens': 'lots', 'addresses': [{'street': 's'}]}
    many = {**agent, 'tools': [f't{i}' for i in range(1000)], 'addresses': [{'street': 's', 'zip_code': '1'}] * 200}
    bad_many = {**many, 'tools': [*many['tools'][:-1], 5]}
    return [
        ('int', TypeAdapter(int).json_schema(), 42, 'lots'),
        ('model (nested, $defs/$ref)', TypeAdapter(Agent).json_schema(), agent, bad_agent),
        ('model, 1,200 items', TypeAdapter(Agent).json_schema(), many, bad_many),
    ]


def _jsonschema(schema: dict[str, Any]) -> Validate:
    import jsonschema

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator = cls(schema)

    def validate(value: Any) -> list[str]:
        return sorted(e.json_path for e in validator.iter_errors(value))

    return validate


def _jsonschema_rs(schema: dict[str, Any]) -> Validate:
    import jsonschema_rs

    validator = jsonschema_rs.validator_for(schema)

    def validate(value: Any) -> list[str]:
        return sorted(
            '$' + ''.join(f'[{p}]' if isinstance(p, int) else f'.{p}' for p in e.instance_path)
            for e in validator.iter_errors(value)
        )

    return validate


def _fastjsonschema(schema: dict[str, Any]) -> Validate:
    import fastjsonschema

    check = fastjsonschema.compile(schema)

    def validate(value: Any) -> list[str]:
        # It stops at the first error: one path at most.
        try:
            check(value)
        except fastjsonschema.JsonSchemaException as exc:
            return [exc.name.replace('data', '$', 1)]
        return []

    return validate


VALIDATORS: dict[str, tuple[str, Callable[[dict[str, Any]], Validate]]] = {
    'jsonschema': ('jsonschema', _jsonschema),
    'jsonschema-rs': ('jsonschema_rs', _jsonschema_rs),
    'fastjsonschema': ('fastjsonschema', _fastjsonschema),
}


def _per_call(fn: Callable[[], object], budget: float = 0.3) -> float:
    """Return the median seconds per call of ``fn`` over a few rounds filling ``budget`` seconds."""
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.02:
        fn()
        n += 1
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(max(1, int(n * budget / 0.1))):
            fn()
        rounds.append((time.perf_counter() - start) / max(1, int(n * budget / 0.1)))
    return sorted(rounds)[2]


def _us(seconds: float) -> str:
    return f'{seconds * 1e6:9.1f} µs'


def main() -> None:
    available = {name: build for name, (module, build) in VALIDATORS.items() if importlib.util.find_spec(module)}
    missing = sorted(set(VALIDATORS) - set(available))
    print(f'validators: {", ".join(available)}' + (f' (not installed: {", ".join(missing)})' if missing else ''))
    for title, schema, good_value, bad_value in _cases():
        # Values as the server has them: parsed from the stored JSON text.
        good, bad = json.loads(json.dumps(good_value)), json.loads(json.dumps(bad_value))
        print(f'\n{title}')
        print(f'  {"validator":16} {"build":>12} {"valid":>12} {"invalid+paths":>14}  errors found')
        for name, build in available.items():
            validate = build(schema)
            assert validate(good) == [], (name, validate(good))
            paths = validate(bad)
            timings = [
                _per_call(lambda: build(schema), budget=0.2),  # noqa: B023 - used within the iteration
                _per_call(lambda: validate(good)),  # noqa: B023
                _per_call(lambda: validate(bad)),  # noqa: B023
            ]
            print(f'  {name:16} {_us(timings[0]):>12} {_us(timings[1]):>12} {_us(timings[2]):>14}  {paths}')


if __name__ == '__main__':
    main()
