"""HTTP calls of connector and remote worker nodes, one `requests.Session` per worker thread."""

from __future__ import annotations

import json
import re
import threading
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import jmespath
import requests

from topology.runtime import breaker, egress, origin
from topology.runtime.errors import RetryableError, TrashError
from topology.runtime.headers import (
    FORCE_TARGET_QUEUE,
    REPEAT_KEYS,
    RESULT_CODE,
    RESULT_MESSAGE,
    WORKER_FOLLOWERS,
    strip_answers,
)
from topology.runtime.sdk import Result

_local = threading.local()
_token_lock = threading.Lock()
_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
DEFAULT_TIMEOUT = 30.0


def session() -> requests.Session:
    sess: requests.Session | None = getattr(_local, "session", None)
    if sess is None:
        # -- egress policy (security): every connection passes topology/runtime/egress.py --
        sess = egress.guarded_session()
        _local.session = sess
    return sess


def _join(base: str, path: str) -> str:
    if not path:
        return base
    if path.startswith(("http://", "https://")):
        return path
    return base.rstrip("/") + "/" + path.lstrip("/")


def retry_after(response: requests.Response) -> float | None:
    """Seconds a 429/503 asks us to wait (`Retry-After` as seconds or an HTTP date); None when absent."""
    if response.status_code not in (429, 503):
        return None
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _classify(response: requests.Response) -> None:
    status = response.status_code
    if status in (408, 429) or status >= 500:
        raise RetryableError(
            f"HTTP {status}: {response.text[:500]}",
            kind=str(status),
            response=response.text,
            retry_after=retry_after(response),
        )
    if status >= 300:
        raise TrashError(f"HTTP {status}: {response.text[:500]}", kind=str(status), response=response.text)


def _send(method: str, url: str, *, timeout: float, **kwargs: Any) -> requests.Response:
    # Circuit breaker per remote host (breaker.py): refuses the call while the host is known to be down.
    with breaker.guard(url) as call:
        try:
            response = session().request(method, url, timeout=timeout, **kwargs)
        except egress.EgressRefused as exc:
            # -- egress policy (security): a refused address is final, never retried --
            raise TrashError(str(exc), kind="egress") from exc
        except requests.Timeout as exc:
            raise RetryableError(f"timeout calling {url}: {exc}", kind="timeout") from exc
        except requests.ConnectionError as exc:
            raise RetryableError(f"cannot connect to {url}: {exc}", kind="connection") from exc
        call.status = response.status_code
        return response


def render_path(template: str, data: Any) -> str:
    """Fill `{expression}` placeholders of a path with URL-quoted JMESPath values from the JSON body."""

    def value(match: re.Match[str]) -> str:
        try:
            found = jmespath.search(match.group(1).strip(), data)
        except jmespath.exceptions.JMESPathError as exc:
            raise TrashError(f"bad path placeholder {match.group(0)}: {exc}") from exc
        return quote("" if found is None else str(found), safe="")

    return _PLACEHOLDER.sub(value, template)


def _oauth_token(creds: dict[str, Any], timeout: float) -> str:
    key = (str(creds.get("token_url", "")), str(creds.get("client_id", "")))
    with _token_lock:
        cached = _tokens.get(key)
        if cached and cached[1] > time.time() + 10:
            return cached[0]
    data = {
        "grant_type": "client_credentials",
        "client_id": creds.get("client_id", ""),
        "client_secret": creds.get("client_secret", ""),
    }
    if creds.get("scope"):
        data["scope"] = creds["scope"]
    response = _send("POST", str(creds.get("token_url", "")), timeout=timeout, data=data)
    _classify(response)
    payload = response.json()
    token = str(payload["access_token"])
    with _token_lock:
        _tokens[key] = (token, time.time() + float(payload.get("expires_in", 300)))
    return token


def _auth(creds: dict[str, Any], timeout: float) -> tuple[dict[str, str], Any]:
    kind = str(creds.get("auth_type") or "none")
    if kind == "basic":
        return {}, (str(creds.get("username", "")), str(creds.get("password", "")))
    if kind == "bearer":
        return {"Authorization": f"Bearer {creds.get('token', '')}"}, None
    if kind == "api_key":
        # The install form saves `header_name`; `api_key_header` is the older spelling.
        header = creds.get("header_name") or creds.get("api_key_header") or "X-API-Key"
        return {str(header): str(creds.get("api_key", ""))}, None
    if kind == "oauth2_client_credentials":
        return {"Authorization": f"Bearer {_oauth_token(creds, timeout)}"}, None
    return {}, None


def call_connector(*, config: dict[str, Any], credentials: dict[str, Any] | None, body: bytes) -> Result:
    """Call a remote API through an application install: 2xx ok, 408/429/5xx retry, other 4xx trash."""
    creds = credentials or {}
    timeout = float(config.get("timeout") or DEFAULT_TIMEOUT)
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    path = render_path(str(config.get("path") or ""), data)
    kwargs: dict[str, Any] = {}
    # -- install origin (security): an install's credentials go only to its own base URL's origin --
    if credentials is not None:
        url = _install_base(config, creds, path)
        # A redirect could carry custom credential headers to another origin.
        kwargs["allow_redirects"] = False
    else:
        base = str(config.get("url") or "")
        if not base:
            raise TrashError("connector has no base URL (install base_url or url attribute)")
        url = _join(base, path)
    # -- end install origin --
    method = str(config.get("method") or "POST").upper()
    headers, auth = _auth(creds, timeout)
    kwargs.update(headers=headers, auth=auth)
    if method not in ("GET", "HEAD", "DELETE"):
        template = config.get("bodyTemplate")
        if template:
            try:
                kwargs["json"] = jmespath.search(str(template), data)
            except jmespath.exceptions.JMESPathError as exc:
                raise TrashError(f"bad bodyTemplate: {exc}") from exc
        else:
            kwargs["data"] = body
            headers["Content-Type"] = "application/json"
    response = _send(method, url, timeout=timeout, **kwargs)
    _classify(response)
    return Result(body=response.content, headers={"http-status": str(response.status_code)})


def _worker_message(response: Any) -> str:
    """What a refusing worker said: the `result-message` of its envelope (the SDKs answer 4xx that way), else the
    start of the raw response."""
    try:
        headers = response.json().get("headers") or {}
        message = str(headers.get(RESULT_MESSAGE) or "").strip()
    except (ValueError, AttributeError):
        message = ""
    return message or response.text[:500]


def _install_base(config: dict[str, Any], creds: dict[str, Any], path: str) -> str:
    """The URL a node bound to an install calls: its path below the install's base URL, never elsewhere."""
    if config.get("url"):
        raise TrashError("a node that uses an install calls the install's base URL; remove the node's url")
    base = origin.install_base_url(creds)
    if not base:
        raise TrashError("the install has no base URL")
    try:
        return origin.install_url(base, path)
    except ValueError as exc:
        raise TrashError(f"refused to send the install's credentials: {exc}") from exc


def call_worker(
    *,
    config: dict[str, Any],
    headers: dict[str, str],
    body: bytes,
    followers: list[dict[str, str]] | None = None,
    credentials: dict[str, Any] | None = None,
) -> Result:
    """POST the Orchesty envelope {body, headers} to a remote worker and read the same shape back.

    The worker is at the node's URL, or (a node bound to an install) at the install's base URL, which then also
    gets the install's credentials; like a connector's, they go to that origin only, and no redirect is followed.
    """
    action = str(config.get("action") or config.get("path") or "")
    timeout = float(config.get("timeout") or DEFAULT_TIMEOUT)
    kwargs: dict[str, Any] = {}
    if credentials is not None:
        url = _install_base(config, credentials, action)
        auth_headers, auth = _auth(credentials, timeout)
        kwargs.update(headers=auth_headers, auth=auth, allow_redirects=False)
    else:
        url = _join(str(config.get("url") or ""), action)
    if not url:
        raise TrashError("worker node has no url")
    request_headers = strip_answers(headers)
    # A repeated call carries the repeat state back, as Orchesty sends it; `to_node` already dropped it on
    # the way to another node, so these are never a previous node's answers.
    request_headers.update({k: headers[k] for k in REPEAT_KEYS if k in headers})
    # The SDK's setForceFollowers validates names against this list and answers their ids.
    request_headers[WORKER_FOLLOWERS] = json.dumps(followers or [])
    envelope = {"body": body.decode("utf-8", errors="replace"), "headers": request_headers}
    response = _send("POST", url, timeout=timeout, json=envelope, **kwargs)
    if response.status_code >= 500:
        # Orchesty trashes a worker's 500; Flowyard retries it by the node's retry policy unless `retry_on`
        # leaves out 5xx (the panel's "Retry on"), which trashes it at once as Orchesty does.
        raise RetryableError(
            f"worker HTTP {response.status_code}: {_worker_message(response)}",
            kind="5xx",
            response=response.text,
            retry_after=retry_after(response),
        )
    if response.status_code == 429:
        raise RetryableError(
            f"worker HTTP {response.status_code}: {_worker_message(response)}",
            kind="429",
            response=response.text,
            retry_after=retry_after(response),
        )
    if response.status_code >= 400:
        raise TrashError(
            f"worker HTTP {response.status_code}: {_worker_message(response)}",
            kind=str(response.status_code),
            response=response.text,
        )
    try:
        answer = response.json()
        answer_headers = {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}
    except (ValueError, AttributeError) as exc:
        raise TrashError(f"worker answer is not a {{body, headers}} JSON envelope: {response.text[:500]}") from exc
    if RESULT_CODE not in answer_headers:
        raise TrashError(f"worker answered without result-code: {response.text[:500]}", response=response.text)
    try:
        code = int(answer_headers[RESULT_CODE])
    except ValueError as exc:
        raise TrashError(f"worker answered a non-numeric result-code {answer_headers[RESULT_CODE]!r}") from exc
    answer_body = answer.get("body")
    result = Result(
        body=answer_body if isinstance(answer_body, str) else json.dumps(answer_body),
        headers=answer_headers,
        code=code,
        message=answer_headers.get(RESULT_MESSAGE, ""),
        cursor=answer_headers.get("cursor") or None,
    )
    forward = answer_headers.get("forward-to") or answer_headers.get(FORCE_TARGET_QUEUE)
    if forward:
        result.forward_to = [k.strip() for k in forward.split(",") if k.strip()]
    if config.get("batch") or code in (1010, 1011):
        try:
            items = json.loads(answer_body) if isinstance(answer_body, str) else answer_body
        except ValueError as exc:
            raise TrashError("batch worker body is not a JSON list of {body, headers}") from exc
        if not isinstance(items, list):
            raise TrashError("batch worker body is not a JSON list of {body, headers}")
        result.items = [
            Result(body=item.get("body"), headers={str(k): str(v) for k, v in (item.get("headers") or {}).items()})
            if isinstance(item, dict) and "body" in item
            else Result(body=item)
            for item in items
        ]
    return result
