;; chatty: logs "tick" 5,000 times and returns SUCCESS. The trace keeps the first 1,000
;; log lines as events and one note for the other 4,000 (a flood that the output cap
;; allows). Used to record tests/fixtures/traces/chatty.json.
(module
  (import "host" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "tick")
  (func (export "process") (param i32 i32 i32 i32) (result i32)
    (local $n i32)
    (loop $more
      (call $log (i32.const 16) (i32.const 4))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $n) (i32.const 5000))))
    (i32.const 0)))
