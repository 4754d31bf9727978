"""Rendering of workflow plans and reports as the text the reference prints.

Pure: each function returns text (or lines) for a plan from :mod:`remotevars._plan`, with ANSI colours
when ``colors`` is true and none otherwise. The Python functions in :mod:`remotevars.push`, the
``remotevars`` command line and the Django / Flask commands all print through these functions, so the
formats live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

    from remotevars._diff import VariableDiff
    from remotevars._plan import (
        ConfigCheck,
        ConfigPlan,
        DescriptionDifference,
        PushEntry,
        PushPlan,
        TypesPlan,
        ValidationReport,
    )

__all__ = [
    'ABORTED',
    'APPLYING',
    'DRY_RUN',
    'PROMPT',
    'Palette',
    'ReferenceGate',
    'destructive_count',
    'destructive_warning',
    'error_summary',
    'format_validation_report',
    'message',
    'palette',
    'reference_gate',
    'render_changes',
    'render_config_check',
    'render_config_plan',
    'render_push_plan',
    'render_types_plan',
    'render_variable_diff',
]

PROMPT: Final = 'Apply these changes? [y/N] '
ABORTED: Final = 'Aborted.'
APPLYING: Final = '\nApplying changes...'
DRY_RUN: Final = 'Dry run mode - no changes applied.'
#: Lines of an error text shown under a validation error in a report.
_REPORT_ERROR_LINES: Final = 5
#: pydantic ends each error with a line of this (a link to its docs), dropped from one-line summaries.
_DOCS_LINK: Final = 'For further information visit'


@dataclass(frozen=True, slots=True)
class Palette:
    """The reference's ANSI codes, or empty strings when colours are off."""

    reset: str = ''
    bold: str = ''
    dim: str = ''
    red: str = ''
    green: str = ''
    yellow: str = ''
    cyan: str = ''
    gray: str = ''


_COLORS: Final = Palette(
    reset='\033[0m',
    bold='\033[1m',
    dim='\033[2m',
    red='\033[31m',
    green='\033[32m',
    yellow='\033[33m',
    cyan='\033[36m',
    gray='\033[90m',
)
_PLAIN: Final = Palette()


def palette(colors: bool) -> Palette:
    """Return the colour codes to use (all empty when ``colors`` is false)."""
    return _COLORS if colors else _PLAIN


def message(text: str, color: str, colors: bool, *, blank_before: bool = True) -> str:
    """Return ``text`` in ``color`` (a :class:`Palette` field name), preceded by a blank line by default."""
    p = palette(colors)
    start = '\n' if blank_before else ''
    return f'{start}{getattr(p, color)}{text}{p.reset}'


def _update_detail(entry: PushEntry) -> str:
    # The reference names which schema changed; a description change (remotevars pushes those) adds a part.
    parts = []
    if entry.value_schema_changed and entry.inputs_schema_changed:
        parts.append('value + template inputs schema')
    elif entry.inputs_schema_changed:
        parts.append('template inputs schema')
    elif entry.value_schema_changed:
        parts.append('value schema')
    if entry.description_changed:
        parts.append('description')
    return f' ({" + ".join(parts)})' if parts else ''


def render_push_plan(plan: PushPlan, *, colors: bool) -> str:
    """Return the printed diff of ``variables_push``; it starts with a newline."""
    p = palette(colors)
    lines: list[str] = []
    if plan.creates:
        lines.append(f'\n{p.green}=== Variables to CREATE ==={p.reset}')
        for entry in plan.creates:
            lines.append(f'  {p.green}+ {entry.name}{p.reset}')
            if entry.description:
                lines.append(f'    Description: {entry.description}')
            if entry.example:
                lines.append(f'    Example value: {entry.example}')
            elif entry.body is None:
                lines.append('    (No example value - default cannot be serialised)')
            else:
                lines.append('    (No example value - default is a function)')
    if plan.updates:
        lines.append(f'\n{p.yellow}=== Variables to UPDATE (schema changed) ==={p.reset}')
        for entry in plan.updates:
            lines.append(f'  {p.yellow}~ {entry.name}{_update_detail(entry)}{p.reset}')
            if entry.incompatible:
                lines.append(f'    {p.red}Warning: Incompatible label values:{p.reset}')
                lines.extend(f'      - {issue.label}: {issue.error}' for issue in entry.incompatible)
    unchanged = plan.unchanged
    if unchanged:
        lines.append(f'\n{p.gray}=== No changes needed ({len(unchanged)} variables) ==={p.reset}')
        lines.extend(f'  {p.gray}  {entry.name}{p.reset}' for entry in unchanged)
    warned = [entry for entry in unchanged if entry.incompatible]
    if warned:
        lines.append(f'\n{p.yellow}=== Validation warnings (schema unchanged) ==={p.reset}')
        for entry in warned:
            lines.append(f'  {p.yellow}⚠ {entry.name}{p.reset}')
            lines.append(f'    {p.red}Incompatible label values:{p.reset}')
            lines.extend(f'      - {issue.label}: {issue.error}' for issue in entry.incompatible)
    if plan.server_only:
        lines.append(f'\n{p.gray}=== Server-only variables (not in local code) ==={p.reset}')
        lines.extend(f'  {p.gray}? {name}{p.reset}' for name in plan.server_only)
    lines.extend(_description_lines(plan.description_differences, p))
    lines.extend(_reference_lines(plan, p))
    if plan.serialization_errors:
        lines.append(f'\n{p.red}=== Code defaults that cannot be serialised (block the push) ==={p.reset}')
        lines.extend(f'  {p.red}✗ {error}{p.reset}' for error in plan.serialization_errors)
    return '\n'.join(lines)


def _reference_lines(plan: PushPlan, p: Palette) -> list[str]:
    # Missing references warn (yellow), cycles block (red), undeclared template fields warn.
    lines: list[str] = []
    cycles = set(plan.reference_cycles)
    missing = [error for error in plan.reference_errors if error not in cycles]
    if missing:
        lines.append(f'\n{p.yellow}=== Reference errors ==={p.reset}')
        lines.extend(f'  {p.yellow}⚠ {error}{p.reset}' for error in missing)
    if plan.reference_cycles:
        lines.append(f'\n{p.red}=== Reference cycles (block the push) ==={p.reset}')
        lines.extend(f'  {p.red}✗ {cycle}{p.reset}' for cycle in plan.reference_cycles)
    if plan.template_field_issues:
        lines.append(f'\n{p.yellow}=== Template field issues ==={p.reset}')
        lines.extend(f'  {p.yellow}⚠ {issue.describe()}{p.reset}' for issue in plan.template_field_issues)
    return lines


@dataclass(frozen=True, slots=True)
class ReferenceGate:
    """What push says about reference and template-field problems.

    ``notes``: warnings printed with the plan (empty when there is nothing to say). ``error``: the
    refusal as the Python functions print it, and ``reason`` the one line a command prints instead;
    both None when the push may go on.
    """

    notes: str
    error: str | None = None
    reason: str | None = None


def reference_gate(
    plan: PushPlan,
    *,
    strict: bool,
    colors: bool,
    strict_flag: str = 'strict=True',
    no_strict_flag: str = 'strict=False',
) -> ReferenceGate:
    """Return what push prints about reference and template-field problems, and whether it refuses.

    Cycles always refuse; missing references and undeclared fields refuse when ``strict`` and warn
    otherwise. ``strict_flag`` / ``no_strict_flag`` name the options in hints (keyword arguments for
    the Python functions, flags for commands).
    """
    if plan.reference_cycles:
        text = (
            'Error: reference cycle(s) detected.\nA cyclic reference can never resolve, so this is blocked '
            f'even without {strict_flag}. Fix the cycle before pushing.'
        )
        return ReferenceGate('', message(text, 'red', colors), plan.reference_cycles[0])
    lines: list[str] = []
    if plan.reference_errors:
        if strict:
            text = f'Error: Reference errors found.\nFix these references or set {no_strict_flag} to proceed anyway.'
            reason = f'{plan.reference_errors[0]} (pass {no_strict_flag} to proceed anyway)'
            return ReferenceGate('', message(text, 'red', colors), reason)
        lines.append(
            message(
                f'Warning: {len(plan.reference_errors)} reference(s) point at variable(s) not found in this push '
                f'(see above). The affected variables will not resolve until those exist; re-run with {strict_flag} '
                'to block on this.',
                'yellow',
                colors,
            )
        )
    if plan.template_field_issues:
        if strict:
            text = (
                'Error: Template field issues found.\nFix the template `{{field}}` references or update the '
                f'variable inputs_type, or set {no_strict_flag} to proceed anyway.'
            )
            reason = f'{plan.template_field_issues[0].describe()} (pass {no_strict_flag} to proceed anyway)'
            return ReferenceGate('\n'.join(lines), message(text, 'red', colors), reason)
        lines.append(
            message(
                f'Warning: {len(plan.template_field_issues)} template field issue(s) found (see above). Undeclared '
                f'fields render to an empty string at runtime; re-run with {strict_flag} to block on this.',
                'yellow',
                colors,
            )
        )
    return ReferenceGate('\n'.join(lines))


def _description_lines(differences: Sequence[DescriptionDifference], p: Palette) -> list[str]:
    if not differences:
        return []
    lines = [
        f'\n{p.cyan}=== Description differences (informational) ==={p.reset}',
        f'{p.cyan}Note: Different descriptions may be intentional for different codebases.{p.reset}',
    ]
    for diff in differences:
        lines.append(f'  {p.cyan}! {diff.variable_name}{p.reset}')
        lines.append(f'    Local:  {diff.local_description or "(none)"}')
        lines.append(f'    Server: {diff.server_description or "(none)"}')
    return lines


def render_variable_diff(diff: VariableDiff, *, colors: bool, indent: str = '    ') -> list[str]:
    """Return the lines describing one variable's field-level change (none for a change with nothing to show).

    Labels added, moved or removed, rollout weights before -> after, overrides added or removed, a
    changed schema or description, then each destructive effect on a line of its own, in red.
    """
    from remotevars._diff import rollout_text, value_preview

    p = palette(colors)
    lines: list[str] = []
    for change in diff.labels:
        if change.before is None:
            lines.append(f'{indent}{p.green}+ label {change.label!r}: {change.after}{p.reset}')
        elif change.after is None:
            lines.append(f'{indent}{p.red}- label {change.label!r}: {change.before}{p.reset}')
        else:
            lines.append(f'{indent}{p.yellow}~ label {change.label!r}: {change.before} -> {change.after}{p.reset}')
    if diff.rollout is not None:
        before, after = diff.rollout
        lines.append(f'{indent}{p.yellow}~ rollout: {rollout_text(before)} -> {rollout_text(after)}{p.reset}')
    lines.extend(f'{indent}{p.red}- override: {text}{p.reset}' for text in diff.overrides_removed)
    lines.extend(f'{indent}{p.green}+ override: {text}{p.reset}' for text in diff.overrides_added)
    if diff.schema_changed:
        lines.append(f'{indent}{p.yellow}~ schema changed{p.reset}')
    if diff.description is not None:
        before_text, after_text = diff.description
        lines.append(f'{indent}{p.yellow}~ description: {before_text!r} -> {after_text!r}{p.reset}')
    if diff.inputs_schema_changed:
        lines.append(f'{indent}{p.yellow}~ template inputs schema changed{p.reset}')
    if diff.example is not None:
        before_example, after_example = (value_preview(e) if e is not None else None for e in diff.example)
        lines.append(f'{indent}{p.yellow}~ example: {before_example} -> {after_example}{p.reset}')
    if diff.aliases is not None:
        before_aliases, after_aliases = diff.aliases
        lines.append(f'{indent}{p.yellow}~ aliases: {list(before_aliases)} -> {list(after_aliases)}{p.reset}')
    if diff.type_name is not None:
        before_type, after_type = diff.type_name
        lines.append(f'{indent}{p.yellow}~ type_name: {before_type!r} -> {after_type!r}{p.reset}')
    lines.extend(f'{indent}{p.bold}{p.red}DESTRUCTIVE: {reason}{p.reset}' for reason in diff.destructive)
    return lines


def render_changes(diffs: Sequence[VariableDiff], *, colors: bool) -> str:
    """Return the field-level section printed under a plan (empty when no diff has a line to show).

    Each variable with something to show gets ``+ name`` (created), ``~ name`` (updated) or ``- name``
    (deleted) and its :func:`render_variable_diff` lines; the reference's plan lines above stay as they are.
    """
    p = palette(colors)
    lines: list[str] = []
    for diff in diffs:
        # A created variable's description is already in the plan's CREATE block.
        shown = replace(diff, description=None) if diff.kind == 'create' else diff
        body = render_variable_diff(shown, colors=colors)
        if not body:
            continue
        symbol, color = {'create': ('+', p.green), 'update': ('~', p.yellow), 'delete': ('-', p.red)}[diff.kind]
        lines.append(f'  {color}{symbol} {diff.name}{p.reset}')
        lines.extend(body)
    if not lines:
        return ''
    return '\n'.join([f'\n{p.bold}=== Field-level changes ==={p.reset}', *lines])


def destructive_count(effects: Sequence[str]) -> str:
    """Return ``N destructive change(s)``."""
    return f'{len(effects)} destructive change{"" if len(effects) == 1 else "s"}'


def destructive_warning(effects: Sequence[str]) -> str:
    """Return what a confirmation prompt says first about a destructive plan: one effect a line."""
    lines = [f'This plan has {destructive_count(effects)}, which take traffic away from what is served:']
    lines.extend(f'  {effect}' for effect in effects)
    return '\n'.join(lines)


def error_summary(error: str) -> str:
    """Return a (pydantic) error text on one line, without its documentation links."""
    lines = [line.strip() for line in error.splitlines() if line.strip() and _DOCS_LINK not in line]
    return ': '.join([lines[0], '; '.join(lines[1:])]) if len(lines) > 1 else ''.join(lines)


def render_config_check(check: ConfigCheck, *, colors: bool) -> str:
    """Return what ``push-config --strict`` found: each value the code's types reject; empty when all fit.

    File variables that no local variable declares are named in a note (nothing checks them).
    """
    p = palette(colors)
    lines: list[str] = []
    if check.errors:
        lines.append(f'\n{p.red}=== Values that do not fit the types in code ==={p.reset}')
        for issue in check.errors:
            lines.append(f'  {p.red}✗ {issue.variable_name} (label: {issue.label}){p.reset}')
            text = issue.error.splitlines()
            lines.extend(f'      {line}' for line in text[:_REPORT_ERROR_LINES])
            if len(text) > _REPORT_ERROR_LINES:
                lines.append(f'      ... ({len(text) - _REPORT_ERROR_LINES} more lines)')
    if check.unchecked:
        lines.append(
            message(f'Note: not declared in code, so not checked: {", ".join(check.unchecked)}', 'yellow', colors)
        )
    return '\n'.join(lines)


def render_types_plan(plan: TypesPlan, *, colors: bool) -> str:
    """Return the printed summary of ``variables_push_types``, warnings included."""
    p = palette(colors)
    lines = [f'\n{p.bold}Variable Types Push Summary{p.reset}', '=' * 40]
    for action, title, color, symbol in (
        ('create', 'New types', p.green, '+'),
        ('update', 'Schema updates', p.yellow, '~'),
        ('unchanged', 'Unchanged', p.dim, '='),
    ):
        entries = plan.of(action)
        if entries:
            lines.append(f'\n{color}{title} ({len(entries)}):{p.reset}')
            lines.extend(f'  {symbol} {entry.name}' for entry in entries)
    if plan.incompatibilities:
        lines.append(f'\n{p.yellow}=== Label compatibility warnings ==={p.reset}')
        current: str | None = None
        for issue in plan.incompatibilities:
            if issue.type_name != current:
                current = issue.type_name
                lines.append(f'  {p.yellow}Type: {issue.type_name}{p.reset}')
            lines.append(
                f"    {p.red}⚠ Variable '{issue.variable_name}', label '{issue.label}': {issue.error}{p.reset}"
            )
    return '\n'.join(lines)


def render_config_plan(plan: ConfigPlan, *, colors: bool) -> str:
    """Return the printed plan of ``variables_push_config``; empty when there is nothing."""
    p = palette(colors)
    lines: list[str] = []
    if plan.creates:
        lines.append(f'\n{p.green}=== Variables to CREATE ==={p.reset}')
        for config in plan.creates:
            lines.append(f'  {p.green}+ {config.name}{p.reset}')
            if config.description:
                lines.append(f'    Description: {config.description}')
            if config.labels:
                lines.append(f'    Labels: {", ".join(config.labels)}')
    if plan.updates:
        lines.append(f'\n{p.yellow}=== Variables to UPDATE ==={p.reset}')
        lines.extend(f'  {p.yellow}~ {config.name}{p.reset}' for config in plan.updates)
    if plan.deletes:
        lines.append(f'\n{p.red}=== Variables to DELETE ==={p.reset}')
        lines.extend(f'  {p.red}- {name}{p.reset}' for name in plan.deletes)
    if plan.unchanged:
        lines.append(f'\n{p.gray}=== No changes needed ({len(plan.unchanged)} variables) ==={p.reset}')
        lines.extend(f'  {p.gray}  {name}{p.reset}' for name in plan.unchanged)
    return '\n'.join(lines)


def format_validation_report(report: ValidationReport, *, colors: bool = True) -> str:
    """Return ``report`` as printable text; starts with a newline."""
    p = palette(colors)
    lines: list[str] = []
    if report.errors:
        lines.append(f'\n{p.red}=== Validation Errors ==={p.reset}')
        for error in report.errors:
            if error.label is None:
                lines.append(f'  {p.red}✗ {error.variable_name}: {error.error}{p.reset}')
                continue
            lines.append(f'  {p.red}✗ {error.variable_name} (label: {error.label}){p.reset}')
            text = str(error.error).splitlines()
            lines.extend(f'      {line}' for line in text[:_REPORT_ERROR_LINES])
            if len(text) > _REPORT_ERROR_LINES:
                lines.append(f'      ... ({len(text) - _REPORT_ERROR_LINES} more lines)')
    if report.variables_not_on_server:
        lines.append(f'\n{p.yellow}=== Variables Not Found on Server ==={p.reset}')
        lines.extend(f'  {p.yellow}? {name}{p.reset}' for name in report.variables_not_on_server)
    with_errors = len({error.variable_name for error in report.errors})
    valid_count = report.variables_checked - with_errors - len(report.variables_not_on_server)
    if valid_count > 0 and report.is_valid:
        lines.append(f'\n{p.green}=== Valid ({valid_count} variables) ==={p.reset}')
    lines.extend(_description_lines(report.description_differences, p))
    if report.reference_errors:
        lines.append(f'\n{p.red}=== Reference errors ==={p.reset}')
        lines.extend(f'  {p.red}✗ {error}{p.reset}' for error in report.reference_errors)
    if report.template_field_issues:
        lines.append(f'\n{p.red}=== Template field issues ==={p.reset}')
        lines.extend(f'  {p.red}✗ {issue.describe()}{p.reset}' for issue in report.template_field_issues)
    if report.is_valid:
        lines.append(f'\n{p.green}Validation passed: All {report.variables_checked} variable(s) are valid.{p.reset}')
    else:
        issues = (
            with_errors
            + len(report.variables_not_on_server)
            + len(report.reference_errors)
            + len(report.template_field_issues)
        )
        lines.append(f'\n{p.red}Validation failed: {issues} issue(s) found.{p.reset}')
    return '\n'.join(lines)
