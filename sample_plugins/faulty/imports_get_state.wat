;; imports_get_state: imports host.get_state, which wasmcli does not provide (only
;; host.log exists). Expected: abi (exit 4),
;; "Failed to instantiate module: import `host::get_state` not found".
(module
  (import "host" "log" (func $log (param i32 i32)))
  (import "host" "get_state" (func $get_state (result i32)))
  (memory (export "memory") 1)
  (func $process (export "process") (param i32 i32 i32 i32) (result i32)
    (call $get_state)))
