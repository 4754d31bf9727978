"""The HTTP API client (httpx) for the variables API: reads, writes, types and the update stream.

Shared by the remote provider, the push workflows and the CLI. It owns the wire details: endpoint
paths, the ``bearer`` header, the write-body encoding (:func:`config_to_api_body`, as the Logfire SDK
writes it), and the mapping of HTTP outcomes to the exception tree:

- reads raise :class:`ApiError` (a non-2xx status) or :class:`ApiConnectionError` (no response);
- variable writes raise :class:`VariableAlreadyExistsError` (409 on create),
  :class:`VariableNotFoundError` (404 on update/delete) or :class:`VariableWriteError`
  (``'Failed to create variable: ...'``), chained from the :class:`ApiError` that says why;
- the bulk write raises :class:`BulkWriteUnsupported` when the server has no bulk endpoint, so callers
  can fall back to one request per variable.

The API key is sent only in the ``Authorization`` header: it never appears in a repr, a log line or an
exception message (server texts are scrubbed of it too, in case a proxy echoes headers). Sending it
over plain ``http://`` to a host that is not loopback logs a warning, once per process.

Responses are read as streams, with a cap: a body larger than ``max_body_bytes`` is abandoned as it
arrives, and update-stream events are bounded by :mod:`remotevars._sse`. :meth:`ApiClient.cut` lets
another thread end a request that overruns its deadline (httpx only bounds each read).

Base URLs keep their path: ``https://h.example/prefix`` serves ``/prefix/v1/variables/``. (The
Logfire SDK joins with ``urljoin(base, '/v1/...')`` and drops the prefix; a plain origin behaves the
same in both.)
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import re
import socket
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self
from urllib.parse import quote, urlsplit

import httpx
from httpx_sse import EventSource, connect_sse

from remotevars._errors import (
    ApiConnectionError,
    ApiError,
    BulkWriteUnsupported,
    ConfigurationError,
    VariableAlreadyExistsError,
    VariableNotFoundError,
    VariableWriteError,
)
from remotevars._options import DEFAULT_MAX_CONFIG_BYTES, DEFAULT_MAX_EVENT_BYTES
from remotevars._sse import bounded_event_source, decoded_headers
from remotevars.config import (
    Condition,
    LabeledValue,
    LabelRef,
    VariableConfig,
    VariablesConfig,
    VariableTypeConfig,
)

if TYPE_CHECKING:
    from remotevars._options import VariablesOptions

__all__ = [
    'ApiClient',
    'FetchResult',
    'LOGFIRE_REGION_URLS',
    'config_to_api_body',
    'resolve_api_key',
    'resolve_base_url',
    'variable_path',
    'variable_type_to_api_body',
    'warn_if_key_in_clear',
]

logger = logging.getLogger('remotevars.api')

#: Logfire regions (from an API key's ``pylf_v<n>_<region>_`` prefix) and their API origins.
LOGFIRE_REGION_URLS: Final[Mapping[str, str]] = {
    'us': 'https://logfire-us.pydantic.dev',
    'eu': 'https://logfire-eu.pydantic.dev',
    'stagingus': 'https://logfire-us.pydantic.info',
    'stagingeu': 'https://logfire-eu.pydantic.info',
}
_REGION: Final = re.compile(r'^pylf_v[0-9]+_(?P<region>[a-z]+)_')

VARIABLES_PATH: Final = '/v1/variables/'
BULK_PATH: Final = '/v1/variables/bulk/'
TYPES_PATH: Final = '/v1/variable-types/'
UPDATES_PATH: Final = '/v1/variable-updates/'

_MAX_DETAIL: Final = 500
#: How much of an error body is read (only its first words reach a message).
_MAX_ERROR_BODY: Final = 64 * 2**10


def _user_agent() -> str:
    try:
        version = metadata.version('remotevars')
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        version = '0'
    return f'remotevars/{version}'


def resolve_api_key(api_key: str | None) -> str:
    """Return ``api_key``, else ``REMOTEVARS_API_KEY``; raises :class:`ConfigurationError` when neither is set."""
    key = api_key or os.environ.get('REMOTEVARS_API_KEY') or None
    if key is None:
        raise ConfigurationError(
            'Remote variables require an API key: pass VariablesOptions(api_key=...) or set REMOTEVARS_API_KEY.'
        )
    return key


def resolve_base_url(api_key: str | None, base_url: str | None) -> str:
    """Return the API base URL (no trailing slash) for an explicit URL, ``REMOTEVARS_BASE_URL`` or a Logfire key.

    An explicit ``base_url`` wins, then the environment; otherwise the region in a Logfire API key
    decides: ``us``/``eu``/staging regions map to their origins, an unknown region
    logs a warning and uses the US origin, and a ``pylf_`` key without a region uses the US origin.
    The path of an explicit URL is kept (a reverse-proxy prefix works).

    Unlike the reference, a key that is not a Logfire key (no ``pylf_`` prefix) never falls back to
    Logfire: sending a self-hosted server's key to a third party by mistake would leak it. Raises
    :class:`ConfigurationError` then, for a URL that is not ``http(s)://host[...]``, and when there is
    neither a URL nor a key.
    """
    explicit = base_url or os.environ.get('REMOTEVARS_BASE_URL') or None
    if explicit is not None:
        return _normalise_base_url(explicit)
    if not api_key or not api_key.startswith('pylf_'):
        raise ConfigurationError(
            'Remote variables need a server URL: pass VariablesOptions(base_url=...) or set REMOTEVARS_BASE_URL '
            '(with a Logfire API key, its region decides the URL).'
        )
    match = _REGION.match(api_key)
    if match is None:
        return LOGFIRE_REGION_URLS['us']
    region = match.group('region')
    url = LOGFIRE_REGION_URLS.get(region)
    if url is None:
        logger.warning(
            'Unknown region %r in Logfire token, falling back to the US region. Known regions: eu, us.', region
        )
        return LOGFIRE_REGION_URLS['us']
    return url


def _normalise_base_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise ConfigurationError(f'The variables base URL must look like https://host[:port][/prefix], got {url!r}.')
    if parts.query or parts.fragment:
        raise ConfigurationError(f'The variables base URL must not have a query or fragment, got {url!r}.')
    if parts.username or parts.password:
        # Credentials in a URL end up in logs and error messages; the key belongs in api_key.
        raise ConfigurationError('The variables base URL must not contain credentials; pass the key as api_key.')
    return f'{parts.scheme}://{parts.netloc}{parts.path.rstrip("/")}'


# -- write bodies ----------------------------------------------------------------------------------


def _label_to_api_data(target: LabeledValue | LabelRef) -> dict[str, Any]:
    if isinstance(target, LabeledValue):
        return {'target_type': 'version', 'version': target.version, 'serialized_value': target.serialized_value}
    if target.ref == 'latest':
        return {'target_type': 'latest'}
    if target.ref == 'code_default':
        return {'target_type': 'code_default'}
    return {'target_type': 'label', 'target_label': target.ref}


def _condition_to_api_data(condition: Condition) -> dict[str, Any]:
    data: dict[str, Any] = {'kind': condition.kind, 'attribute': condition.attribute}
    value: Any = getattr(condition, 'value', None)
    if condition.kind in ('value-equals', 'value-does-not-equal'):
        data['value'] = value
    elif condition.kind in ('value-is-in', 'value-is-not-in'):
        data['values'] = list(getattr(condition, 'values'))  # noqa: B009 - only these kinds have it
    elif condition.kind in ('value-matches-regex', 'value-does-not-match-regex'):
        pattern = getattr(condition, 'pattern')  # noqa: B009 - only these kinds have it
        data['pattern'] = pattern if isinstance(pattern, str) else pattern.pattern
    return data


def _rollout_to_api_data(labels: Mapping[str, float]) -> dict[str, Any]:
    return {'labels': dict(labels)}


def config_to_api_body(config: VariableConfig) -> dict[str, Any]:
    """Return the JSON body of a create/update of ``config`` (the write format of the Logfire SDK).

    Key order and presence follow the reference exactly: ``description`` always (maybe null),
    ``json_schema``/``aliases``/``example``/``template_inputs_schema`` only when not None, ``labels``
    only when non-empty (in the ``target_type`` form); ``latest_version`` and ``type_name`` never.
    """
    body: dict[str, Any] = {'name': config.name, 'description': config.description}
    if config.json_schema is not None:
        body['json_schema'] = config.json_schema
    body['rollout'] = _rollout_to_api_data(config.rollout.labels)
    body['overrides'] = [
        {
            'conditions': [_condition_to_api_data(c) for c in override.conditions],
            'rollout': _rollout_to_api_data(override.rollout.labels),
        }
        for override in config.overrides
    ]
    if config.aliases is not None:
        body['aliases'] = list(config.aliases)
    if config.example is not None:
        body['example'] = config.example
    if config.template_inputs_schema is not None:
        body['template_inputs_schema'] = config.template_inputs_schema
    if config.labels:
        body['labels'] = {label: _label_to_api_data(target) for label, target in config.labels.items()}
    return body


def variable_type_to_api_body(variable_type: VariableTypeConfig) -> dict[str, Any]:
    """Return the JSON body of a variable-type upsert (``source_hint`` only when set)."""
    body: dict[str, Any] = {
        'name': variable_type.name,
        'json_schema': variable_type.json_schema,
        'description': variable_type.description,
    }
    if variable_type.source_hint is not None:
        body['source_hint'] = variable_type.source_hint
    return body


# -- the client -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of a conditional config fetch: 200 with ``body`` and its ``etag``, or 304 (no body)."""

    status: int
    body: bytes | None = None
    etag: str | None = None

    @property
    def not_modified(self) -> bool:
        """Whether the server answered 304 (the config held is still current)."""
        return self.status == 304


class ApiClient:
    """A synchronous client of the variables API; thread-safe (httpx pools connections per client).

    ``timeout`` is ``(connect, read)`` in seconds for every request; a response body larger than
    ``max_body_bytes`` is abandoned (an error body is cut short instead). ``transport`` replaces the
    network (for tests that cannot run a server). Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: tuple[float, float] = (10.0, 10.0),
        max_body_bytes: int = DEFAULT_MAX_CONFIG_BYTES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = _normalise_base_url(base_url)
        self._secret = api_key
        self._timeout = timeout
        self._max_body = max_body_bytes
        # Every socket this client opens, so that cut() can end a request blocked on one.
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._sockets_lock = threading.Lock()
        self._http = httpx.Client(
            headers={'Authorization': f'bearer {api_key}', 'User-Agent': _user_agent()},
            timeout=_timeout(*timeout),
            transport=transport,
            follow_redirects=False,
            event_hooks={'request': [self._watch_connections]},
        )
        warn_if_key_in_clear(self.base_url)

    @classmethod
    def from_options(cls, options: VariablesOptions, *, transport: httpx.BaseTransport | None = None) -> ApiClient:
        """Return a client for ``options`` (key and URL from the options or the environment, and its timeout).

        Raises :class:`ConfigurationError` when there is no key or the URL is unusable.
        """
        api_key = resolve_api_key(options.api_key)
        return cls(
            resolve_base_url(api_key, options.base_url),
            api_key,
            timeout=options.timeout,
            max_body_bytes=options.max_config_bytes,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f'ApiClient({self.base_url!r})'

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool; idempotent."""
        self._http.close()

    def cut(self) -> None:
        """Shut down every connection of this client, from any thread: a request blocked on one fails at once.

        For deadlines: httpx bounds each read, not a whole request. Idle pooled connections are cut
        too (the pool replaces them). Does nothing with a custom ``transport``.
        """
        with self._sockets_lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    def url(self, path: str) -> str:
        """Return the absolute URL of an API ``path`` (which starts with ``/``) under the base URL."""
        return self.base_url + path

    # -- plumbing ----------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, '***') if self._secret else text

    def _watch_connections(self, request: httpx.Request) -> None:
        # httpcore's documented ``trace`` extension reports each new connection with its stream.
        request.extensions['trace'] = self._trace

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event.endswith(('connect_tcp.complete', 'connect_unix_socket.complete', 'start_tls.complete')):
            stream = info.get('return_value')
            sock = stream.get_extra_info('socket') if stream is not None else None
            if isinstance(sock, socket.socket):
                with self._sockets_lock:
                    self._sockets.add(sock)

    def _send(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> httpx.Response:
        """Send a request and return its response, body read (at most ``max_body_bytes``), whatever the status.

        Raises :class:`ApiConnectionError` when no complete response arrives and :class:`ApiError`
        for a success body larger than the cap.
        """
        send_headers = dict(headers or {})
        if content is not None:
            send_headers['Content-Type'] = 'application/json'
        try:
            with self._http.stream(
                method,
                self.url(path),
                content=content,
                headers=send_headers,
                timeout=_timeout(*timeout) if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            ) as response:
                body = self._read_body(response, method, path)
        except httpx.HTTPError as exc:
            raise ApiConnectionError(self._scrub(f'{method} {path}: {type(exc).__name__}: {exc}')) from None
        return _with_body(response, body)

    def _read_body(self, response: httpx.Response, method: str, path: str) -> bytes:
        # An error body only feeds a message: cut it short. A success body past the cap is abandoned
        # before it is all read (at once when its Content-Length says so), so memory stays bounded.
        limit = self._max_body if response.is_success else _MAX_ERROR_BODY
        declared = response.headers.get('content-length', '')
        if response.is_success and declared.isdigit() and int(declared) > limit:
            raise self._too_large(response, method, path)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                if not response.is_success:
                    chunks.append(chunk[: len(chunk) - (size - limit)])
                    break
                raise self._too_large(response, method, path)
            chunks.append(chunk)
        return b''.join(chunks)

    def _too_large(self, response: httpx.Response, method: str, path: str) -> ApiError:
        return ApiError(
            f'{method} {path} returned a body larger than the limit of {_size(self._max_body)}; abandoned',
            status=response.status_code,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> httpx.Response:
        """Send a request and return a 2xx or 304 response, its body read.

        Raises :class:`ApiConnectionError` when no response arrives (connection refused, timeout,
        broken protocol), :class:`ApiError` (with ``status``) for any other status and for a body
        larger than ``max_body_bytes``; the message names the method, the path and the server's
        error text.
        """
        content = None if json_body is None else json.dumps(json_body).encode()
        response = self._send(method, path, content=content, headers=headers, timeout=timeout)
        if response.is_success or response.status_code == 304:
            return response
        raise ApiError(
            self._scrub(f'{method} {path} returned HTTP {response.status_code}: {_error_detail(response)}'),
            status=response.status_code,
        )

    def request_json(self, method: str, path: str, *, json_body: Any = None) -> Any:
        """Send a request and return its decoded JSON body (None for an empty body).

        Raises like :meth:`request`, and :class:`ApiError` (with the status) for a body that is not JSON.
        """
        response = self.request(method, path, json_body=json_body)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(
                f'{method} {path} returned a body that is not JSON: {exc}', status=response.status_code
            ) from None

    # -- reads -------------------------------------------------------------------------------------

    def fetch_config(self, etag: str | None = None, *, timeout: tuple[float, float] | None = None) -> FetchResult:
        """GET the whole configuration, conditionally on ``etag``; returns 200 + body + ETag, or 304.

        The body is returned unparsed (the caller decides what a bad one means). Raises
        :class:`ApiError` / :class:`ApiConnectionError`.
        """
        headers = {'If-None-Match': etag} if etag else None
        response = self.request('GET', VARIABLES_PATH, headers=headers, timeout=timeout)
        if response.status_code == 304:
            return FetchResult(status=304, etag=etag)
        return FetchResult(status=response.status_code, body=response.content, etag=response.headers.get('etag'))

    def list_variables(self) -> VariablesConfig:
        """Return the server's whole configuration as a fresh ``VariablesConfig`` (the caller owns it).

        Raises :class:`ApiError` / :class:`ApiConnectionError`, and :class:`ApiError` when the body
        is not a valid configuration.
        """
        result = self.fetch_config()
        try:
            return VariablesConfig.model_validate_json(result.body or b'')
        except ValueError as exc:
            raise ApiError(
                f'GET {VARIABLES_PATH} returned an invalid configuration: {exc}', status=result.status
            ) from None

    def get_variable(self, name: str) -> VariableConfig | None:
        """Return the config of the variable called ``name`` (by name, not alias), or None.

        Raises like :meth:`list_variables`.
        """
        return self.list_variables().variables.get(name)

    def list_variable_types(self) -> dict[str, VariableTypeConfig]:
        """Return the server's variable types by name.

        Raises :class:`VariableWriteError` (``'Failed to list variable types: ...'``) on any failure,
        including a malformed element.
        """
        try:
            data = self.request_json('GET', TYPES_PATH)
            if not isinstance(data, list):
                raise ApiError(f'GET {TYPES_PATH} returned {type(data).__name__}, not a list')
            types = [VariableTypeConfig.model_validate({'json_schema': {}, **item}) for item in data]
        except (ApiError, ValueError, TypeError) as exc:
            raise VariableWriteError(f'Failed to list variable types: {exc}') from exc
        return {t.name: t for t in types}

    def get_variable_type(self, name: str) -> VariableTypeConfig | None:
        """Return the variable type called ``name`` or None; raises like :meth:`list_variable_types`."""
        return self.list_variable_types().get(name)

    # -- writes ------------------------------------------------------------------------------------

    def create_variable(self, config: VariableConfig) -> VariableConfig:
        """POST a new variable; returns ``config``.

        Raises :class:`VariableAlreadyExistsError` on 409, else :class:`VariableWriteError`
        (``'Failed to create variable: ...'``).
        """
        try:
            self.request('POST', VARIABLES_PATH, json_body=config_to_api_body(config))
        except ApiError as exc:
            if exc.status == 409:
                raise VariableAlreadyExistsError(f'Variable {config.name!r} already exists') from exc
            raise VariableWriteError(f'Failed to create variable: {exc}') from exc
        return config

    def update_variable(self, name: str, config: VariableConfig) -> VariableConfig:
        """PUT ``config`` as variable ``name``; returns ``config``.

        Raises :class:`VariableNotFoundError` on 404, else :class:`VariableWriteError`
        (``'Failed to update variable: ...'``).
        """
        try:
            self.request('PUT', variable_path(name), json_body=config_to_api_body(config))
        except ApiError as exc:
            if exc.status == 404:
                raise VariableNotFoundError(f'Variable {name!r} not found') from exc
            raise VariableWriteError(f'Failed to update variable: {exc}') from exc
        return config

    def delete_variable(self, name: str) -> None:
        """DELETE variable ``name``.

        Raises :class:`VariableNotFoundError` on 404, else :class:`VariableWriteError`
        (``'Failed to delete variable: ...'``).
        """
        try:
            self.request('DELETE', variable_path(name))
        except ApiError as exc:
            if exc.status == 404:
                raise VariableNotFoundError(f'Variable {name!r} not found') from exc
            raise VariableWriteError(f'Failed to delete variable: {exc}') from exc

    def bulk_write(self, upsert: Sequence[VariableConfig], delete: Sequence[str]) -> None:
        """Apply creates/updates and deletes in one transaction (``POST /v1/variables/bulk/``).

        This is the ``remotevars serve`` extension (object form ``{"upsert": [...], "delete": [...]}``);
        all or nothing. Raises :class:`VariableNotFoundError` when a variable to delete does not exist
        (a 404 naming it), :class:`BulkWriteUnsupported` when the server has no such endpoint (any other
        404, or 405: fall back to one request per variable), and
        :class:`VariableWriteError` (``'Failed to apply bulk write: ...'``) otherwise.
        """
        body = {'upsert': [config_to_api_body(c) for c in upsert], 'delete': list(delete)}
        try:
            response = self._send('POST', BULK_PATH, content=json.dumps(body).encode())
        except ApiError as cause:
            raise VariableWriteError(f'Failed to apply bulk write: {cause}') from cause
        if response.is_success:
            return
        status = response.status_code
        detail = self._scrub(_error_detail(response))
        error = ApiError(f'POST {BULK_PATH} returned HTTP {status}: {detail}', status=status)
        if status == 404 and any(f"'{name}'" in detail or f'"{name}"' in detail for name in delete):
            raise VariableNotFoundError(f'Failed to apply bulk write: {detail}') from error
        if status in (404, 405):
            # A 404 that names none of the variables to delete is the route itself missing.
            raise BulkWriteUnsupported(f'The server has no bulk write endpoint ({error})', status=status)
        raise VariableWriteError(f'Failed to apply bulk write: {error}') from error

    def upsert_variable_type(self, variable_type: VariableTypeConfig) -> VariableTypeConfig:
        """Create or replace a variable type by name; returns it.

        Raises :class:`VariableWriteError` (``'Failed to upsert variable type: ...'``).
        """
        try:
            self.request('POST', TYPES_PATH, json_body=variable_type_to_api_body(variable_type))
        except ApiError as exc:
            raise VariableWriteError(f'Failed to upsert variable type: {exc}') from exc
        return variable_type

    # -- the update stream -------------------------------------------------------------------------

    @contextmanager
    def updates_stream(
        self,
        read_timeout: float,
        *,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        on_chunk: Callable[[int], None] | None = None,
    ) -> Iterator[EventSource]:
        """Open ``GET /v1/variable-updates/`` as server-sent events (httpx-sse).

        ``read_timeout`` bounds the wait for any bytes, keepalive comments included, so a half-open
        connection is noticed. A line or an event larger than ``max_event_bytes`` ends the stream;
        ``on_chunk`` is called as bytes arrive (:func:`~remotevars._sse.bounded_event_source`).
        Raises :class:`ApiConnectionError` when no response arrives, when a read fails or times out
        while the caller iterates the events, or when the body is not an event stream;
        :class:`~remotevars._sse.EventTooLarge` for an event past the bound; :class:`ApiError` for a
        status other than 200.
        """
        connect = self._timeout[0]
        try:
            with connect_sse(
                self._http,
                'GET',
                self.url(UPDATES_PATH),
                timeout=httpx.Timeout(connect=connect, read=read_timeout, write=connect, pool=connect),
            ) as source:
                response = source.response
                if response.status_code != 200:
                    body = self._read_body(response, 'GET', UPDATES_PATH)
                    raise ApiError(
                        self._scrub(
                            f'GET {UPDATES_PATH} returned HTTP {response.status_code}: '
                            f'{_error_detail(_with_body(response, body))}'
                        ),
                        status=response.status_code,
                    )
                yield bounded_event_source(response, max_event_bytes, on_chunk)
        except httpx.HTTPError as exc:
            raise ApiConnectionError(self._scrub(f'GET {UPDATES_PATH}: {type(exc).__name__}: {exc}')) from None


def variable_path(name: str, *rest: str | int) -> str:
    """Return the API path of variable ``name``, or of a sub-resource of it: ``variable_path('v', 'labels', 'prod')``.

    Each segment is quoted (valid names are identifiers, unchanged by quoting; any other string stays in
    its segment).
    """
    segments = [quote(str(segment), safe='') for segment in (name, *rest)]
    return VARIABLES_PATH + '/'.join(segments) + '/'


def _timeout(connect: float, read: float) -> httpx.Timeout:
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


def _with_body(response: httpx.Response, body: bytes) -> httpx.Response:
    """Return a closed copy of a streamed ``response`` holding its (decoded) ``body``."""
    headers = decoded_headers(response)
    extensions: dict[str, Any] = {
        key: value for key, value in response.extensions.items() if key in ('http_version', 'reason_phrase')
    }
    return httpx.Response(
        response.status_code, headers=headers, content=body, request=response.request, extensions=extensions
    )


def _size(count: int) -> str:
    return f'{count / 2**20:g} MiB' if count % 2**20 == 0 else f'{count} bytes'


def _is_loopback(host: str) -> bool:
    host = host.lower().rstrip('.')
    if host == 'localhost' or host.endswith('.localhost'):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


_key_in_clear_warned = threading.Event()
_key_in_clear_lock = threading.Lock()


def warn_if_key_in_clear(base_url: str) -> None:
    """Log a warning, once per process, when ``base_url`` is plain ``http://`` to a host that is not loopback."""
    parts = urlsplit(base_url)
    if parts.scheme != 'http' or _is_loopback(parts.hostname or '') or _key_in_clear_warned.is_set():
        return
    with _key_in_clear_lock:
        if _key_in_clear_warned.is_set():
            return
        _key_in_clear_warned.set()
    logger.warning(
        'The remotevars API key is sent over plain http:// to %s, which is not a loopback address: anyone '
        'on the network path can read it. Use an https:// base URL.',
        parts.hostname,
    )


def _error_detail(response: httpx.Response) -> str:
    """Return the server's error text: ``detail``/``error``/``message`` of a JSON body, else the text."""
    try:
        text = response.text
    except (httpx.HTTPError, UnicodeDecodeError):  # pragma: no cover - undecodable body
        return '(no readable body)'
    if 'json' in response.headers.get('content-type', ''):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            for key in ('detail', 'error', 'message'):
                value = data.get(key)
                if isinstance(value, str | list | dict):
                    text = value if isinstance(value, str) else json.dumps(value)
                    break
    text = ' '.join(text.split())
    if len(text) > _MAX_DETAIL:
        text = text[:_MAX_DETAIL] + '...'
    return text or response.reason_phrase or '(empty body)'
