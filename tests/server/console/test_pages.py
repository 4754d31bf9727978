"""The console's pages and edits over real HTTP, as a browser drives them: what each page shows, each edit's
review (the command line's words, destructive effects said) and confirmation, the history's actor, and what a
read key sees.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from remotevars.config import VariableConfig
from tests.server.console.consoleutil import ALICE, KEYS, Browser, Page, fresh_client
from tests.serverutil import RunningServer, running_server


def _variable(api: httpx.Client, name: str) -> VariableConfig:
    return VariableConfig.model_validate(api.get(f'/v1/variables/{name}/').json())


def _history(api: httpx.Client, name: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = api.get(f'/v1/variables/{name}/history/').json()
    return result


def test_the_list_shows_each_variable_and_searches_by_name(alice: Browser, name: str, api: httpx.Client) -> None:
    api.post('/v1/variables/', json={'name': 'zz_other_flag', 'rollout': {'labels': {}}, 'overrides': []})
    page = alice.get('/ui/')
    row = page.text(f'row-{name}')
    assert 'Settings of the support assistant.' in row
    assert 'AssistantSettings' in row  # the schema's title
    assert 'production version 1' in row and 'canary version 2' in row
    assert 'production=0.9, canary=0.1' in row and '+ 1 override(s)' in row
    assert 'row-zz_other_flag' in page.texts
    found = alice.get('/ui/', q=name.upper())
    assert f'row-{name}' in found.texts and 'row-zz_other_flag' not in found.texts
    assert 'No variable matches' in alice.get('/ui/rows', q='nothing-like-this').html


def test_the_variable_page_shows_labels_rollout_overrides_versions_and_history(
    alice: Browser, name: str, api: httpx.Client
) -> None:
    api.post(f'/v1/variables/{name}/versions/', json={'serialized_value': '{"model":"x","temperature":1}'})
    page = alice.get(f'/ui/variables/{name}/')
    assert '"model": "small"' in page.text('label-production') and 'version 1' in page.text('label-production')
    assert page.text('remainder') == '0'
    assert page.text('override-0').startswith('[0] when plan value-equals "enterprise": canary=1')
    versions = [v for v in page.texts if v.startswith('version-')]
    assert versions == ['version-3', 'version-2', 'version-1']  # newest first
    assert 'latest' in page.text('version-3') and 'canary' in page.text('version-2')
    entries = [e for e in page.texts if e.startswith('history-')]
    assert len(entries) == 2  # create, create-version: newest first
    assert 'create-version by write-key-1' in page.text(entries[0])
    assert "+ label 'production': version 1" in page.text(entries[1])
    # The shares of 10,000 synthetic keys: the rollout's weights, and the override's single label.
    shares = page.text('shares-rollout')
    assert 'production 0.9 89.' in shares or 'production 0.9 90.' in shares
    assert 'canary 1 100%' in page.text('shares-override-0')


@pytest.mark.parametrize(
    ('key', 'attributes'), [('user-1', ''), ('user-2', '{"plan": "free"}'), ('user-3', '{"plan": "enterprise"}')]
)
def test_who_gets_what_is_what_the_resolver_says(
    alice: Browser, name: str, api: httpx.Client, key: str, attributes: str
) -> None:
    config = _variable(api, name)
    value, label, version = config.resolve_value(key, json.loads(attributes or '{}'))
    answer = alice.get(f'/ui/variables/{name}/', key=key, attributes=attributes)
    assert f'gets label {label} , version {version}' in answer.text('who-answer')
    assert ('override [0] matched' in answer.text('who-answer')) == ('enterprise' in attributes)
    assert json.loads(answer.text('who-value')) == json.loads(value or 'null')
    bad = alice.get(f'/ui/variables/{name}/', key=key, attributes='[1]')
    assert 'expected a JSON object' in bad.html


def test_two_versions_compare_as_a_json_diff(alice: Browser, name: str) -> None:
    page = alice.get(f'/ui/variables/{name}/compare', a='1', b='2')
    diff = page.text('diff')
    assert '- "model": "small",' in diff and '+ "model": "large",' in diff
    assert alice.get(f'/ui/variables/{name}/compare', a='1', b='9').status == 404


def test_a_new_version_from_the_schema_form_shows_the_servers_message_next_to_the_field(
    alice: Browser, name: str, api: httpx.Client
) -> None:
    form = alice.get(f'/ui/variables/{name}/versions/new').form('versions/new')
    assert form.fields['$.model'] == 'large'  # filled with the latest version
    assert form.fields['$.temperature#kind'] == 'number'
    refused = alice.submit(form, button='action=save', **{'$.temperature': '5', '$.model': 'huge'})
    assert refused.status == 422
    assert refused.field_errors['$.temperature'] == ['5 is greater than the maximum of 2']
    assert refused.form('versions/new').fields['$.model'] == 'huge'  # what was typed is kept
    assert _variable(api, name).latest_version.version == 2  # type: ignore[union-attr]
    saved = alice.submit(
        refused.form('versions/new'), button='action=save', **{'$.temperature': '0.5', 'label': 'canary'}
    )
    assert saved.text('done') == 'Created the new version.'
    variable = _variable(api, name)
    assert variable.labels['canary'].version == 3
    assert json.loads(variable.labels['canary'].serialized_value) == {'model': 'huge', 'temperature': 0.5}  # type: ignore[union-attr]
    assert _history(api, name)[0]['actor'] == 'alice'


def test_the_raw_json_editor_is_the_fallback(alice: Browser, name: str, api: httpx.Client) -> None:
    form = alice.get(f'/ui/variables/{name}/versions/new').form('versions/new')
    raw = alice.submit(form, button='action=raw').form('versions/new')
    assert json.loads(raw.fields['raw']) == {'model': 'large', 'temperature': 0.7}
    broken = alice.submit(raw, button='action=save', raw='{"model": ')
    assert broken.status == 422 and 'not valid JSON' in broken.html
    refused = alice.submit(raw, button='action=save', raw='{"temperature": 1}')
    assert refused.status == 422
    assert refused.by_class['field-error'] == ['$: "model" is a required property']
    back = alice.submit(raw, button='action=form', raw='{"model": "m", "temperature": 1, "max_answer_words": 9}')
    assert back.form('versions/new').fields['$.max_answer_words'] == '9'
    assert _variable(api, name).latest_version.version == 2  # type: ignore[union-attr]


def _review(browser: Browser, path: str, **fields: str) -> Page:
    form = browser.get(path).form(path.partition('?')[0])
    return browser.submit(form, **fields)


def test_moving_a_label_is_reviewed_then_applied_as_the_signed_in_key(
    alice: Browser, name: str, api: httpx.Client
) -> None:
    review = _review(alice, f'/ui/variables/{name}/labels?label=production', target='version:2')
    assert review.status == 200
    assert review.by_class['changed'] == ["~ label 'production': version 1 -> version 2"]
    assert 'destructive' not in review.texts
    assert _variable(api, name).labels['production'].version == 1  # nothing changed yet
    done = alice.submit(review.form('labels'))
    assert done.text('done') == 'Moved the label.'
    assert _variable(api, name).labels['production'].version == 2
    entry = _history(api, name)[0]
    assert (entry['actor'], entry['action']) == ('alice', 'set-label')


def test_a_review_of_a_variable_that_changed_since_is_shown_again(alice: Browser, name: str, api: httpx.Client) -> None:
    review = _review(alice, f'/ui/variables/{name}/labels', label='production', target='version:2')
    api.put(f'/v1/variables/{name}/rollout/', json={'labels': {'production': 0.5, 'canary': 0.5}}).raise_for_status()
    again = alice.submit(review.form('labels'))
    assert 'changed since you reviewed' in again.text('note')
    assert _variable(api, name).labels['production'].version == 1
    assert alice.submit(again.form('labels')).text('done') == 'Moved the label.'


def test_a_destructive_rollout_says_so_and_needs_the_box_ticked(alice: Browser, name: str, api: httpx.Client) -> None:
    form = alice.get(f'/ui/variables/{name}/rollout').form('rollout')
    assert list(k for k in form.fields if k.startswith('w:')) == ['w:production', 'w:canary']
    review = alice.submit(form, **{'w:production': '0.5', 'w:canary': ''})
    assert review.by_class['changed'] == ['~ rollout: production=0.9, canary=0.1 -> production=0.5, code default=0.5']
    assert 'it sends 50% of the rollout to the code default (was 0%)' in review.text('destructive')
    unticked = alice.submit(review.form('rollout'))
    assert unticked.status == 422 and 'tick the box' in unticked.text('error')
    assert _variable(api, name).rollout.labels == {'production': 0.9, 'canary': 0.1}
    done = alice.submit(review.form('rollout'), allow_destructive='yes')
    assert done.text('done') == 'Changed the rollout.'
    assert _variable(api, name).rollout.labels == {'production': 0.5}


def test_a_rollout_the_api_refuses_comes_back_with_its_message(alice: Browser, name: str) -> None:
    form = alice.get(f'/ui/variables/{name}/rollout').form('rollout')
    over = alice.submit(form, **{'w:production': '0.9', 'w:canary': '0.3'})
    assert over.status == 422 and 'sum' in over.text('error').lower()
    not_a_number = alice.submit(form, **{'w:production': 'lots'})
    assert not_a_number.status == 422 and "'lots' is not a number" in not_a_number.html.replace('&#39;', "'")


def test_overrides_are_added_and_removed_with_a_review(alice: Browser, name: str, api: httpx.Client) -> None:
    form = alice.get(f'/ui/variables/{name}/overrides/new').form('overrides/new')
    more = alice.submit(form, button='action=more', **{'c0.attribute': 'country'})
    assert more.form('overrides/new').fields['conditions'] == '5'
    assert more.form('overrides/new').fields['c0.attribute'] == 'country'
    review = alice.submit(
        more.form('overrides/new'),
        **{'c0.kind': 'value-is-in', 'c0.operand': 'fr, de', 'c1.attribute': 'beta', 'c1.kind': 'key-is-present'},
        **{'w:canary': '1'},
    )
    assert review.by_class['added'] == [
        '+ override: when country value-is-in ["fr", "de"] and beta key-is-present: canary=1'
    ]
    alice.submit(review.form('overrides/new'))
    assert len(_variable(api, name).overrides) == 2
    page = alice.get(f'/ui/variables/{name}/')
    remove = alice.submit(page.form('overrides/0/remove'))
    assert remove.by_class['removed'] == ['- override: when plan value-equals "enterprise": canary=1']
    assert alice.submit(remove.form('overrides/0/remove')).text('done') == 'Removed the override.'
    assert [o.conditions[0].attribute for o in _variable(api, name).overrides] == ['country']
    bad = alice.submit(
        form, **{'c0.attribute': 'email', 'c0.kind': 'value-matches-regex', 'c0.operand': '(', 'w:canary': '1'}
    )
    assert bad.status == 422 and bad.by_class['field-error']


def test_a_rollback_from_the_history_restores_the_entry(alice: Browser, name: str, api: httpx.Client) -> None:
    api.put(f'/v1/variables/{name}/labels/production/', json={'version': 2}).raise_for_status()
    api.delete(f'/v1/variables/{name}/overrides/').raise_for_status()
    first = _history(api, name)[-1]['id']
    page = alice.get(f'/ui/variables/{name}/')
    assert f'rollback-{first}' in page.forms[-1].ids or any(f'rollback-{first}' in f.ids for f in page.forms)
    form = next(f for f in page.forms if f'rollback-{first}' in f.ids)
    review = alice.submit(form)
    assert f'Roll back to history entry #{first}' in review.html
    assert "~ label 'production': version 2 -> version 1" in review.by_class['changed']
    assert review.by_class['added'] == ['+ override: when plan value-equals "enterprise": canary=1']
    assert alice.submit(review.form('rollback')).text('done') == 'Rolled back.'
    variable = _variable(api, name)
    assert variable.labels['production'].version == 1 and len(variable.overrides) == 1
    assert _history(api, name)[0]['action'] == 'rollback'


def test_a_read_key_sees_the_same_pages_without_edit_controls(viewer: Browser, alice: Browser, name: str) -> None:
    for path in (f'/ui/variables/{name}/', '/ui/', f'/ui/variables/{name}/compare?a=1&b=2'):
        read, write = viewer.get(path), alice.get(path)
        assert read.status == write.status == 200
        assert [f.action for f in read.post_forms()] == ['/ui/sign-out']
        assert 'edit' not in read.by_class
        assert read.text('viewer-scope') == 'read only'
    page = viewer.get(f'/ui/variables/{name}/')
    assert page.text('label-production') == alice.get(f'/ui/variables/{name}/').text('label-production').removesuffix(
        ' Move'
    )
    for form in ('versions/new', 'labels', 'rollout', 'overrides/new'):
        assert viewer.get(f'/ui/variables/{name}/{form}').status == 403


def test_the_list_follows_the_update_stream(
    server: RunningServer, alice: Browser, api: httpx.Client, name: str
) -> None:
    received: list[dict[str, Any]] = []
    with fresh_client(server.url) as http:
        http.cookies.update(alice.http.cookies)
        with http.stream('GET', '/ui/updates') as stream:
            assert stream.status_code == 200

            def read() -> None:
                for line in stream.iter_lines():
                    if line.startswith('data: '):
                        received.append(json.loads(line.removeprefix('data: ')))
                        return

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            time.sleep(0.2)  # subscribed by then
            api.put(f'/v1/variables/{name}/labels/production/', json={'version': 2}).raise_for_status()
            reader.join(5)
    assert received == [{'names': [name]}]
    assert fresh_client(server.url).get('/ui/updates').status_code == 401


def test_anonymous_readers_see_the_console_when_the_server_allows_them(tmp_path: Path) -> None:
    with (
        running_server(tmp_path / 'db.sqlite3', keys=KEYS, allow_anonymous_read=True) as server,
        Browser(server.url) as anonymous,
    ):
        page = anonymous.get('/ui/')
        assert page.status == 200 and 'Reading without a key' in page.html
        assert page.post_forms() == []
        assert anonymous.get('/ui/rows').status == 200
        assert anonymous.sign_in(ALICE).status_code == 303


def test_the_console_is_off_with_ui_false(tmp_path: Path) -> None:
    from remotevars.server import create_app

    app = create_app(tmp_path / 'db.sqlite3', read_keys=['r'], ui=False)
    assert not [r for r in app.routes if getattr(r, 'path', '') in ('/ui', '/')]
    on = create_app(tmp_path / 'db2.sqlite3', read_keys=['r'])
    assert [getattr(r, 'path', '') for r in on.routes][-3:] == ['/', '/ui', '/ui']


def test_a_label_in_use_cannot_be_removed(alice: Browser, name: str, api: httpx.Client) -> None:
    refused = _review(alice, f'/ui/variables/{name}/labels', label='canary', target='remove')
    assert refused.status == 422
    assert "'canary' is used by the rollout, overrides[0]: change that first" in refused.html.replace('&#39;', "'")
    api.put(f'/v1/variables/{name}/labels/spare/', json={'version': 1}).raise_for_status()
    review = _review(alice, f'/ui/variables/{name}/labels', label='spare', target='remove')
    assert review.by_class['removed'] == ["- label 'spare': version 1"]
    assert alice.submit(review.form('labels')).text('done') == 'Removed the label.'
    assert 'spare' not in _variable(api, name).labels
