;; log_flood: logs 20480 lines of 1023 "x", 20 MiB with the newlines, far above the
;; 1 MiB output cap. Expected: io (exit 9), output above the cap.
(module
  (import "host" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (func $process (export "process") (param i32 i32 i32 i32) (result i32)
    (local $lines i32)
    ;; The line lives at 1024..2046, inside the module's own first page.
    (memory.fill (i32.const 1024) (i32.const 0x78) (i32.const 1023))
    (loop $more
      (call $log (i32.const 1024) (i32.const 1023))
      (local.set $lines (i32.add (local.get $lines) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $lines) (i32.const 20480))))
    (i32.const 0)))
