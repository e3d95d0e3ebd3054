"""Where and how to send traces, from options and the OpenTelemetry variables.

The exporter variables mean what the OpenTelemetry specification says, so a job that
already points its services at a collector points wasmcli there too:

- the endpoint: `--otlp-endpoint URL` (a base URL like OTEL_EXPORTER_OTLP_ENDPOINT),
  else OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full URL, used as is), else
  OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`, else `http://localhost:4318/v1/traces`;
- headers: OTEL_EXPORTER_OTLP_HEADERS, then OTEL_EXPORTER_OTLP_TRACES_HEADERS on top
  (`key=value,key2=value2`, values percent-encoded);
- OTEL_EXPORTER_OTLP_TIMEOUT / _TRACES_TIMEOUT (ms) and OTEL_EXPORTER_OTLP_COMPRESSION /
  _TRACES_COMPRESSION (`gzip` or `none`);
- the resource: OTEL_RESOURCE_ATTRIBUTES (`key=value,...`) adds attributes, and
  OTEL_SERVICE_NAME replaces `service.name=wasmcli`.

A value that cannot be read is a usage error naming the variable (never its value:
headers carry credentials).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from wasmcli.errors import ErrorKind, WasmcliError

DEFAULT_ENDPOINT: Final = "http://localhost:4318"
TRACES_PATH: Final = "/v1/traces"
DEFAULT_TIMEOUT_S: Final = 10.0


def _usage(message: str) -> WasmcliError:
    return WasmcliError(ErrorKind.USAGE, message)


@dataclass(frozen=True)
class OtlpTarget:
    """Where a push goes and what it sends along."""

    url: str  # the full URL to POST to
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # may hold secrets
    timeout_s: float = DEFAULT_TIMEOUT_S
    gzip: bool = False


def traces_url(endpoint_option: str | None, environ: Mapping[str, str]) -> str:
    """The URL traces are POSTed to (see the module's doc for the order)."""
    if endpoint_option:
        url, source = _base_plus_path(endpoint_option), "--otlp-endpoint"
    elif environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip():
        url = environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].strip()
        source = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    elif environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip():
        url = _base_plus_path(environ["OTEL_EXPORTER_OTLP_ENDPOINT"])
        source = "OTEL_EXPORTER_OTLP_ENDPOINT"
    else:
        return DEFAULT_ENDPOINT + TRACES_PATH
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _usage(f"{source} must be an http:// or https:// URL (got {url!r})")
    return url


def _base_plus_path(base: str) -> str:
    """A base URL with `/v1/traces` added (kept when it is already there)."""
    base = base.strip()
    if base.rstrip("/").endswith(TRACES_PATH):
        return base
    return base.rstrip("/") + TRACES_PATH


def parse_pairs(text: str, variable: str) -> dict[str, str]:
    """`key=value,key2=value2` with percent-encoded values (the W3C baggage form the
    OTEL_* variables use); empty items are skipped."""
    pairs: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise _usage(f"{variable}: each item must be key=value (separated by commas)")
        pairs[unquote(key.strip())] = unquote(value.strip())
    return pairs


def headers_from_env(environ: Mapping[str, str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for variable in ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"):
        if environ.get(variable):
            headers.update(parse_pairs(environ[variable], variable))
    return headers


def timeout_from_env(environ: Mapping[str, str], default_s: float) -> float:
    for variable in ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"):
        text = environ.get(variable, "").strip()
        if text:
            try:
                milliseconds = float(text)
            except ValueError:
                raise _usage(f"{variable} must be a number of milliseconds") from None
            if not 0 < milliseconds <= 3_600_000:
                raise _usage(f"{variable} must be between 1 and 3600000 ms")
            return milliseconds / 1000
    return default_s


def gzip_from_env(environ: Mapping[str, str]) -> bool:
    for variable in ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"):
        text = environ.get(variable, "").strip().lower()
        if text:
            if text not in ("gzip", "none"):
                raise _usage(f"{variable} must be gzip or none")
            return text == "gzip"
    return False


def target_from_env(
    endpoint_option: str | None,
    environ: Mapping[str, str],
    *,
    default_timeout_s: float = DEFAULT_TIMEOUT_S,
    max_timeout_s: float | None = None,
) -> OtlpTarget:
    timeout = timeout_from_env(environ, default_timeout_s)
    if max_timeout_s is not None:
        timeout = min(timeout, max_timeout_s)
    return OtlpTarget(
        url=traces_url(endpoint_option, environ),
        headers=headers_from_env(environ),
        timeout_s=timeout,
        gzip=gzip_from_env(environ),
    )


def resource_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """The resource's attributes: wasmcli's, OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME."""
    from wasmcli.integrations.otlp.spans import resource_attributes

    extra: dict[str, str] = {}
    if environ.get("OTEL_RESOURCE_ATTRIBUTES"):
        extra.update(parse_pairs(environ["OTEL_RESOURCE_ATTRIBUTES"], "OTEL_RESOURCE_ATTRIBUTES"))
    if environ.get("OTEL_SERVICE_NAME", "").strip():
        extra["service.name"] = environ["OTEL_SERVICE_NAME"].strip()
    return resource_attributes(extra)
