"""wasmcli: run WebAssembly plugins under limits and see exactly what they did."""

__version__ = "0.1.0"
