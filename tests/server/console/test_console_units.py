"""The console's pure parts: sessions, the sign-in limiter, version diffs, who gets what and the synthetic shares."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from remotevars import ConfigurationError
from remotevars.config import VariableConfig
from remotevars.server import ApiKey, Limits
from remotevars.server._auth import Keys, digest
from remotevars.server.console._audience import SYNTHETIC_KEYS, parse_attributes, rollout_shares, who_gets
from remotevars.server.console._changes import FormErrors, conditions_of
from remotevars.server.console._json_diff import json_diff
from remotevars.server.console._rate_limit import SignInLimiter
from remotevars.server.console._session import Sessions

ALICE = ApiKey('alice', 'write', digest('alice-secret-0123456789'))
BOB = ApiKey('bob', 'read', digest('bob-secret-0123456789'))


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_session_names_its_key_and_is_refused_once_tampered_expired_or_revoked() -> None:
    clock = Clock()
    sessions = Sessions(Keys([ALICE, BOB], allow_anonymous_read=False), 'a-secret-of-some-length', clock=clock)
    session, cookie = sessions.issue(ALICE)
    assert sessions.read(cookie) == session
    assert (session.name, session.can_edit) == ('alice', True)
    assert sessions.read(cookie[:-2] + ('AA' if not cookie.endswith('AA') else 'BB')) is None
    assert sessions.read('') is None and sessions.read('not.a.cookie') is None
    clock.now += 12 * 3600 - 1
    assert sessions.read(cookie) == session
    clock.now += 2
    assert sessions.read(cookie) is None  # expired
    clock.now -= 10
    sessions.revoke(session)
    assert sessions.read(cookie) is None
    assert sessions.read(sessions.issue(BOB)[1]).can_edit is False  # type: ignore[union-attr]


def test_a_session_ends_when_its_key_is_removed_or_its_secret_changes() -> None:
    _, cookie = Sessions(Keys([ALICE], allow_anonymous_read=False), 'a-secret-of-some-length').issue(ALICE)
    rotated = ApiKey('alice', 'write', digest('a-new-secret-0123456789'))
    assert Sessions(Keys([rotated], allow_anonymous_read=False), 'a-secret-of-some-length').read(cookie) is None
    assert Sessions(Keys([BOB], allow_anonymous_read=False), 'a-secret-of-some-length').read(cookie) is None
    assert Sessions(Keys([ALICE], allow_anonymous_read=False), 'another-secret-of-length').read(cookie) is None
    assert Sessions(Keys([ALICE], allow_anonymous_read=False), 'a-secret-of-some-length').read(cookie) is not None


def test_the_session_secret_must_be_long_enough() -> None:
    with pytest.raises(ConfigurationError, match='at least 16 characters'):
        Sessions(Keys([], allow_anonymous_read=False), 'short')


def test_sign_in_tokens_match_only_their_cookie() -> None:
    sessions = Sessions(Keys([], allow_anonymous_read=False))
    token, cookie = sessions.sign_in_token()
    other_token, other_cookie = sessions.sign_in_token()
    assert sessions.check_sign_in(cookie, token)
    assert not sessions.check_sign_in(cookie, other_token)
    assert not sessions.check_sign_in(other_cookie, token)
    assert not sessions.check_sign_in(None, token) and not sessions.check_sign_in(cookie, None)


def test_the_limiter_counts_wrong_keys_per_client_within_the_window() -> None:
    clock = Clock(100.0)
    limiter = SignInLimiter(attempts=3, window=60.0, max_clients=2, clock=clock)
    for _ in range(3):
        assert limiter.retry_after('a') == 0
        limiter.failed('a')
    assert limiter.retry_after('a') == 60.0
    assert limiter.retry_after('b') == 0
    clock.now += 30
    assert limiter.retry_after('a') == 30.0
    clock.now += 30.5
    assert limiter.retry_after('a') == 0  # the failures left the window
    limiter.failed('a')
    limiter.succeeded('a')
    assert limiter.retry_after('a') == 0
    for client in ('c', 'd', 'e'):
        limiter.failed(client)
    assert len(limiter._failures) == 2  # bounded: the oldest client forgotten


def test_a_json_diff_shows_the_lines_that_change() -> None:
    before = json.dumps({'model': 'small', 'temperature': 0.2, 'tags': ['a']})
    after = json.dumps({'model': 'large', 'temperature': 0.2, 'tags': ['a', 'b']})
    lines = [(line.kind, line.text) for line in json_diff(before, after)]
    assert ('removed', '  "model": "small",') in lines and ('added', '  "model": "large",') in lines
    assert ('added', '    "b"') in lines
    assert json_diff(before, before) == []
    assert json_diff('1', '1.0') != []  # not the same JSON value to a client
    prompt = [(line.kind, line.text) for line in json_diff(json.dumps('Hi\nbye'), json.dumps('Hi\nsee you'))]
    assert prompt == [('same', 'Hi'), ('removed', 'bye'), ('added', 'see you')]  # strings: by their lines


VARIABLE = VariableConfig.model_validate(
    {
        'name': 'layout',
        'labels': {
            'stable': {'version': 1, 'serialized_value': '"classic"'},
            'canary': {'version': 2, 'serialized_value': '"cards"'},
            'off': {'ref': 'code_default'},
        },
        'rollout': {'labels': {'stable': 0.6, 'canary': 0.3}},
        'overrides': [
            {
                'conditions': [{'kind': 'value-equals', 'attribute': 'plan', 'value': 'pro'}],
                'rollout': {'labels': {'canary': 1.0}},
            },
        ],
    }
)


@pytest.mark.parametrize('attributes', [{}, {'plan': 'pro'}, {'plan': 'free'}])
def test_who_gets_what_is_the_clients_resolution(attributes: dict[str, str]) -> None:
    for i in range(200):
        key = f'k{i}'
        answer = who_gets(VARIABLE, key, attributes)
        assert (answer.serialized_value, answer.label, answer.version) == VARIABLE.resolve_value(key, attributes)
        assert answer.override == (0 if attributes.get('plan') == 'pro' else None)


def test_the_shares_are_the_resolvers_labels_for_the_synthetic_keys() -> None:
    base, override = rollout_shares(VARIABLE)
    counts = Counter(VARIABLE.resolve_label(f'user-{i}') for i in range(SYNTHETIC_KEYS))
    assert {s.label: s.count for s in base.shares} == dict(counts)
    assert sum(s.count for s in base.shares) == SYNTHETIC_KEYS
    assert [(s.label, round(s.weight, 9)) for s in base.shares] == [('stable', 0.6), ('canary', 0.3), (None, 0.1)]
    assert all(abs(s.fraction - s.weight) < 0.02 for s in base.shares)
    assert [(s.label, s.count) for s in override.shares] == [('canary', SYNTHETIC_KEYS)]


def test_attributes_are_a_json_object() -> None:
    assert parse_attributes('') == {}
    assert parse_attributes('{"plan": "pro", "seats": 3}') == {'plan': 'pro', 'seats': 3}
    for text, message in (('[1]', 'expected a JSON object'), ('{"a": NaN}', 'not valid JSON'), ('{', 'not valid JSON')):
        with pytest.raises(ValueError, match=message):
            parse_attributes(text)


def test_json_typed_in_the_console_is_held_to_the_strict_json_of_api_bodies() -> None:
    # What json.loads lets through and no strict parser (nor the server) accepts: refused where it is typed.
    for text in ('{"a": 1e400}', '{"a": "\\ud800"}', '{"a": Infinity}'):
        with pytest.raises(ValueError, match='not valid JSON'):
            parse_attributes(text)
    form = {'conditions': '1', 'c0.attribute': 'plan', 'c0.kind': 'value-equals', 'c0.operand': '1e400', 'c0.json': '1'}
    with pytest.raises(FormErrors) as refused:
        conditions_of(form)
    assert refused.value.errors['c0.operand'].startswith('not valid JSON (')
    assert conditions_of(form | {'c0.operand': '[[1]]'}, Limits(max_json_depth=2))[0]['value'] == [[1]]
    with pytest.raises(FormErrors, match='nests deeper than 1 levels'):
        conditions_of(form | {'c0.operand': '[[1]]'}, Limits(max_json_depth=1))
