"""The formats CI systems and observability stacks already read.

- `junit`: JUnit XML test reports (GitLab, Jenkins, GitHub test reporters);
- `github`: GitHub Actions error annotations and the job summary;
- `otlp`: OpenTelemetry traces, as OTLP/JSON and pushed over OTLP/HTTP;
- `prometheus`: Prometheus metrics over the stored traces, written or served.

Each module imports its format's library (prometheus_client, opentelemetry-proto,
ElementTree) inside the function that uses it: `wasmcli run` without `--junit` or
`--otlp` imports none of them. `records` is what the report formats share: one run,
from a `run --json` result (a single run or one input of a batch) or a stored trace.

This room imports downward only (the store, tracing, and the top-level tables; a run's
result arrives as its `run --json` object, so the runtime is not imported); the CLI
imports it, nothing below the CLI does.
"""
