"""The benchmark workload: configs, targeting inputs and the config generator, as plain data.

Mirrors the WORKLOAD of the reference SDK's benchmark (``shared/reference-bench/bench_logfire.py``)
so that remotevars and the reference are timed on identical inputs. Standard library only: the
reference driver imports this module under the reference SDK's interpreter too.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

__all__ = [
    'PROMPT_INPUTS',
    'PROMPT_TEMPLATE',
    'AGENT_A',
    'AGENT_B',
    'AGENT_DEFAULT',
    'N_KEYS',
    'agent_override_hits',
    'bench_config',
    'config_digest',
    'generated_config_json',
    'generated_variable',
    'targeting_inputs',
]

#: How many (targeting_key, attributes) pairs cases c and d cycle through (a power of two: i & mask).
N_KEYS: Final = 1024
_PLANS: Final = ('enterprise', 'free', 'free', 'pro')
_REGIONS: Final = ('eu', 'us', 'apac')

#: The 4-field model's value for label 'a', label 'b' and the code default.
AGENT_A: Final[dict[str, Any]] = {
    'model': 'gpt-4o',
    'temperature': 0.2,
    'max_tokens': 1024,
    'tools': ['search', 'calculator'],
}
AGENT_B: Final[dict[str, Any]] = {'model': 'claude-sonnet', 'temperature': 0.7, 'max_tokens': 2048, 'tools': ['search']}
AGENT_DEFAULT: Final[dict[str, Any]] = {'model': 'default-model', 'temperature': 0.0, 'max_tokens': 256, 'tools': []}


def targeting_inputs(n: int = N_KEYS) -> list[tuple[str, dict[str, str]]]:
    """Return ``n`` deterministic ``(targeting_key, attributes)`` pairs; every 4th has plan=enterprise."""
    pairs: list[tuple[str, dict[str, str]]] = []
    for i in range(n):
        pairs.append((f'user-{i}', {'plan': _PLANS[i % len(_PLANS)], 'region': _REGIONS[i % len(_REGIONS)]}))
    return pairs


def agent_override_hits(attributes: dict[str, str]) -> bool:
    """Return whether the agent_settings override (plan == 'enterprise') applies to ``attributes``."""
    return attributes.get('plan') == 'enterprise'


def _labeled(version: int, value: Any) -> dict[str, Any]:
    return {'version': version, 'serialized_value': json.dumps(value)}


def bench_config() -> dict[str, Any]:
    """Return the config (wire JSON shape) of cases a-d.

    ``feature_flag`` (case b): bool, rollout ``{'production': 1.0}``. ``agent_settings`` (cases c, d):
    the 4-field model, a 50/50 rollout of labels a/b and one ``value-equals`` override sending
    plan=enterprise to 100% b. Case a reads ``feature_flag_default``, which is deliberately absent.
    """
    flag = {
        'name': 'feature_flag',
        'labels': {'production': _labeled(1, True)},
        'rollout': {'labels': {'production': 1.0}},
        'overrides': [],
        'latest_version': _labeled(1, True),
    }
    agent = {
        'name': 'agent_settings',
        'labels': {'a': _labeled(1, AGENT_A), 'b': _labeled(2, AGENT_B)},
        'rollout': {'labels': {'a': 0.5, 'b': 0.5}},
        'overrides': [
            {
                'conditions': [{'kind': 'value-equals', 'attribute': 'plan', 'value': 'enterprise'}],
                'rollout': {'labels': {'b': 1.0}},
            }
        ],
        'latest_version': _labeled(2, AGENT_B),
    }
    prompt = {
        'name': 'support_prompt',
        'labels': {'production': _labeled(1, PROMPT_TEMPLATE)},
        'rollout': {'labels': {'production': 1.0}},
        'overrides': [],
        'latest_version': _labeled(1, PROMPT_TEMPLATE),
    }
    return {'variables': {'feature_flag': flag, 'agent_settings': agent, 'support_prompt': prompt}}


_PROMPT_PARAGRAPH = (
    'You are the support assistant of {{company}}. Answer the question from {{user_name}} politely, '
    'accurately and concisely, and keep the answer under {{max_words}} words. '
)
#: Case t: a template variable whose value is a 1 KB prompt using 3 inputs.
PROMPT_TEMPLATE: Final = (_PROMPT_PARAGRAPH * 8)[:1024]
PROMPT_INPUTS: Final = {'company': 'Acme', 'user_name': 'Bob', 'max_words': 120}


def generated_variable(i: int) -> dict[str, Any]:
    """Return variable number ``i`` of the case-e config: about 1 KB of realistic JSON."""
    first = {'enabled': True, 'limit': i, 'mode': 'fast', 'tags': ['x', 'y']}
    second = {'enabled': False, 'limit': i + 1, 'mode': 'safe', 'tags': ['x']}
    schema = {
        'type': 'object',
        'properties': {
            'enabled': {'type': 'boolean'},
            'limit': {'type': 'integer'},
            'mode': {'type': 'string'},
            'tags': {'type': 'array', 'items': {'type': 'string'}},
        },
        'required': ['enabled', 'limit', 'mode', 'tags'],
    }
    return {
        'name': f'var_{i:05d}',
        'description': f'Generated variable number {i}',
        'labels': {'production': _labeled(1, first), 'staging': _labeled(2, second), 'canary': {'ref': 'latest'}},
        'rollout': {'labels': {'production': 0.9, 'staging': 0.1}},
        'overrides': [
            {
                'conditions': [{'kind': 'value-equals', 'attribute': 'plan', 'value': 'enterprise'}],
                'rollout': {'labels': {'staging': 1.0}},
            }
        ],
        'latest_version': _labeled(2, second),
        'json_schema': schema,
        'example': json.dumps(first),
    }


def generated_config_json(n: int) -> str:
    """Return the JSON text of a config of ``n`` generated variables (about 1.07 KB each)."""
    return json.dumps({'variables': {f'var_{i:05d}': generated_variable(i) for i in range(n)}})


def config_digest(text: str) -> str:
    """Return a short digest of a config text, so both sides can check they parse the same bytes."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
