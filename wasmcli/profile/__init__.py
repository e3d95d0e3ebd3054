"""Fuel profiles (`run --profile`): the model read from a trace, and what is made of it.

`model` reads the profile a profiled run left in its trace; `folded` and `speedscope`
write it in those formats, `flamegraph` draws it as an interactive SVG. Only the CLI
imports this room; nothing here imports an engine.
"""
