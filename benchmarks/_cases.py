"""The measured read operations of cases a-d, built the same way for remotevars and the reference.

Both implementations expose ``var.get(targeting_key=..., attributes=...)`` returning a result with
``value``/``label``/``version``/``reason`` that is also a context manager, so one builder serves both
sides and the two time exactly the same Python-level work around the call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol

from _workload import N_KEYS, PROMPT_INPUTS, PROMPT_TEMPLATE, agent_override_hits, targeting_inputs
from pydantic import BaseModel

__all__ = ['CASES', 'CASE_TITLES', 'PromptInputs', 'Readable', 'TemplateReadable', 'build_operations', 'check_reads']

#: Case ids, in table order.
CASES: Final = ('a', 'b', 'c', 'c_repeat', 'c_cold', 'd', 't')
CASE_TITLES: Final = {
    'a': 'a. bool, not in config (code default) get()',
    'b': "b. bool, rollout {'production': 1.0} get()",
    'c': 'c. model, 50/50 + override, get(key, attrs)',
    'c_repeat': 'c-repeat. same key + attrs every call',
    'c_cold': 'c-cold. a new key every call',
    'd': 'd. c as `with get(...) as r`',
    't': 't. template: 1 KB prompt, 3 inputs, get(inputs)',
}
#: The key and attributes of the repeat-read case: a key that is bucketed (no override hit).
REPEAT_KEY: Final = 'user-1'
REPEAT_ATTRIBUTES: Final = {'plan': 'free', 'region': 'us'}


class Readable(Protocol):
    """A variable of either implementation."""

    def get(self, targeting_key: Any = None, attributes: Any = None) -> Any: ...


class TemplateReadable(Protocol):
    """A template variable of either implementation."""

    def get(self, inputs: Any, targeting_key: Any = None, attributes: Any = None) -> Any: ...


class PromptInputs(BaseModel):
    """The inputs of case t."""

    company: str
    user_name: str
    max_words: int


def build_operations(
    flag_default: Readable, flag: Readable, agent: Readable, prompt: TemplateReadable
) -> dict[str, Callable[[int], Any]]:
    """Return ``{case id: fn(i)}`` for the four variables of the workload."""
    inputs = targeting_inputs()
    prompt_inputs = PromptInputs(**PROMPT_INPUTS)
    get_prompt = prompt.get
    mask = N_KEYS - 1
    get_default, get_flag, get_agent = flag_default.get, flag.get, agent.get

    def case_a(i: int) -> Any:
        return get_default()

    def case_b(i: int) -> Any:
        return get_flag()

    def case_c(i: int) -> Any:
        key, attributes = inputs[i & mask]
        return get_agent(targeting_key=key, attributes=attributes).value

    def case_repeat(i: int) -> Any:
        return get_agent(targeting_key=REPEAT_KEY, attributes=REPEAT_ATTRIBUTES).value

    def case_cold(i: int) -> Any:
        # A key never seen before: nothing memoised for it can help.
        return get_agent(targeting_key=f'cold-{i}', attributes=inputs[i & mask][1]).value

    def case_d(i: int) -> Any:
        key, attributes = inputs[i & mask]
        with get_agent(targeting_key=key, attributes=attributes) as result:
            return result.value

    def case_t(i: int) -> Any:
        return get_prompt(prompt_inputs).value

    return {
        'a': case_a,
        'b': case_b,
        'c': case_c,
        'c_repeat': case_repeat,
        'c_cold': case_cold,
        'd': case_d,
        't': case_t,
    }


def check_reads(flag_default: Readable, flag: Readable, agent: Readable, prompt: TemplateReadable) -> dict[str, Any]:
    """Check that the workload resolves as intended; return the label picked for each input of case c.

    Raises AssertionError when a case does not take the path it is meant to measure.
    """
    a = flag_default.get()
    b = flag.get()
    assert a.value is False and a.label is None, a
    assert b.value is True and b.label == 'production' and b.version == 1, b
    labels: list[str | None] = []
    for key, attributes in targeting_inputs():
        result = agent.get(targeting_key=key, attributes=attributes)
        assert result.reason == 'resolved', result
        if agent_override_hits(attributes):
            assert result.label == 'b', result
        labels.append(result.label)
    rendered = prompt.get(PromptInputs(**PROMPT_INPUTS))
    expected = PROMPT_TEMPLATE
    for field, value in PROMPT_INPUTS.items():
        expected = expected.replace('{{' + field + '}}', str(value))
    assert rendered.reason == 'resolved' and rendered.value == expected, rendered
    return {'a_reason': a.reason, 'b': f'{b.reason}/{b.label}', 'c_labels': labels, 't': len(rendered.value)}
