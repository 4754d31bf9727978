"""compile_pattern refuses patterns whose repeats the regex package would unroll into gigabytes.

``regex`` unrolls a repeat's minimum count at compile time (~250 bytes per element): ``a{100000}``
costs ~26 MB, and ``((a{1000}){1000}){1000}`` or ``a{4294967294}`` exhaust memory. Such patterns
come from a server, so both clients and our server must refuse them before compiling.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from remotevars._regex import MAX_REPEAT_EXPANSION, PatternError, compile_pattern, search


@pytest.mark.parametrize(
    'pattern',
    ['a{100000}', '(?:ab){5002}', '(?=a{20000})', '(?:x(?:ab){1000}){100}', '(a)\\1{20000}', 'a{20000,}'],
)
def test_repeats_unrolling_past_the_bound_are_refused(pattern: str) -> None:
    with pytest.raises(PatternError, match='unroll to more than 10,000 elements'):
        compile_pattern(pattern)


def test_a_compiled_re_pattern_is_checked_too() -> None:
    with pytest.raises(PatternError, match='unroll'):
        compile_pattern(re.compile('a{20000}', re.IGNORECASE))


@pytest.mark.parametrize(
    'pattern',
    [
        f'a{{{MAX_REPEAT_EXPANSION + 1}}}',  # adds exactly the bound
        'a{1,4294967294}',  # only the minimum is unrolled
        r'^\d{3}-\d{4}$',
        r'(?i)^[a-z0-9._%+-]+@example\.com$',
        '|'.join(f'user{i}@example\\.com' for i in range(2000)),  # long, but nothing to unroll
    ],
)
def test_ordinary_and_long_patterns_still_compile(pattern: str) -> None:
    assert compile_pattern(pattern) is not None


def test_matching_is_unchanged_below_the_bound() -> None:
    compiled = compile_pattern('^(?:ab){3}c{2,}$')
    assert search(compiled, 'abababcc')
    assert not search(compiled, 'ababcc')


def test_memory_bombs_are_refused_without_allocating() -> None:
    # In a child under a 1 GB address-space cap: before the bound, these died of MemoryError after
    # seconds (or were OOM-killed without a cap); now they are refused by counting, at once.
    code = (
        'import resource, sys\n'
        'resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n'
        'from remotevars._regex import PatternError, compile_pattern\n'
        "for p in ('a{4294967294}', '((a{1000}){1000}){1000}', '(?:ab){1000000}'):\n"
        '    try:\n'
        '        compile_pattern(p)\n'
        '    except PatternError as exc:\n'
        '        print(exc)\n'
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forked parent (pytest, big).
        "peak = next(line for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
        "print(int(peak.split()[1]) // 1024, 'MB')\n"
    )
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == ['invalid regular expression (its repeat counts unroll to more than 10,000 elements)'] * 3
    assert int(lines[3].split()[0]) < 200  # an interpreter with pydantic and regex loaded: ~60 MB
