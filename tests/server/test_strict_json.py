"""Strict JSON: the decoder every body goes through, and the store's encoding (the last line of defence).

Pure functions and the store itself, without HTTP (the endpoints are covered by test_attacks.py).
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from remotevars.server import Store
from remotevars.server._json import StrictJsonError, loads_strict
from remotevars.server._wire import WriteRejected, parse_write
from tests.server.attackutil import strict_loads
from tests.serverutil import variable_body


@pytest.mark.parametrize(
    ('text', 'message'),
    [
        (b'{"a": {"b": [1, NaN]}}', 'a.b.1: NaN and Infinity are not JSON numbers (expected a finite number)'),
        (b'[Infinity]', '0: NaN and Infinity'),
        (b'{"x": -Infinity}', 'x: NaN and Infinity'),
        (b'{"x": 1e400}', 'x: NaN and Infinity'),
        (b'{"x": -1E+999}', 'x: NaN and Infinity'),
        (b'{"x": ["ok", "\\ud800"]}', 'x.1: string holds an unpaired UTF-16 surrogate'),
        (b'{"x": "\\udfff then text"}', 'x: string holds an unpaired UTF-16 surrogate'),
        (b'{"\\ud83d": 1}', '\ud83d: key holds an unpaired UTF-16 surrogate'),
        (b'{"x": [[[[1]]]]}', 'x.0.0.0: nests deeper than 4 levels'),
        (b'"\xff"', 'malformed JSON (not UTF-8: invalid start byte at byte 1)'),
        (b'\xef\xbb\xbf{}', 'malformed JSON (Unexpected UTF-8 BOM'),
        (b'{"a": 1,}', 'malformed JSON (Expecting property name'),
        (b'[' * 5000 + b']' * 5000, 'malformed JSON (nested too deeply)'),
        (b'1' * 5000, 'malformed JSON (Exceeds the limit (4300 digits)'),
    ],
)
def test_refused(text: bytes, message: str) -> None:
    with pytest.raises(StrictJsonError) as caught:
        loads_strict(text, max_depth=4)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    'text',
    [
        b'{"emoji": "\\ud83d\\ude00", "raw": "\xf0\x9f\x98\x80", "e": "caf\\u00e9"}',
        b'{"x": [[[1]]]}',  # four levels: at the limit
        b'[1e308, -1e308, 5e-324, 1e-400, 0, -0.0]',
        b'12345678901234567890123456789012345678901234567890',
        b'{"text": "\\\\ud800 is just text after an escaped backslash"}',
    ],
)
def test_accepted_and_equal_to_json_loads(text: bytes) -> None:
    assert loads_strict(text, max_depth=4) == json.loads(text)
    strict_loads(text)  # and every strict parser agrees


def test_str_input_with_a_raw_surrogate_is_refused() -> None:
    # A str (a serialized_value) can carry a raw surrogate that no escape announces.
    with pytest.raises(StrictJsonError, match='unpaired UTF-16 surrogate'):
        loads_strict('"\udc80"', max_depth=4)


def _write_with(**fields: Any) -> Any:
    # parse_write on a Python dict skips the strict decoding of HTTP bodies: what the store must still refuse.
    return parse_write({**variable_body('v', 1), **fields})


@pytest.mark.parametrize(
    'fields',
    [
        {'json_schema': {'maximum': math.inf}},
        {'json_schema': {'minimum': math.nan}},
        {'description': 'alone: \ud800'},
        {'template_inputs_schema': {'k': '\udfff'}},
    ],
)
def test_the_store_refuses_what_has_no_strict_encoding_and_changes_nothing(tmp_path: Path, fields: Any) -> None:
    store = Store(tmp_path / 'db.sqlite3')
    try:
        store.create(_write_with())
        before = store.snapshot
        with pytest.raises(WriteRejected, match='body: a value has no strict JSON encoding') as caught:
            store.replace(_write_with(**fields))
        assert caught.value.status == 422
        assert store.snapshot is before
        assert Store(tmp_path / 'db.sqlite3').snapshot.body == before.body  # nothing was committed
    finally:
        store.close()


def test_the_store_refuses_a_version_value_with_a_raw_surrogate(tmp_path: Path) -> None:
    store = Store(tmp_path / 'db.sqlite3')
    try:
        store.create(_write_with())
        with pytest.raises(WriteRejected):
            store.add_version('v', '"\ud800"')
        assert [v['version'] for v in store.versions('v')] == [1]
        with pytest.raises(WriteRejected):
            store.upsert_variable_type({'name': 'T', 'json_schema': {'maximum': math.inf}})
        assert store.variable_types() == []
    finally:
        store.close()


def test_a_variable_an_older_release_stored_with_infinity_is_left_out_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / 'db.sqlite3'
    store = Store(path)
    store.create(_write_with())
    store.create(parse_write(variable_body('ok', 2)))
    store.close()
    with sqlite3.connect(path) as conn:  # what the old encoding (allow_nan=True) wrote for attack 1
        (doc,) = conn.execute("SELECT doc FROM variables WHERE name = 'v'").fetchone()
        poisoned = json.dumps({**json.loads(doc), 'json_schema': {'maximum': math.inf}})
        conn.execute("UPDATE variables SET doc = ? WHERE name = 'v'", (poisoned,))
    with caplog.at_level(logging.ERROR, logger='remotevars.server'):
        reopened = Store(path)
    try:
        assert list(strict_loads(reopened.snapshot.body)['variables']) == ['ok']
        assert [r.getMessage() for r in caplog.records] == [
            "variable 'v' is not served: its stored value has no strict JSON encoding "
            '(Out of range float values are not JSON compliant)'
        ]
    finally:
        reopened.close()
