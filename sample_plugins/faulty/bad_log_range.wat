;; bad_log_range: calls host.log with a range that lies outside its 64 KiB memory.
;; The host must not log an empty line for it. Expected: trap (exit 8), host.log fault.
(module
  (import "host" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (func $process (export "process") (param i32 i32 i32 i32) (result i32)
    (call $log (i32.const 0x00100000) (i32.const 16))   ;; 16 bytes at 1 MiB
    (i32.const 0)))
