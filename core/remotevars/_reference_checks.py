"""Pure checks of push and validate: ``@{references}@`` that go nowhere or in circles, and template fields.

Both look at the local variables together with the server's config, so a reference to a variable
that exists only on the server is fine, and chains through server-only variables are followed.

- :func:`reference_problems` walks the reference graph breadth first from the local variables (in
  declaration order) through their static code defaults and every server value (labels and latest
  version); it reports references to unknown names, values whose ``@{...}@`` cannot be parsed, and
  cycles (a graph too deep to check counts as a cycle: it blocks the push).
- :func:`template_issues` checks, for every template variable, the ``{{fields}}`` of every value its
  composition can reach against that variable's inputs schema.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from remotevars._compose import find_references_and_errors
from remotevars._template import TemplateFieldIssue, template_field_issues

if TYPE_CHECKING:
    from remotevars._variable import Variable
    from remotevars.config import VariablesConfig

__all__ = ['TOO_DEEP', 'reference_problems', 'template_issues']

TOO_DEEP: Final = (
    'Reference graph is too deeply nested to validate for cycles; '
    'check for an extremely long or circular @{ref}@ chain.'
)


def _static_default(variable: Variable[Any]) -> str | None:
    # What the code default serialises to, or None (resolve function, or not serialisable).
    return variable.serialized_default()


def _server_values(server: VariablesConfig, name: str) -> list[str]:
    from remotevars.config import LabeledValue

    config = server.variables.get(name)
    if config is None:
        return []
    values = [target.serialized_value for target in config.labels.values() if isinstance(target, LabeledValue)]
    if config.latest_version is not None:
        values.append(config.latest_version.serialized_value)
    return values


def _find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    # Depth-first search over the graph; each back edge closes one reported cycle. Raises RecursionError
    # for graphs deeper than the interpreter allows.
    cycles: list[list[str]] = []
    done: set[str] = set()
    on_path: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> None:
        if node in on_path:
            cycles.append([*path[path.index(node) :], node])
            return
        if node in done:
            return
        done.add(node)
        on_path.add(node)
        path.append(node)
        for target in graph.get(node, ()):
            visit(target)
        path.pop()
        on_path.remove(node)

    for node in graph:
        if node not in done:
            visit(node)
    return cycles


def reference_problems(variables: Sequence[Variable[Any]], server: VariablesConfig) -> tuple[list[str], list[str]]:
    """Return ``(every reference problem, the cycles among them)`` as the lines push and validate print.

    Missing references come first (in the order found), then cycles (``Reference cycle detected: a ->
    b -> a``). Missing references are warnings unless strict; cycles always block.
    """
    problems: list[str] = []
    local = {variable.name: variable for variable in variables}
    known = set(local) | set(server.variables)
    graph: dict[str, list[str]] = {}
    seen: set[str] = set()
    queue = deque(local)
    while queue:
        name = queue.popleft()
        if name in seen:
            continue
        seen.add(name)
        values = _server_values(server, name)
        variable = local.get(name)
        if variable is not None:
            default = _static_default(variable)
            if default is not None:
                values.insert(0, default)
        refs: set[str] = set()
        for serialized in values:
            found, errors = find_references_and_errors(serialized)
            refs.update(found)
            problems.extend(f"Variable '{name}': {error}" for error in errors)
        if refs:
            graph[name] = sorted(refs)
        for ref in sorted(refs):
            if ref not in known:
                problems.append(f"Variable '{name}' references '@{{{ref}}}@' which does not exist.")
            elif ref not in seen:
                queue.append(ref)
    cycles: list[str] = []
    try:
        found_cycles = _find_cycles(graph)
    except RecursionError:
        cycles.append(TOO_DEEP)
    else:
        cycles.extend(f'Reference cycle detected: {" -> ".join(cycle)}' for cycle in found_cycles)
    problems.extend(cycles)
    return problems, cycles


def template_issues(variables: Sequence[Variable[Any]], server: VariablesConfig) -> list[TemplateFieldIssue]:
    """Return the undeclared ``{{fields}}`` of every template variable, reported once per root variable.

    A variable's values are its server labels (refs followed, keyed by the label's own name), its
    latest version (``'latest'``, unless a label has that name) and its static code default (None).
    """
    local = {variable.name: variable for variable in variables}

    def values_of(name: str) -> dict[str | None, str]:
        found: dict[str | None, str] = {}
        config = server.variables.get(name)
        if config is not None:
            for label, target in config.labels.items():
                serialized, _version = config.follow_ref(target)
                if serialized is not None:
                    found[label] = serialized
            if config.latest_version is not None:
                found.setdefault('latest', config.latest_version.serialized_value)
        variable = local.get(name)
        if variable is not None:
            default = _static_default(variable)
            if default is not None:
                found[None] = default
        return found

    issues: list[TemplateFieldIssue] = []
    for variable in variables:
        schema = variable.template_inputs_schema()
        if schema is not None:
            issues.extend(template_field_issues(variable.name, schema, values_of))
    return issues
