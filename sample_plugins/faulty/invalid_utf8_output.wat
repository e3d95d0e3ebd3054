;; invalid_utf8_output: logs a line that is not UTF-8 ("caf" then Latin-1 0xE9 for "é",
;; then 0xFF 0xFE, bytes UTF-8 never uses). Expected: io (exit 9), invalid UTF-8 output.
(module
  (import "host" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "caf\e9 \ff\fe")
  (func $process (export "process") (param i32 i32 i32 i32) (result i32)
    (call $log (i32.const 16) (i32.const 7))
    (i32.const 0)))
