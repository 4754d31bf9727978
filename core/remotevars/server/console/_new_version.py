"""A new version of a variable from the form generated from its JSON schema (or as raw JSON), saved at once.

Versions are immutable: adding one changes what is served only through the label it may move (the
form shows where each label points now). Saving runs the server's ``create_version`` operation as the
signed-in key; a value the schema refuses comes back with the server's messages next to their fields.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from remotevars.server._edit import SchemaViolation
from remotevars.server._json import StrictJsonError, loads_strict
from remotevars.server._storage import StorageUnavailable
from remotevars.server._wire import WriteRejected
from remotevars.server.console._base import Console, Form, VariableState, Viewer
from remotevars.server.console._describe import label_rows
from remotevars.server.console._schema_form import attach_errors, build_form, errors_by_field, read_form

__all__ = ['NewVersion']


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(',', ':'))


class NewVersion:
    """The value form (``GET``) and saving it (``POST``) at ``/ui/variables/{name}/versions/new``."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def _version_page(
        self,
        request: Request,
        viewer: Viewer,
        state: VariableState,
        value: Any,
        *,
        mode: str,
        label: str = '',
        errors: dict[str, list[str]] | None = None,
        message: str | None = None,
        raw_text: str | None = None,
        status: int = 200,
    ) -> Response:
        schema = state.shape['json_schema']
        use_form = mode == 'form' and isinstance(schema, dict)
        form_root = None
        if use_form:
            assert isinstance(schema, dict)
            form_root = build_form(schema, value)
            attach_errors(form_root, errors or {})
        raw = raw_text if raw_text is not None else json.dumps(value, indent=2, ensure_ascii=False)
        return self.console.render(
            request,
            'version_form.html',
            viewer,
            status,
            state=state,
            form_root=form_root,
            raw=raw,
            raw_errors=[] if use_form else [f'{path}: {m}' for path, ms in (errors or {}).items() for m in ms],
            has_schema=isinstance(schema, dict),
            labels=label_rows(state.config, state.shape),
            label=label,
            message=message,
        )

    async def form(self, request: Request, viewer: Viewer) -> Response:
        """``GET .../versions/new?from=N&mode=raw``: the value form, filled with version N (default: the latest)."""
        params = request.query_params

        def build(state: VariableState) -> Response:
            value: Any = None
            versions = {v['version']: v['serialized_value'] for v in self.console.ops.versions(state.name) or []}
            start = params.get('from', '')
            if start.isdigit() and int(start) in versions:
                value = json.loads(versions[int(start)])
            elif state.config.latest_version is not None:
                value = json.loads(state.config.latest_version.serialized_value)
            mode = 'raw' if params.get('mode') == 'raw' else 'form'
            return self._version_page(request, viewer, state, value, mode=mode, label=params.get('label', ''))

        return await self.console.variable_page(request, viewer, build)

    async def save(self, request: Request, viewer: Viewer, form: Form) -> Response:
        """``POST .../versions/new``: save the value as a new version (``action=save``), or redraw the form.

        ``action=add:<path>`` adds a row to a list, ``action=raw`` / ``action=form`` switches editors.
        A value the schema refuses comes back with the server's messages next to their fields.
        """
        name = request.path_params['name']
        action = form.get('action', 'save')
        mode = 'raw' if form.get('mode') == 'raw' else 'form'
        label = form.get('label', '')

        def read() -> tuple[VariableState | None, Any, dict[str, list[str]], str | None]:
            state = self.console.state(name)
            if state is None:
                return None, None, {}, None
            schema = state.shape['json_schema']
            if mode == 'form' and isinstance(schema, dict):
                adding = action.removeprefix('add:') if action.startswith('add:') else None
                value, problems = read_form(schema, form, adding=adding)
                return state, value, {path: [m] for path, m in problems.items()}, None
            raw = form.get('raw', '')
            try:
                return state, loads_strict(raw, max_depth=self.console.ops.limits.max_json_depth), {}, raw
            except StrictJsonError as exc:
                return state, None, {'$': [f'not valid JSON ({exc})']}, raw

        found, value, problems, raw_text = await run_in_threadpool(read)
        if found is None:
            return self.console.missing(request, viewer, name)
        state = found

        async def redraw(
            errors: dict[str, list[str]], status: int, message: str | None = None, *, switch_to: str | None = None
        ) -> Response:
            # The form again, as submitted (or switched to the other editor, filled from the value).
            return await self.console.render_off_loop(
                lambda: self._version_page(
                    request,
                    viewer,
                    state,
                    value,
                    mode=switch_to or mode,
                    label=label,
                    errors=errors,
                    message=message,
                    raw_text=None if switch_to else raw_text,
                    status=status,
                )
            )

        if action in ('raw', 'form') and not problems:
            return await redraw({}, 200, switch_to=action)
        if action != 'save' or problems:
            return await redraw(problems, 422 if problems else 200)
        labels = [label] if label else []
        serialized = _compact(value)
        try:
            await self.console.run(lambda: self.console.ops.create_version(name, serialized, labels, actor=viewer.name))
        except StorageUnavailable as exc:
            return self.console.error_page(request, 503, f'Storage unavailable: {exc}. Try again.', viewer)
        except WriteRejected as exc:
            errors = errors_by_field(exc.errors) if isinstance(exc, SchemaViolation) else {}
            where = 'next to the fields' if mode == 'form' else 'under the value'
            message = (
                f"The value does not match the variable's schema: see the messages {where}." if errors else str(exc)
            )
            return await redraw(errors, exc.status, message)
        return RedirectResponse(self.console.variable_url(request, name, 'version'), status_code=303)
