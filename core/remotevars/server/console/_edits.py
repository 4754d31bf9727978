"""The console's reviewed edits: move a label, edit the rollout, add or remove an override, roll back.

Each edit is two steps (a new version, :mod:`._new_version`, is saved at once): the form posts
``step=review`` and gets the change in the command line's words, destructive effects said in words;
the review page posts ``step=confirm`` with the ETag of the state it showed, and the operation runs
with that ETag as its precondition. If the variable changed in between, the review is shown again
against the new state; a destructive change needs its box ticked. Every edit runs as the signed-in
key, the actor its history entry names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from remotevars._diff import VariableDiff, diff_variable
from remotevars.server._preconditions import Precondition
from remotevars.server._storage import StorageUnavailable
from remotevars.server._wire import WriteRejected
from remotevars.server.console._base import Console, Form, VariableState, Viewer, hidden_fields, root_of
from remotevars.server.console._changes import (
    CONDITION_KINDS,
    Change,
    FormErrors,
    label_change,
    override_added,
    override_removed,
    rollback_change,
    rollout_change,
)
from remotevars.server.console._describe import InvalidVariable, change_lines, label_rows, variable_config

__all__ = ['Edits']

_CONDITION_ROWS = 3


class Edits:
    """The edit forms and actions (see the module docstring)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    # -- reviewed changes --------------------------------------------------------------------------

    def _confirm_page(
        self,
        request: Request,
        viewer: Viewer,
        state: VariableState,
        change: Change,
        diff: VariableDiff,
        form: Form,
        *,
        back: str,
        note: str | None = None,
        error: str | None = None,
    ) -> Response:
        return self.console.render(
            request,
            'confirm.html',
            viewer,
            422 if error else 200,
            state=state,
            title=change.title,
            lines=change_lines(diff),
            destructive=diff.destructive,
            has_changes=diff.has_changes,
            hidden=hidden_fields(form),
            action=request.url.path,
            back=back,
            note=note,
            error=error,
        )

    async def _reviewed(
        self,
        request: Request,
        viewer: Viewer,
        form: Form,
        prepare: Callable[[VariableState], Change],
        form_page: Callable[[VariableState, dict[str, str], int], Response],
        back: str,
    ) -> Response:
        """Review (``step=review``) or apply (``step=confirm``) the change ``prepare`` reads from the form."""
        name = request.path_params['name']

        def review() -> Response | tuple[VariableState, Change, VariableDiff]:
            state = self.console.state(name)
            if state is None:
                return self.console.missing(request, viewer, name)
            try:
                change = prepare(state)
                diff = diff_variable(state.config, variable_config(change.after))
            except FormErrors as exc:
                return form_page(state, exc.errors, 422)
            except InvalidVariable as exc:
                return form_page(state, {'': str(exc)}, 422)
            return state, change, diff

        reviewed = await run_in_threadpool(review)
        if isinstance(reviewed, Response):
            return reviewed
        state, change, diff = reviewed
        etag = form.get('etag', '')
        if form.get('step') != 'confirm' or not etag:
            return await self.console.render_off_loop(
                lambda: self._confirm_page(request, viewer, state, change, diff, form, back=back)
            )
        if diff.is_destructive and form.get('allow_destructive') != 'yes':
            error = 'This change is destructive: tick the box to apply it anyway.'
            return await self.console.render_off_loop(
                lambda: self._confirm_page(request, viewer, state, change, diff, form, back=back, error=error)
            )
        precondition = Precondition(etags=(etag,))
        try:
            outcome = await self.console.run(lambda: change.apply(self.console.ops, viewer.name, precondition))
        except WriteRejected as exc:
            if exc.status != 412:
                errors, status = {'': str(exc)}, exc.status
                return await self.console.render_off_loop(lambda: form_page(state, errors, status))
            again = await run_in_threadpool(review)
            if isinstance(again, Response):
                return again
            note = 'The variable changed since you reviewed this change: here it is against the current state.'
            return await self.console.render_off_loop(
                lambda: self._confirm_page(request, viewer, again[0], again[1], again[2], form, back=back, note=note)
            )
        except StorageUnavailable as exc:
            return self.console.error_page(request, 503, f'Storage unavailable: {exc}. Try again.', viewer)
        return RedirectResponse(
            self.console.variable_url(request, name, change.done if outcome.changed else 'unchanged'), status_code=303
        )

    def _form_page(
        self,
        request: Request,
        viewer: Viewer,
        template: str,
        state: VariableState,
        form: Form,
        errors: dict[str, str],
        status: int,
        **context: Any,
    ) -> Response:
        return self.console.render(request, template, viewer, status, state=state, form=form, errors=errors, **context)

    # -- labels ------------------------------------------------------------------------------------

    def _versions(self, name: str) -> dict[int, str]:
        return {v['version']: v['serialized_value'] for v in self.console.ops.versions(name) or []}

    def _label_page(
        self, request: Request, viewer: Viewer, state: VariableState, form: Form, errors: dict[str, str], status: int
    ) -> Response:
        versions = sorted(self._versions(state.name).items(), reverse=True)
        return self._form_page(
            request,
            viewer,
            'label_form.html',
            state,
            form,
            errors,
            status,
            versions=versions,
            labels=label_rows(state.config, state.shape),
        )

    async def label_form(self, request: Request, viewer: Viewer) -> Response:
        """``GET .../labels?label=X``: move a label (or create or remove one)."""
        form = {'label': request.query_params.get('label', '')}
        return await self.console.variable_page(
            request, viewer, lambda state: self._label_page(request, viewer, state, form, {}, 200)
        )

    async def label(self, request: Request, viewer: Viewer, form: Form) -> Response:
        """``POST .../labels``: review, then apply, a label change."""
        name = request.path_params['name']
        return await self._reviewed(
            request,
            viewer,
            form,
            lambda state: label_change(state, form, self._versions(name), self.console.ops.limits),
            lambda state, errors, status: self._label_page(request, viewer, state, form, errors, status),
            back=f'{root_of(request)}variables/{name}/labels',
        )

    # -- the rollout -------------------------------------------------------------------------------

    def _weights_form(self, state: VariableState, weights: dict[str, float]) -> Form:
        return {f'w:{label}': f'{weight:g}' for label, weight in weights.items()} | {
            f'w:{label}': '' for label in state.config.labels if label not in weights
        }

    def _rollout_page(
        self, request: Request, viewer: Viewer, state: VariableState, form: Form, errors: dict[str, str], status: int
    ) -> Response:
        return self._form_page(
            request, viewer, 'rollout_form.html', state, form, errors, status, weights=_weight_rows(state, form)
        )

    async def rollout_form(self, request: Request, viewer: Viewer) -> Response:
        """``GET .../rollout``: the base rollout's weights, one per label, and the code default's remainder."""

        def build(state: VariableState) -> Response:
            form = self._weights_form(state, dict(state.config.rollout.labels))
            return self._rollout_page(request, viewer, state, form, {}, 200)

        return await self.console.variable_page(request, viewer, build)

    async def rollout(self, request: Request, viewer: Viewer, form: Form) -> Response:
        """``POST .../rollout``: review, then apply, new weights."""
        name = request.path_params['name']
        return await self._reviewed(
            request,
            viewer,
            form,
            lambda state: rollout_change(state, form, self.console.ops.limits),
            lambda state, errors, status: self._rollout_page(request, viewer, state, form, errors, status),
            back=f'{root_of(request)}variables/{name}/rollout',
        )

    # -- overrides ---------------------------------------------------------------------------------

    def _override_page(
        self, request: Request, viewer: Viewer, state: VariableState, form: Form, errors: dict[str, str], status: int
    ) -> Response:
        rows = int(form['conditions']) if form.get('conditions', '').isdigit() else _CONDITION_ROWS
        return self._form_page(
            request,
            viewer,
            'override_form.html',
            state,
            form,
            errors,
            status,
            weights=_weight_rows(state, form),
            condition_rows=range(min(rows, 100)),
            kinds=list(CONDITION_KINDS),
        )

    async def override_form(self, request: Request, viewer: Viewer) -> Response:
        """``GET .../overrides/new``: an override's conditions and its rollout."""

        def build(state: VariableState) -> Response:
            form = {'conditions': str(_CONDITION_ROWS)} | self._weights_form(state, {})
            return self._override_page(request, viewer, state, form, {}, 200)

        return await self.console.variable_page(request, viewer, build)

    async def override(self, request: Request, viewer: Viewer, form: Form) -> Response:
        """``POST .../overrides/new``: more condition rows (``action=more``), or review, then apply, the override."""
        name = request.path_params['name']
        if form.get('action') == 'more':
            rows = int(form['conditions']) if form.get('conditions', '').isdigit() else _CONDITION_ROWS
            more = {**form, 'conditions': str(min(rows + 2, 100))}
            return await self.console.variable_page(
                request, viewer, lambda state: self._override_page(request, viewer, state, more, {}, 200)
            )
        return await self._reviewed(
            request,
            viewer,
            form,
            lambda state: override_added(state, form, self.console.ops.limits),
            lambda state, errors, status: self._override_page(request, viewer, state, form, errors, status),
            back=f'{root_of(request)}variables/{name}/overrides/new',
        )

    async def remove_override(self, request: Request, viewer: Viewer, form: Form) -> Response:
        """``POST .../overrides/{index}/remove``: review, then apply, removing one override."""
        name = request.path_params['name']
        index: int = request.path_params['index']
        return await self._reviewed(
            request,
            viewer,
            form,
            lambda state: override_removed(state, index),
            lambda state, errors, status: self.console.error_page(request, status, '; '.join(errors.values()), viewer),
            back=self.console.variable_url(request, name),
        )

    # -- rollback ----------------------------------------------------------------------------------

    async def rollback(self, request: Request, viewer: Viewer, form: Form) -> Response:
        """``POST .../rollback`` (``to=<entry id>``): review, then apply, a rollback to a history entry."""
        name = request.path_params['name']
        text = form.get('to', '')
        entry_id = int(text) if text.isdigit() else 0

        def prepare(state: VariableState) -> Change:
            return rollback_change(state, self.console.ops.history_entry(name, entry_id), entry_id)

        return await self._reviewed(
            request,
            viewer,
            form,
            prepare,
            lambda state, errors, status: self.console.error_page(request, status, '; '.join(errors.values()), viewer),
            back=self.console.variable_url(request, name),
        )


def _weight_rows(state: VariableState, form: Form) -> list[tuple[str, str, str]]:
    """Return the weight inputs of a rollout form: (label, what it points at, the text in the input)."""
    rows = []
    targets = {row.label: row.target for row in label_rows(state.config, state.shape)}
    seen = set()
    for field, text in form.items():
        label = field.removeprefix('w:')
        if field.startswith('w:') and label in targets and label not in seen:
            seen.add(label)
            rows.append((label, targets[label], text))
    rows += [(label, target, '') for label, target in targets.items() if label not in seen]
    return rows
