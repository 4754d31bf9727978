#!/usr/bin/env python
"""Speed benchmark of issue 2: ``Variable.get()`` and config parsing, remotevars vs the reference SDK.

Usage (from the repository root, with the project venv; no Makefile needed)::

    .venv/bin/python benchmarks/bench_get.py                       # everything (~2 min on 2 cores)
    .venv/bin/python benchmarks/bench_get.py --quick               # smaller budgets (~1.5 min)
    .venv/bin/python benchmarks/bench_get.py --only a,b,c          # a subset: a b c c_repeat c_cold d e
    .venv/bin/python benchmarks/bench_get.py --reference-python /path/to/python --json results.json
    .venv/bin/python benchmarks/bench_get.py --profile c           # cProfile remotevars on one case

The reference (Pydantic Logfire's managed variables, pinned in ``benchmarks/reference-requirements.txt``)
runs in its own interpreter, ``--reference-python`` (default ``.refvenv/bin/python`` when it exists;
see ``benchmarks/README.md`` to create it), driven by ``benchmarks/_reference_driver.py``. Without it
only remotevars is measured and the ratio targets read ``n/a``.

What is measured (the workload of the reference SDK's own benchmark, ``benchmarks/_workload.py``):

* a. a bool variable absent from the config (code default); b. a bool with rollout
  ``{'production': 1.0}``; c. a 4-field model with a 50/50 rollout and one override, read with 1,024
  cycling (key, attributes) pairs; c_repeat. the same key and attributes on every call; c_cold. a new
  key on every call (nothing memoised for it); d. c as a context manager.
* e. parsing configs of 1,000 and 10,000 generated variables (~1 KB each): remotevars builds the
  snapshot its providers hold (``build_snapshot`` on the JSON bytes); the reference runs
  ``VariablesConfig.model_validate_json`` (its local-file path). The memory held by the result is
  measured in fresh interpreters (RSS growth and tracemalloc). remotevars' pydantic models
  (``VariablesConfig.model_validate_json``, used only by push/pull) and a ``Client`` on a local file
  are shown for information.

Timing method, as the reference benchmark: each call is timed alone with ``perf_counter_ns`` inside
batches; medians of single calls. To fight the noise of a shared machine the two implementations are
interleaved: ``--rounds`` rounds, and in every round each case runs once on each side (order
alternating), the idle side blocked on a pipe. Ratios are reference median / remotevars median over
the same rounds; the per-round ratio range shows their spread. GC stays enabled.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import math
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any, Final

from _cases import CASE_TITLES, CASES, PromptInputs, build_operations, check_reads
from _timing import Series, held_memory, time_once, timer_overhead_ns
from _workload import AGENT_DEFAULT, bench_config, config_digest, generated_config_json
from pydantic import BaseModel

import remotevars as rv
from remotevars._snapshot import build_snapshot

HERE: Final = Path(__file__).resolve().parent
ROOT: Final = HERE.parent
DRIVER: Final = HERE / '_reference_driver.py'
SIZES: Final = (1_000, 10_000)

#: Absolute ceilings (ns per get(), median) and minimum speed-ups over the reference's lean variant.
CEILING_NS: Final = {'a': 1_500.0, 'b': 1_500.0, 'c_repeat': 2_000.0}
MIN_SPEEDUP: Final = {'a': 40.0, 'b': 40.0, 'c': 6.0, 't': 5.0}
MIN_PARSE_SPEEDUP: Final = 5.0
MIN_MEMORY_RATIO: Final = 3.0
TARGET_SIZE: Final = 10_000


class AgentSettings(BaseModel):
    """The 4-field model of cases c and d."""

    model: str
    temperature: float
    max_tokens: int
    tools: list[str]


# ---------------------------------------------------------------------------------------------------
# The two sides
# ---------------------------------------------------------------------------------------------------


class Remotevars:
    """remotevars configured with the workload's config, in this process."""

    def __init__(self) -> None:
        self.client = rv.Client()
        self.client.configure(rv.LocalVariablesOptions(config=rv.VariablesConfig.model_validate(bench_config())))
        self.flag_default = self.client.var('feature_flag_default', default=False)
        self.flag = self.client.var('feature_flag', default=False)
        self.agent = self.client.var('agent_settings', type=AgentSettings, default=AgentSettings(**AGENT_DEFAULT))
        self.prompt = self.client.template_var('support_prompt', type=str, default='', inputs_type=PromptInputs)
        self.operations = build_operations(self.flag_default, self.flag, self.agent, self.prompt)

    def check(self) -> dict[str, Any]:
        """Return the sanity check of the workload (raises AssertionError when a case is off-path)."""
        return check_reads(self.flag_default, self.flag, self.agent, self.prompt)


class Reference:
    """The reference SDK in its own interpreter, driven over a pipe (see ``_reference_driver.py``)."""

    def __init__(self, python: str, variants: list[str]) -> None:
        self.variants = variants
        self._process = subprocess.Popen(
            [python, str(DRIVER), 'serve'],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=HERE,
        )
        self.hello = self.call({'cmd': 'hello', 'variants': variants})

    def call(self, command: dict[str, Any]) -> Any:
        """Send one command and return its result; raises RuntimeError when the driver fails."""
        stdin, stdout = self._pipes()
        stdin.write(json.dumps(command) + '\n')
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError(f'the reference driver exited (code {self._process.wait(10)}); see its stderr above')
        reply = json.loads(line)
        if not reply['ok']:
            raise RuntimeError(f'the reference driver failed on {command["cmd"]!r}: {reply["error"]}')
        return reply['result']

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self._process.stdin is not None and self._process.stdout is not None
        return self._process.stdin, self._process.stdout

    def close(self) -> None:
        """Ask the driver to quit and wait for it."""
        stdin, stdout = self._pipes()
        try:
            stdin.write(json.dumps({'cmd': 'quit'}) + '\n')
            stdin.close()
            self._process.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait(10)
        stdout.close()


def default_reference_python() -> str | None:
    """Return ``.refvenv/bin/python`` of the repository root when it exists."""
    candidate = ROOT / '.refvenv' / 'bin' / 'python'
    return str(candidate) if candidate.exists() else None


# ---------------------------------------------------------------------------------------------------
# Cases a-d: interleaved get() timings
# ---------------------------------------------------------------------------------------------------


def measure_reads(
    local: Remotevars, reference: Reference | None, cases: list[str], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """Time every case on both sides in interleaved rounds; return per-case summaries and ratios."""
    per_round = args.budget / args.rounds
    min_batches = max(1, -(-20 // args.rounds))
    round_args = {'seconds': per_round, 'min_batches': min_batches, 'max_calls': 2_000_000}
    series = {case: Series(local.operations[case], args.batch) for case in cases}
    for each in series.values():
        each.warm_up(0.2)
    if reference is not None:
        reference.call({'cmd': 'setup', 'cases': cases, 'batch': args.batch, 'warmup_s': 0.2})
    gc.collect()
    lean = reference.variants[0] if reference is not None else None
    ratios: dict[str, list[float]] = {case: [] for case in cases}
    for round_index in range(args.rounds):
        ordered = cases if round_index % 2 == 0 else cases[::-1]
        for position, case in enumerate(ordered):
            order = (round_index + position) % 2
            ours = theirs = float('nan')
            for side in ('remotevars', 'reference') if order == 0 else ('reference', 'remotevars'):
                if side == 'remotevars':
                    ours = series[case].run_round(per_round, min_batches, 2_000_000)
                elif reference is not None:
                    got = reference.call({'cmd': 'round', 'case': case, 'order': order, **round_args})
                    theirs = got['round_medians_ns'][lean]
            if reference is not None:
                ratios[case].append(theirs / ours)
    theirs_summary: dict[str, dict[str, Any]] = reference.call({'cmd': 'summary'}) if reference is not None else {}
    rows: dict[str, dict[str, Any]] = {}
    for case in cases:
        ours_summary = series[case].summary()
        row: dict[str, Any] = {'case': case, 'title': CASE_TITLES[case], 'remotevars': ours_summary}
        if reference is not None:
            row['reference'] = theirs_summary[case]
            row['speedups'] = {
                variant: summary['median_ns'] / ours_summary['median_ns']
                for variant, summary in theirs_summary[case].items()
            }
            row['round_speedups_lean'] = ratios[case]
        row['verdict'] = read_verdict(case, ours_summary['median_ns'], row.get('speedups', {}).get(lean))
        rows[case] = row
    return rows


def read_verdict(case: str, median_ns: float, speedup: float | None) -> tuple[str, str]:
    """Return ``(target text, PASS/FAIL/n/a/info)`` of a get() case."""
    parts: list[str] = []
    passed: list[bool | None] = []
    ceiling = CEILING_NS.get(case)
    if ceiling is not None:
        parts.append(f'<= {ceiling / 1000:g} us')
        passed.append(median_ns <= ceiling)
    minimum = MIN_SPEEDUP.get(case)
    if minimum is not None:
        parts.append(f'>= {minimum:g}x lean')
        passed.append(None if speedup is None else speedup >= minimum)
    return ' and '.join(parts) or 'info', combine(passed)


def combine(passed: Iterable[bool | None]) -> str:
    """Return PASS, FAIL, n/a (something could not be measured) or info (no target)."""
    values = list(passed)
    if not values:
        return 'info'
    if any(value is False for value in values):
        return 'FAIL'
    if any(value is None for value in values):
        return 'n/a'
    return 'PASS'


# ---------------------------------------------------------------------------------------------------
# Case e: config parse time and held memory
# ---------------------------------------------------------------------------------------------------

_REFERENCE_PARSERS: Final = ('model_validate_json', 'model_validate_json_gc_off', 'loads_model_validate')


def measure_parse(reference: Reference | None, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Time config parsing for each size on both sides (reps interleaved) and probe held memory."""
    build_snapshot(generated_config_json(2).encode())  # warm-ups, not counted
    rv.VariablesConfig.model_validate_json(generated_config_json(2))
    rows = []
    for size in SIZES:
        started = time.perf_counter()
        data = generated_config_json(size).encode()
        reps = (4 if args.quick else 8) if size < TARGET_SIZE else (2 if args.quick else 3)
        timings: dict[str, list[int]] = {}
        digests: dict[str, str] = {}
        operations = _local_parses(data)
        if reference is not None:
            for method in _REFERENCE_PARSERS:
                operations.append((f'reference.{method}', _reference_parse(reference, size, method, digests)))
        for rep in range(reps):
            for name, operation in operations if rep % 2 == 0 else operations[::-1]:
                timings.setdefault(name, []).append(operation())
        digest = digests.get('digest')
        row: dict[str, Any] = {
            'variables': size,
            'json_bytes': len(data),
            'reps': reps,
            'same_json_as_reference': None if digest is None else digest == config_digest(data.decode()),
            'median_ns': {name: statistics.median(values) for name, values in timings.items()},
            'memory': probe_memory(size, reference is not None, args.reference_python),
            'seconds': 0.0,
        }
        row['seconds'] = round(time.perf_counter() - started, 1)
        rows.append(row)
    return rows


def _local_parses(data: bytes) -> list[tuple[str, Callable[[], int]]]:
    """Return named functions that each time one remotevars parse of ``data``."""
    pydantic_parse = rv.VariablesConfig.model_validate_json
    return [
        ('remotevars.build_snapshot', lambda: time_once(lambda: build_snapshot(data))),
        ('remotevars.build_snapshot_gc_off', lambda: time_once(lambda: build_snapshot(data), gc_off=True)),
        ('remotevars.pydantic_model_validate_json', lambda: time_once(lambda: pydantic_parse(data))),
    ]


def _reference_parse(reference: Reference, size: int, method: str, digests: dict[str, str]) -> Callable[[], int]:
    """Return a function timing one reference parse (recording the digest of the JSON it parsed)."""

    def run() -> int:
        got = reference.call({'cmd': 'parse', 'n': size, 'method': method})
        digests['digest'] = got['digest']
        return int(got['ns'])

    return run


def probe_memory(size: int, with_reference: bool, reference_python: str | None) -> dict[str, dict[str, int]]:
    """Return ``{subject: measurements}`` from fresh interpreters (RSS and tracemalloc modes)."""
    found: dict[str, dict[str, int]] = {}
    for mode in ('rss', 'tracemalloc'):
        commands = {
            subject: [sys.executable, str(Path(__file__).resolve()), '--memory-probe', subject, str(size), mode]
            for subject in ('snapshot', 'pydantic', 'local_file')
        }
        if with_reference and reference_python is not None:
            commands['reference'] = [reference_python, str(DRIVER), 'memory', str(size), mode]
        for subject, command in commands.items():
            done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=HERE, check=False)
            if done.returncode != 0:
                print(f'# memory probe {subject} {size} {mode} failed: {done.stderr[-800:]}', file=sys.stderr)
                continue
            found.setdefault(subject, {}).update(json.loads(done.stdout.strip().splitlines()[-1]))
    return found


def memory_probe_child(subject: str, size: int, mode: str) -> None:
    """Print (one JSON line) what holding a parsed config of ``size`` variables costs ``subject``."""
    text = generated_config_json(size)
    data = text.encode()
    small = generated_config_json(2).encode()
    if subject == 'snapshot':
        build_snapshot(small)  # warm-up: decoders, regexes, lazy imports

        def parse() -> Any:
            return build_snapshot(data)

        def count(held: Any) -> int:
            snapshot, issues = held
            assert not issues, issues
            return len(snapshot.variables)

    elif subject == 'pydantic':
        rv.VariablesConfig.model_validate_json(small)

        def parse() -> Any:
            return rv.VariablesConfig.model_validate_json(data)

        def count(held: Any) -> int:
            return len(held.variables)

    elif subject == 'local_file':
        # The whole local-file path: what a Client holds after configure() on a JSON file.
        folder = tempfile.mkdtemp(prefix='remotevars-bench-')
        warm, path = Path(folder, 'warm.json'), Path(folder, 'config.json')
        warm.write_bytes(small)
        path.write_bytes(data)
        rv.Client().configure(rv.LocalVariablesOptions(config=str(warm), watch=False))
        client = rv.Client()

        def parse() -> Any:
            client.configure(rv.LocalVariablesOptions(config=str(path), watch=False))
            return client

        def count(held: Any) -> int:
            return len(held.snapshot.variables)

    else:
        raise SystemExit(f'unknown memory probe subject {subject!r}')
    held, measured = held_memory(parse, mode)
    print(json.dumps({**measured, 'variables': count(held)}))


# ---------------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------------


def fmt_ns(ns: float | None) -> str:
    """Return a duration in ns as a short human string."""
    if ns is None or math.isnan(ns):
        return '-'
    if ns >= 1e6:
        return f'{ns / 1e6:,.1f} ms'
    if ns >= 1e3:
        return f'{ns / 1e3:,.2f} us'
    return f'{ns:.0f} ns'


def fmt_ratio(ratio: float | None) -> str:
    """Return a ratio as ``12.3x`` (or ``-``)."""
    if ratio is None or math.isnan(ratio):
        return '-'
    return f'{ratio:,.1f}x' if ratio < 100 else f'{ratio:,.0f}x'


def fmt_mb(size: int | None) -> str:
    """Return a byte count in MB (or ``-``)."""
    return '-' if size is None else f'{size / 1e6:,.1f} MB'


def print_reads(rows: dict[str, dict[str, Any]], variants: list[str]) -> None:
    """Print the get() table (reference columns only when ``variants`` is not empty)."""
    if not variants:
        print('\n| case | remotevars | p99 | target | result |\n|---|---:|---:|---|---|')
        for row in rows.values():
            ours = row['remotevars']
            cells = [row['title'], fmt_ns(ours['median_ns']), fmt_ns(ours['p99_ns']), *row['verdict']]
            print('| ' + ' | '.join(cells) + ' |')
        return
    lean, extra = variants[0], variants[1:]
    header = ['case', 'remotevars', f'ref {lean}', *(f'ref {v}' for v in extra), f'{lean} / rv', 'per round']
    header += [f'{v} / rv' for v in extra] + ['target', 'result']
    print('\n| ' + ' | '.join(header) + ' |')
    print('|---' + '|---:' * (len(header) - 3) + '|---|---|')
    for row in rows.values():
        ours = row['remotevars']['median_ns']
        theirs = row.get('reference', {})
        speedups = row.get('speedups', {})
        per_round = row.get('round_speedups_lean') or []
        spread = f'{min(per_round):,.0f}-{max(per_round):,.0f}x' if per_round else '-'
        cells = [row['title'], fmt_ns(ours), fmt_ns(theirs.get(lean, {}).get('median_ns'))]
        cells += [fmt_ns(theirs.get(v, {}).get('median_ns')) for v in extra]
        cells += [fmt_ratio(speedups.get(lean)), spread, *(fmt_ratio(speedups.get(v)) for v in extra)]
        cells += list(row['verdict'])
        print('| ' + ' | '.join(cells) + ' |')


def parse_verdicts(row: dict[str, Any]) -> dict[str, Any]:
    """Return the speed-up and memory ratios of one case-e row with their verdicts."""
    median = row['median_ns']
    memory = row['memory']
    ours = median.get('remotevars.build_snapshot')
    theirs = median.get('reference.model_validate_json')
    speedup = None if ours is None or theirs is None else theirs / ours
    targeted = row['variables'] == TARGET_SIZE
    out: dict[str, Any] = {
        'parse_speedup': speedup,
        'parse_result': combine([None if speedup is None else speedup >= MIN_PARSE_SPEEDUP]) if targeted else 'info',
    }
    for key in ('rss_delta_bytes', 'held_python_heap_bytes'):
        mine = memory.get('snapshot', {}).get(key)
        reference = memory.get('reference', {}).get(key)
        ratio = None if not mine or reference is None else reference / mine
        out[f'{key}_ratio'] = ratio
        verdict = combine([None if ratio is None else ratio >= MIN_MEMORY_RATIO]) if targeted else 'info'
        out[f'{key}_result'] = verdict
    return out


def print_parse(rows: list[dict[str, Any]]) -> None:
    """Print the case-e tables (parse time, then held memory)."""
    print(
        '\n| e. parse | JSON | rv build_snapshot | rv same, GC off | ref model_validate_json | ref same, GC off '
        '| ref json.loads+model_validate | rv pydantic VariablesConfig (info) | speed-up | target | result |'
    )
    print('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|')
    for row in rows:
        median = row['median_ns']
        verdicts = row['verdicts']
        target = f'>= {MIN_PARSE_SPEEDUP:g}x' if row['variables'] == TARGET_SIZE else 'info'
        cells = [
            f'{row["variables"]:,} variables',
            fmt_mb(row['json_bytes']),
            fmt_ns(median.get('remotevars.build_snapshot')),
            fmt_ns(median.get('remotevars.build_snapshot_gc_off')),
            fmt_ns(median.get('reference.model_validate_json')),
            fmt_ns(median.get('reference.model_validate_json_gc_off')),
            fmt_ns(median.get('reference.loads_model_validate')),
            fmt_ns(median.get('remotevars.pydantic_model_validate_json')),
            fmt_ratio(verdicts['parse_speedup']),
            target,
            verdicts['parse_result'],
        ]
        print('| ' + ' | '.join(cells) + ' |')
    same = [row['same_json_as_reference'] for row in rows]
    if any(flag is not None for flag in same):
        print(f'# e: both sides parsed byte-identical JSON: {all(same)}')
    print(
        '\n| e. held memory | measure | rv snapshot | ref VariablesConfig | ratio | target | result '
        '| rv pydantic VariablesConfig (info) | rv Client on a local file (info) |'
    )
    print('|---|---|---:|---:|---:|---|---|---:|---:|')
    for row in rows:
        memory = row['memory']
        for key, title in (('rss_delta_bytes', 'RSS growth'), ('held_python_heap_bytes', 'Python heap')):
            target = f'>= {MIN_MEMORY_RATIO:g}x less' if row['variables'] == TARGET_SIZE else 'info'
            cells = [
                f'{row["variables"]:,} variables',
                title,
                fmt_mb(memory.get('snapshot', {}).get(key)),
                fmt_mb(memory.get('reference', {}).get(key)),
                fmt_ratio(row['verdicts'][f'{key}_ratio']),
                target,
                row['verdicts'][f'{key}_result'],
                fmt_mb(memory.get('pydantic', {}).get(key)),
                fmt_mb(memory.get('local_file', {}).get(key)),
            ]
            print('| ' + ' | '.join(cells) + ' |')


def load_average() -> str:
    """Return the 1/5/15-minute load averages as text."""
    return ' '.join(f'{value:.2f}' for value in os.getloadavg())


# ---------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------


def profile(case: str, calls: int) -> None:
    """Print a cProfile of ``calls`` remotevars reads of ``case``."""
    operation = Remotevars().operations[case]
    for i in range(1000):
        operation(i)
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(calls):
        operation(i)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats('tottime').print_stats(20)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Return the command line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--reference-python',
        default=default_reference_python(),
        help='interpreter with the reference SDK installed (default: .refvenv/bin/python if it exists)',
    )
    parser.add_argument('--quick', action='store_true', help='0.5 s per (case, side) instead of 1.4 s; fewer parses')
    parser.add_argument('--only', default=','.join([*CASES, 'e']), help='comma list of: ' + ' '.join([*CASES, 'e']))
    parser.add_argument('--json', metavar='OUT', help='also write every figure to this JSON file')
    parser.add_argument('--budget', type=float, default=1.4, help='seconds per (case, side) in total')
    parser.add_argument('--rounds', type=int, default=6, help='interleaved rounds (default 6)')
    parser.add_argument('--batch', type=int, default=50, help='calls per timed batch (default 50)')
    parser.add_argument(
        '--variants',
        default='lean,default',
        help='reference variants, the first is the one targets compare with (lean, no_span, default)',
    )
    parser.add_argument('--profile', metavar='CASE', choices=CASES, help='cProfile remotevars on one case and exit')
    parser.add_argument('--profile-calls', type=int, default=200_000)
    parser.add_argument('--memory-probe', nargs=3, metavar=('SUBJECT', 'N', 'MODE'), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.budget = 0.5
    unknown = set(args.only.split(',')) - {*CASES, 'e'}
    if unknown:
        parser.error(f'unknown cases in --only: {", ".join(sorted(unknown))}')
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its tables."""
    args = parse_args(argv)
    if args.memory_probe:
        subject, size, mode = args.memory_probe
        memory_probe_child(subject, int(size), mode)
        return
    if args.profile:
        profile(args.profile, args.profile_calls)
        return
    only = args.only.split(',')
    cases = [case for case in CASES if case in only]
    variants = [variant for variant in args.variants.split(',') if variant]
    results: dict[str, Any] = {
        'started': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
        'load_average_start': load_average(),
        'settings': {'budget_s': args.budget, 'rounds': args.rounds, 'batch': args.batch, 'variants': variants},
        'timer_overhead_ns': timer_overhead_ns(),
        'versions': {
            'python': platform.python_version(),
            'remotevars': rv.__version__,
            'pydantic': version('pydantic'),
            'msgspec': version('msgspec'),
        },
    }
    local = Remotevars()
    reference: Reference | None = None
    if args.reference_python is None:
        print('# no reference interpreter (see benchmarks/README.md): remotevars only, ratio targets n/a')
    else:
        reference = Reference(args.reference_python, variants)
        results['reference'] = {k: reference.hello[k] for k in ('versions', 'timer_overhead_ns')}
    try:
        versions = results['versions']
        ref_versions = results.get('reference', {}).get('versions', {})
        print(
            f'# remotevars {versions["remotevars"]} (pydantic {versions["pydantic"]}, msgspec {versions["msgspec"]}) '
            f'vs logfire {ref_versions.get("logfire", "-")} (pydantic {ref_versions.get("pydantic", "-")}) | '
            f'Python {versions["python"]} | {os.cpu_count()} CPUs | load {results["load_average_start"]} | '
            f'perf_counter_ns pair ~{results["timer_overhead_ns"]:.0f} ns (included in every figure)',
            flush=True,
        )
        ours_check = local.check()
        if reference is not None:
            theirs_check = reference.hello['sanity']
            agree = sum(a == b for a, b in zip(ours_check['c_labels'], theirs_check['c_labels'], strict=True))
            results['sanity'] = {'c_labels_agree': agree, 'c_keys': len(ours_check['c_labels'])}
            keys = len(ours_check['c_labels'])
            print(f'# case c: remotevars and the reference pick the same label for {agree}/{keys} keys')
        if cases:
            started = time.perf_counter()
            rows = measure_reads(local, reference, cases, args)
            results['get'] = rows
            print_reads(rows, variants if reference is not None else [])
            print(f'# get() measurement took {time.perf_counter() - started:.0f} s', flush=True)
        if 'e' in only:
            parse_rows = measure_parse(reference, args)
            for row in parse_rows:
                row['verdicts'] = parse_verdicts(row)
            results['config_parse'] = parse_rows
            print_parse(parse_rows)
    finally:
        local.client.shutdown()
        if reference is not None:
            reference.close()
    results['load_average_end'] = load_average()
    print(f'# load average: {results["load_average_start"]} at start, {results["load_average_end"]} at the end')
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + '\n')
        print(f'# figures written to {args.json}')


if __name__ == '__main__':
    main()
