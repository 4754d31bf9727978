"""Fuzzing every endpoint with generated bodies (hypothesis): never a 500, and reads stay strict JSON.

Bodies range from raw bytes to near-valid variables whose every field may be wrong: non-finite and
huge numbers, unpaired surrogates and control characters, hostile regex patterns, deep nesting,
wrong types; the edit endpoints get generated label names (in paths too), targets, rollouts,
overrides, history ids and preconditions. After each request the served configuration must still
parse with strict parsers. The number of examples bounds the run (~25 s on the 2-core test machine).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.attackutil import assert_served_strict, strict_loads
from tests.serverutil import RunningServer, api_client, running_server

EXAMPLES = 400  # per test (seven tests): ~25 s in all on the 2-core test machine

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis directory; failures print their reproduction
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ANY_CHAR = st.characters(codec=None, exclude_categories=())  # surrogates and control characters included
TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=30), st.sampled_from(['', 'a', 'prod', 'latest', 'code_default', 'x' * 200])
)
VALID_NAMES = st.from_regex(r'[a-zA-Z_][a-zA-Z0-9_]{0,12}', fullmatch=True)
NAMES = st.one_of(VALID_NAMES, VALID_NAMES, VALID_NAMES, TEXT)  # mostly valid, to get past the name check
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, 1, 0.5, -0.0, 1e308, 1e-320]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=20,
)
PATTERNS = st.one_of(
    st.text(st.sampled_from('()[]{}*+?|^$\\.,:-=<>!aZ09dws'), max_size=40),
    st.sampled_from(
        [
            'a{4294967295}',
            'a{4294967294}',
            '((a{1000}){1000}){1000}',
            '(' * 600 + ')' * 600,
            '^(a+)+$',
            '(?i)[\x00-\uffff]',
            '\\p{L}',
            '(?P<n>a)(?P=n)',
            'a' * 1001,
        ]
    ),
    TEXT,
)


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


DEEP = st.integers(min_value=60, max_value=900).map(_deep)
VALUES = st.one_of(JSON, JSON, JSON, DEEP)
SERIALIZED = st.one_of(VALUES.map(lambda v: json.dumps(v, allow_nan=True)), TEXT)

CONDITIONS = st.one_of(
    st.fixed_dictionaries(
        {
            'kind': st.sampled_from(['value-matches-regex', 'value-does-not-match-regex']),
            'attribute': TEXT,
            'pattern': PATTERNS,
        }
    ),
    st.fixed_dictionaries(
        {'kind': st.sampled_from(['value-equals', 'value-does-not-equal']), 'attribute': TEXT, 'value': VALUES}
    ),
    st.fixed_dictionaries(
        {'kind': st.sampled_from(['value-is-in', 'value-is-not-in']), 'attribute': TEXT, 'values': VALUES}
    ),
    st.fixed_dictionaries(
        {'kind': st.sampled_from(['key-is-present', 'key-is-not-present', 'nope']), 'attribute': TEXT}
    ),
    JSON,
)
TARGETS = st.one_of(
    st.fixed_dictionaries(
        {'target_type': st.just('version'), 'serialized_value': SERIALIZED},
        optional={'version': st.one_of(st.none(), st.integers(-2, 5), NUMBERS)},
    ),
    st.fixed_dictionaries({'target_type': st.sampled_from(['latest', 'code_default', 'label', 'other'])}),
    st.fixed_dictionaries({'target_type': st.just('label'), 'target_label': NAMES}),
    JSON,
)
LABEL_NAMES = st.one_of(st.sampled_from(['prod', 'canary', 'latest']), TEXT)
ROLLOUTS = st.one_of(st.fixed_dictionaries({'labels': st.dictionaries(LABEL_NAMES, NUMBERS, max_size=3)}), JSON)
VARIABLES = st.fixed_dictionaries(
    {'name': NAMES},
    optional={
        'description': st.one_of(st.none(), TEXT),
        'labels': st.dictionaries(LABEL_NAMES, TARGETS, max_size=4),
        'rollout': ROLLOUTS,
        'overrides': st.lists(
            st.one_of(
                st.fixed_dictionaries({'conditions': st.lists(CONDITIONS, max_size=3), 'rollout': ROLLOUTS}), JSON
            ),
            max_size=3,
        ),
        'json_schema': st.one_of(st.none(), VALUES),
        'type_name': st.one_of(st.none(), TEXT),
        'aliases': st.one_of(st.none(), st.lists(NAMES, max_size=2)),
        'example': st.one_of(st.none(), TEXT),
        'template_inputs_schema': st.one_of(st.none(), VALUES),
    },
)


def _encode(body: Any) -> bytes:
    # ensure_ascii escapes unpaired surrogates (\udXXX), which is how a hostile client sends them.
    return json.dumps(body, allow_nan=True).encode()


RAW = st.one_of(
    st.binary(max_size=200),
    VARIABLES.map(_encode).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),  # cut short
    st.sampled_from([b'', b'null', b'[]', b'{}', b'NaN', b'{"name": "a", "rollout": Infinity}', b'[' * 3000]),
)
BODIES = st.one_of(VARIABLES.map(_encode), VALUES.map(_encode), RAW)

#: The variable the edit fuzzing works on (created again when a fuzzed request has deleted it).
EDITED = 'edited'
EDITED_BODY = {
    'name': EDITED,
    'labels': {
        'prod': {'target_type': 'version', 'serialized_value': '1'},
        'canary': {'target_type': 'version', 'serialized_value': '2'},
    },
    'rollout': {'labels': {'prod': 0.5}},
    'overrides': [],
}


def _quote(text: str) -> str:
    return quote(text.encode('utf-8', 'surrogatepass'), safe='')


LABEL_TARGETS = st.one_of(
    st.fixed_dictionaries({'version': st.integers(1, 4)}),  # valid ones too, so edits also succeed
    st.fixed_dictionaries({'ref': st.sampled_from(['latest', 'code_default', 'prod', 'canary'])}),
    st.fixed_dictionaries(
        {}, optional={'version': st.one_of(st.integers(-2, 5), NUMBERS, TEXT), 'ref': st.one_of(LABEL_NAMES, JSON)}
    ),
    JSON,
)
OVERRIDES = st.one_of(
    st.fixed_dictionaries({'conditions': st.lists(CONDITIONS, max_size=3), 'rollout': ROLLOUTS}), JSON
)
VERSION_EDITS = st.fixed_dictionaries(
    {'serialized_value': SERIALIZED}, optional={'labels': st.one_of(st.lists(LABEL_NAMES, max_size=3), JSON)}
)
NO_BODY = st.just(b'')
#: (method, path under /v1/variables/edited/, body) of every edit endpoint, and the history.
EDITS = st.one_of(
    st.tuples(st.just('POST'), st.just('versions/'), VERSION_EDITS.map(_encode)),
    st.tuples(st.just('PUT'), LABEL_NAMES.map(lambda label: f'labels/{_quote(label)}/'), LABEL_TARGETS.map(_encode)),
    st.tuples(st.just('DELETE'), LABEL_NAMES.map(lambda label: f'labels/{_quote(label)}/'), NO_BODY),
    st.tuples(st.just('PUT'), st.just('rollout/'), ROLLOUTS.map(_encode)),
    st.tuples(st.just('POST'), st.just('overrides/'), OVERRIDES.map(_encode)),
    st.tuples(st.just('DELETE'), st.integers(min_value=0, max_value=10**30).map(lambda i: f'overrides/{i}/'), NO_BODY),
    st.tuples(st.just('DELETE'), st.just('overrides/'), NO_BODY),
    st.tuples(
        st.just('POST'),
        st.just('rollback/'),
        st.fixed_dictionaries({'to': st.one_of(st.integers(1, 60), NUMBERS, TEXT)}).map(_encode),
    ),
    st.tuples(
        st.just('GET'), st.one_of(st.just('history/'), TEXT.map(lambda t: f'history/?limit={_quote(t)}')), NO_BODY
    ),
)
PRECONDITIONS = st.sampled_from([None, '*', '"0-1"', 'W/"x"', 'garbage', '"a", "b"'])


@pytest.fixture(scope='module')
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for all the fuzzing, holding a variable 'a' the path-based endpoints can hit."""
    with running_server(tmp_path_factory.mktemp('fuzz') / 'db.sqlite3') as running:
        with api_client(running.url, running.write_key) as client:
            body = {'name': 'a', 'labels': {}, 'rollout': {'labels': {}}, 'overrides': []}
            client.post('/v1/variables/', json=body).raise_for_status()
            client.post('/v1/variables/', json=EDITED_BODY).raise_for_status()
        yield running
        assert_served_strict(running.url, running.read_key)  # every variable and the types, at the end


@pytest.fixture(scope='module')
def writer(server: RunningServer) -> Iterator[httpx.Client]:
    """A write client, kept for the whole module (it reads too)."""
    with api_client(server.url, server.write_key) as client:
        yield client


def _check(client: httpx.Client, response: httpx.Response) -> None:
    assert response.status_code < 500, (response.request.method, response.request.url, response.text)
    served = client.get('/v1/variables/')
    assert served.status_code == 200
    strict_loads(served.content)


@FUZZ
@given(body=BODIES)
def test_create(writer: httpx.Client, body: bytes) -> None:
    _check(writer, writer.post('/v1/variables/', content=body))


@FUZZ
@given(body=BODIES)
def test_replace(writer: httpx.Client, body: bytes) -> None:
    _check(writer, writer.put('/v1/variables/a/', content=body))


@FUZZ
@given(upserts=st.lists(VARIABLES, max_size=3), deletes=st.lists(NAMES, max_size=2), body=BODIES)
def test_bulk(writer: httpx.Client, upserts: list[Any], deletes: list[str], body: bytes) -> None:
    _check(writer, writer.post('/v1/variables/bulk/', content=_encode(upserts)))
    _check(writer, writer.post('/v1/variables/bulk/', content=_encode({'upsert': upserts, 'delete': deletes})))
    _check(writer, writer.post('/v1/variables/bulk/', content=body))


@FUZZ
@given(value=st.one_of(SERIALIZED, JSON), raw=RAW)
def test_create_version(writer: httpx.Client, value: Any, raw: bytes) -> None:
    _check(writer, writer.post('/v1/variables/a/versions/', content=_encode({'serialized_value': value})))
    _check(writer, writer.post('/v1/variables/a/versions/', content=raw))


@FUZZ
@given(
    body=st.one_of(
        st.fixed_dictionaries(
            {'name': TEXT, 'json_schema': VALUES}, optional={'description': VALUES, 'source_hint': VALUES}
        ).map(_encode),
        BODIES,
    )
)
def test_upsert_type(writer: httpx.Client, body: bytes) -> None:
    _check(writer, writer.post('/v1/variable-types/', content=body))


@FUZZ
@given(name=NAMES, method=st.sampled_from(['GET', 'PUT', 'DELETE']), body=BODIES)
def test_paths(writer: httpx.Client, name: str, method: str, body: bytes) -> None:
    path = '/v1/variables/' + quote(name.encode('utf-8', 'surrogatepass'), safe='') + '/'
    _check(writer, writer.request(method, path, content=body if method == 'PUT' else None))
    _check(writer, writer.get(path + 'versions/'))


@FUZZ
@given(edit=EDITS, raw=BODIES, if_match=PRECONDITIONS)
def test_edits(writer: httpx.Client, edit: tuple[str, str, bytes], raw: bytes, if_match: str | None) -> None:
    if writer.get(f'/v1/variables/{EDITED}/').status_code == 404:  # a fuzzed delete or rollback removed it
        writer.post('/v1/variables/', json=EDITED_BODY).raise_for_status()
    method, path, body = edit
    url = f'/v1/variables/{EDITED}/{path}'
    headers = {} if if_match is None else {'If-Match': if_match}
    _check(writer, writer.request(method, url, content=body or None, headers=headers))
    if body:
        _check(writer, writer.request(method, url, content=raw, headers=headers))
