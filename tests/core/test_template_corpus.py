"""Composition and rendering give the Logfire SDK's results on a generated corpus (contract §7).

``tests/fixtures/template_corpus.json`` holds 240 generated cases (480 reads): configs, declared
variables and reads covering references, dotted references, ``#if``/``#each``/``#with``/``lookup``,
escapes, cycles, missing references and ``{{}}`` templates, each with the result the Logfire SDK 5.4.0
gave (recorded by ``tests/fixtures/make_template_corpus.py``). Values must be equal; reasons equal
after the documented split of the SDK's ``code_default`` (``no_provider`` / ``unrecognized_variable``).
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from pydantic import BaseModel

import remotevars
from tests.conftest import FIXTURES
from tests.fixtures.make_template_corpus import DECLARED_REFS, normalised_reason

CORPUS = json.loads((FIXTURES / 'template_corpus.json').read_text())['cases']
TYPES = {'str': str, 'dict': dict, 'bool': bool, 'list': list}


class Inputs(BaseModel):
    name: str = ''
    plan: str = ''
    vip: bool = False
    items: list[str] = []


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 200
    text = json.dumps(CORPUS)
    for construct in ('@{#if', '@{#each', '@{#with', '@{profile.name}@', '\\\\@{', '@{missing}@', '@{loop_a}@', '{{'):
        assert construct in text, construct


@pytest.mark.parametrize('case', CORPUS, ids=[case['id'] for case in CORPUS])
def test_same_result_as_the_reference(case: dict[str, Any]) -> None:
    client = remotevars.Client()
    try:
        config = remotevars.VariablesConfig.model_validate(case['config'])
        client.configure(remotevars.LocalVariablesOptions(config=config))
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            for name, default in case['declared'].items():
                client.var(name, type=TYPES[DECLARED_REFS[name][0]], default=default)
            if case['template']:
                root: Any = client.template_var('root', type=str, default=case['root_default'], inputs_type=Inputs)
            else:
                root = client.var('root', type=str, default=case['root_default'])
            got = []
            for read in case['reads']:
                inputs = Inputs(**read['inputs']) if case['template'] else None
                args = (inputs, read['key']) if case['template'] else (read['key'],)
                if case['override'] is not None:
                    with root.override(case['override']):
                        result = root.get(*args)
                else:
                    result = root.get(*args)
                got.append({'value': result.value, 'reason': normalised_reason(result.reason)})
        assert got == case['expected']
    finally:
        client.shutdown()
