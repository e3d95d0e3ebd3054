"""Questions about many runs, answered from the stored traces.

- `stats`: per-group run counts, success rates, failures, duration and fuel percentiles
  (nearest-rank), read from the trace summaries in one pass (no event bodies).
- `diff`: what changed between two runs (outcome, output, fuel, stage durations, events).
- `alerts`: TOML rules, their evaluation over the stored traces, and when they start firing.
- `dashboard`: one self-contained HTML report (server-side SVG), and a local server for it.

This room imports downward only (store, tracing, and the top-level tables); the CLI and
`render` import it. Nothing here is imported by `wasmcli run` unless an alert rules file
exists.
"""
