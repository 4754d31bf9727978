"""Reference side of ``bench_get.py``: times the Logfire SDK's managed variables on the same workload.

Run with an interpreter that has the pinned reference SDK installed (see
``benchmarks/reference-requirements.txt``); ``bench_get.py`` starts it and drives it. Two modes:

* ``_reference_driver.py serve``: answers one JSON command per stdin line with one JSON line on
  stdout, so ``bench_get.py`` can interleave reference rounds with its own (the driver is idle,
  blocked on stdin, while remotevars is measured, and the other way round). Commands:
  ``setup`` (build the cases and warm them up), ``round`` (time one slice of a case for every
  variant), ``summary``, ``parse`` (time one config parse), ``quit``.
* ``_reference_driver.py memory N MODE``: in a fresh interpreter, print the memory held by a parsed
  config of N generated variables (MODE ``rss`` or ``tracemalloc``).

Variants, as in the reference benchmark: ``default`` (SDK defaults: one span per read, resource
attributes and baggage merged into the attributes), ``no_span`` (``instrument=False``) and ``lean``
(also without resource attributes and baggage).
"""

from __future__ import annotations

import gc
import json
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final, TextIO

from _cases import PromptInputs, build_operations, check_reads
from _timing import Series, held_memory, time_once, timer_overhead_ns
from _workload import AGENT_DEFAULT, bench_config, config_digest, generated_config_json

VARIANT_OPTIONS: Final[dict[str, dict[str, Any]]] = {
    'default': {},
    'no_span': {'instrument': False},
    'lean': {'instrument': False, 'include_resource_attributes_in_context': False, 'include_baggage_in_context': False},
}


def _versions() -> dict[str, str]:
    found = {'python': platform.python_version()}
    for package in ('logfire', 'pydantic', 'pydantic-core', 'opentelemetry-sdk'):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = 'n/a'
    return found


class _Variant:
    """One configured logfire instance and the three variables of the workload."""

    def __init__(self, name: str) -> None:
        import logfire
        from logfire.variables import LocalVariablesOptions, VariablesConfig
        from pydantic import BaseModel

        class AgentSettings(BaseModel):
            model: str
            temperature: float
            max_tokens: int
            tools: list[str]

        options = LocalVariablesOptions(config=VariablesConfig.model_validate(bench_config()), **VARIANT_OPTIONS[name])
        settings: dict[str, Any] = {
            'send_to_logfire': False,
            'console': False,
            'service_name': 'remotevars-bench',
            'variables': options,
        }
        # 'default' is what an application does (the global instance); the others are local instances.
        instance = logfire.configure(**settings) if name == 'default' else logfire.configure(local=True, **settings)
        self.flag_default = instance.var('feature_flag_default', default=False)
        self.flag = instance.var('feature_flag', default=False)
        self.agent = instance.var('agent_settings', type=AgentSettings, default=AgentSettings(**AGENT_DEFAULT))
        self.prompt = instance.template_var('support_prompt', type=str, default='', inputs_type=PromptInputs)
        self.operations = build_operations(self.flag_default, self.flag, self.agent, self.prompt)


class _Server:
    """Holds the variants and series between commands."""

    def __init__(self) -> None:
        self.variants: dict[str, _Variant] = {}
        self.series: dict[str, dict[str, Series]] = {}
        self.texts: dict[int, str] = {}

    def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        kind = command['cmd']
        if kind == 'hello':
            for name in command['variants']:
                self.variants[name] = _Variant(name)
            first = self.variants[command['variants'][0]]
            checked = check_reads(first.flag_default, first.flag, first.agent, first.prompt)
            return {'versions': _versions(), 'timer_overhead_ns': timer_overhead_ns(), 'sanity': checked}
        if kind == 'setup':
            for case in command['cases']:
                self.series[case] = {
                    name: Series(variant.operations[case], command['batch']) for name, variant in self.variants.items()
                }
            for per_variant in self.series.values():
                for series in per_variant.values():
                    series.warm_up(command['warmup_s'])
            gc.collect()
            return {}
        if kind == 'round':
            per_variant = self.series[command['case']]
            names = list(per_variant) if command['order'] % 2 == 0 else list(per_variant)[::-1]
            medians = {
                name: per_variant[name].run_round(command['seconds'], command['min_batches'], command['max_calls'])
                for name in names
            }
            return {'round_medians_ns': medians}
        if kind == 'summary':
            return {
                case: {name: series.summary() for name, series in per_variant.items()}
                for case, per_variant in self.series.items()
            }
        if kind == 'parse':
            return self._parse(command['n'], command['method'])
        raise ValueError(f'unknown command {kind!r}')

    def _parse(self, n: int, method: str) -> dict[str, Any]:
        from logfire.variables import VariablesConfig

        text = self.texts.get(n)
        if text is None:
            VariablesConfig.model_validate_json(generated_config_json(2))  # build pydantic's validators first
            text = self.texts[n] = generated_config_json(n)
        if method == 'model_validate_json':
            elapsed = time_once(lambda: VariablesConfig.model_validate_json(text))
        elif method == 'model_validate_json_gc_off':
            elapsed = time_once(lambda: VariablesConfig.model_validate_json(text), gc_off=True)
        elif method == 'loads_model_validate':
            elapsed = time_once(lambda: VariablesConfig.model_validate(json.loads(text)))
        else:
            raise ValueError(f'unknown parse method {method!r}')
        return {'ns': elapsed, 'json_bytes': len(text.encode()), 'digest': config_digest(text)}


def _serve(replies: TextIO) -> None:
    server = _Server()
    for line in sys.stdin:
        command = json.loads(line)
        if command['cmd'] == 'quit':
            break
        try:
            reply: dict[str, Any] = {'ok': True, 'result': server.handle(command)}
        except Exception as exc:  # report to the driving process rather than dying mid-protocol
            reply = {'ok': False, 'error': f'{type(exc).__name__}: {exc}'}
        replies.write(json.dumps(reply) + '\n')
        replies.flush()
    import logfire

    logfire.shutdown()


def _memory(n: int, mode: str) -> None:
    from logfire.variables import VariablesConfig

    VariablesConfig.model_validate_json(generated_config_json(2))  # not counted: validator building
    text = generated_config_json(n)
    config, measured = held_memory(lambda: VariablesConfig.model_validate_json(text), mode)
    print(json.dumps({**measured, 'variables': len(config.variables)}))


def main(argv: list[str]) -> None:
    """Run the mode named by ``argv`` (see the module docstring)."""
    if argv[:1] == ['memory']:
        _memory(int(argv[1]), argv[2])
        return
    if argv[:1] != ['serve']:
        raise SystemExit(f'usage: {sys.argv[0]} serve | memory N rss|tracemalloc')
    # The protocol owns the real stdout; anything the SDK prints goes to stderr instead.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), 'w')
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _serve(replies)


if __name__ == '__main__':
    main(sys.argv[1:])
