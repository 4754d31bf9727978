"""Strict JSON: the decoder every body goes through, and the store's encoding (the last line of defence).

Pure functions and the SQLite store under its operations, without HTTP (the endpoints are covered by
test_attacks.py).
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from remotevars.server import Operations, SQLiteStore, Store
from remotevars.server._json import StrictJsonError, dumps_strict, loads_strict
from remotevars.server._shape import encode
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


@pytest.mark.parametrize('value', [math.inf, [math.nan], {'k': '\ud800'}, {'\udfff': 1}])
def test_dumps_strict_refuses_what_strict_parsers_reject(value: Any) -> None:
    with pytest.raises(StrictJsonError, match='NaN and Infinity are not JSON numbers|surrogates not allowed'):
        dumps_strict(value)


def test_dumps_strict_keeps_other_text_as_it_is() -> None:
    value = {'text': 'café \u2028 😀', 'n': [1, 2.5, None]}
    assert dumps_strict(value) == json.dumps(value, separators=(',', ':'), ensure_ascii=False).encode()


@pytest.mark.parametrize(
    'fields',
    [
        {'template_inputs_schema': {'maximum': math.inf}},
        {'template_inputs_schema': {'minimum': [math.nan]}},
        {'description': 'alone: \ud800'},
        {'template_inputs_schema': {'k': '\udfff'}},
    ],
)
def test_the_store_refuses_what_has_no_strict_encoding_and_changes_nothing(store: Store, fields: Any) -> None:
    # Both backends: the statements that encode are shared (_sql.py).
    ops = Operations(store)
    ops.create(_write_with(), actor='t')
    before = store.snapshot
    with pytest.raises(WriteRejected, match="Variable 'v': a value has no strict JSON encoding") as caught:
        ops.replace(_write_with(**fields), actor='t')
    assert caught.value.status == 422
    assert store.snapshot is before
    assert len(store.history('v')) == 1
    with store.transaction() as tx:  # nothing was committed
        record = tx.variable('v')
    assert record is not None and record.doc['description'] == before.variables['v']['description']


def test_the_store_refuses_a_version_value_with_a_raw_surrogate(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / 'db.sqlite3')
    ops = Operations(store)
    try:
        ops.create(_write_with(), actor='t')
        with pytest.raises(WriteRejected, match='new version: not valid JSON text'):
            ops.create_version('v', '"\ud800"', ['next'], actor='t')
        refused = pytest.raises(WriteRejected, match='a new version has no strict JSON encoding')
        with refused, store.transaction() as tx:  # the store's own check, for a caller that skips the operations
            tx.add_version('v', '"\ud800"', 'now')
        assert [v['version'] for v in store.versions('v') or []] == [1]
        refused = pytest.raises(WriteRejected, match="Variable type 'T': a value has no strict JSON encoding")
        with refused, store.transaction() as tx:
            tx.save_variable_type({'name': 'T', 'json_schema': {'maximum': math.inf}})
        assert store.variable_types() == []
    finally:
        store.close()


def _poison(path: Path, name: str) -> None:
    with sqlite3.connect(path) as conn:  # what the old encoding (allow_nan=True) wrote for attack 1
        (doc,) = conn.execute('SELECT doc FROM variables WHERE name = ?', (name,)).fetchone()
        poisoned = json.dumps({**json.loads(doc), 'json_schema': {'maximum': math.inf}})
        conn.execute('UPDATE variables SET doc = ? WHERE name = ?', (poisoned, name))
    conn.close()


def test_a_variable_an_older_release_stored_with_infinity_is_left_out_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / 'db.sqlite3'
    store = SQLiteStore(path)
    Operations(store).create(_write_with(), actor='t')
    Operations(store).create(parse_write(variable_body('ok', 2)), actor='t')
    store.close()
    _poison(path, 'v')
    with caplog.at_level(logging.ERROR, logger='remotevars.server'):
        reopened = SQLiteStore(path)
    try:
        assert list(strict_loads(reopened.snapshot.body)['variables']) == ['ok']
        assert [r.getMessage() for r in caplog.records] == [
            "variable 'v' is not served: its stored value has no strict JSON encoding "
            '(NaN and Infinity are not JSON numbers)'
        ]
    finally:
        reopened.close()


def test_a_poisoned_variable_can_still_be_repaired_and_deleted(tmp_path: Path) -> None:
    # The history records the state before a write; a state without a strict encoding is recorded as
    # null rather than refusing the write that repairs the variable.
    path = tmp_path / 'db.sqlite3'
    store = SQLiteStore(path)
    Operations(store).create(_write_with(), actor='t')
    Operations(store).create(parse_write(variable_body('gone', 1)), actor='t')
    store.close()
    _poison(path, 'v')
    _poison(path, 'gone')
    store = SQLiteStore(path)
    ops = Operations(store)
    try:
        ops.replace(_write_with(json_schema={'maximum': 10}), actor='t')
        ops.delete('gone', actor='t')
        assert list(strict_loads(store.snapshot.body)['variables']) == ['v']
        newest_v, newest_gone = store.history('v')[0], store.history('gone')[0]
        assert (newest_v.action, newest_v.before) == ('replace', None)
        assert (newest_gone.action, newest_gone.before, newest_gone.after) == ('delete', None, None)
    finally:
        store.close()


def test_served_encoding_escapes_what_splitlines_breaks_at() -> None:
    # SSE clients that split lines like str.splitlines (httpx) must see one data: line per message.
    value = {'text': 'a\u2028b\u2029c\x85d\x1ce\u00e9\U0001f600', 'n': [1, 0.5, None, 10**20]}
    encoded = encode(value)
    text = b'"a\\u2028b\\u2029c\\u0085d\\u001ce\xc3\xa9\xf0\x9f\x98\x80"'
    assert encoded == b'{"text":' + text + b',"n":[1,0.5,null,100000000000000000000]}'
    assert len(encoded.decode().splitlines()) == 1
    assert strict_loads(encoded) == value
