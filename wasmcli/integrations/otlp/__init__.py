"""OpenTelemetry traces: every stored run as one OTLP trace.

- `spans`: a run's spans (the run, load and its steps, instantiate, `process`), its events
  as span events, and the `ExportTraceServiceRequest` that carries them, built with the
  OpenTelemetry project's own protobuf classes (`opentelemetry-proto`);
- `encoding`: that request as OTLP/JSON (`traces export --format otlp`);
- `config`: what the OTEL_EXPORTER_OTLP_* and OTEL_* variables say;
- `push`: OTLP/HTTP with protobuf bodies, in batches of bounded size (`traces push`,
  `run --otlp`).

Ids are derived from the wasmcli trace id (the OTLP trace id is its 16 bytes, each span
id a hash of it and the span's place in the run), so sending the same run twice gives
the same spans: a backend keeps one copy.
"""
