;; start_trap: its start function traps, so instantiation fails before process is called.
;; Expected: abi (exit 4), start function failed.
(module
  (memory (export "memory") 1)
  (func $init
    unreachable)
  (start $init)
  (func $process (export "process") (param i32 i32 i32 i32) (result i32)
    (i32.const 0)))
