"""What the host reads back from the code wasmcli adds to a plugin (wasm/pipeline.py).

Both adapters compile every plugin with the call-depth limit counted in the module. The
host asks three things of it, the same way on both engines:
- was the module compiled for this run's limit? Right after instantiation (the start
  function, if any, has given back every frame it took) the depth global holds the limit
  it was compiled with; anything else is a stale or foreign artifact, never run;
- did the call-depth limit trap? Its global then holds DEPTH_EXCEEDED;
- what did the added code cost? Each entry refunded CALL_COST into the overhead global;
  exits not taken yet (frames still open when a run stopped) had not cost their part.
The fuel the plugin's own code used is the fuel counted less that cost.
"""

from __future__ import annotations

from collections.abc import Callable

from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.wasm import DEPTH_EXCEEDED, DEPTH_EXPORT, OVERHEAD_EXPORT
from wasmcli.wasm.depth import EXIT_COST


class Instrumentation:
    """The added globals of one instance, read through `read(export_name)`."""

    def __init__(self, max_depth: int | None, read: Callable[[str], int]) -> None:
        self.max_depth = max_depth
        self.read = read

    @classmethod
    def of_instance(
        cls, max_depth: int | None, read: Callable[[str], int], profiled: bool = False
    ) -> Instrumentation | None:
        """The instrumentation of a new instance (None when the run counts no depth and
        is not profiled), checked: an instance whose code counts to another limit than
        this run's is refused (an internal error), never run."""
        if max_depth is None:
            return cls(None, read) if profiled else None
        found = cls(max_depth, read)
        compiled_for = read(DEPTH_EXPORT)
        if compiled_for != max_depth:
            raise WasmcliError(
                ErrorKind.INTERNAL,
                f"the compiled module counts call depth to {compiled_for}, not {max_depth}: "
                "a stale compiled module in the cache (remove the cache folder)",
            )
        return found

    def depth_exceeded(self) -> bool:
        return self.max_depth is not None and self.read(DEPTH_EXPORT) == DEPTH_EXCEEDED

    def fuel(self) -> int:
        """The fuel the added code has cost so far."""
        if self.max_depth is None:
            return self.read(OVERHEAD_EXPORT)
        frames_left = self.read(DEPTH_EXPORT)
        open_frames = self.max_depth - max(frames_left, 0)
        return self.read(OVERHEAD_EXPORT) - EXIT_COST * open_frames
