;; stack_overflow: recurses without end until the call-depth limit stops it (or, with a
;; --max-call-depth past what the engine's stack holds, the engine's call stack is exhausted).
;; Expected: trap (exit 8), "call depth limit 1000 exceeded".
(module
  (memory (export "memory") 1)
  (func $recurse (param $depth i32) (result i32)
    ;; Not a tail call: the addition runs after the call returns, so every frame stays.
    (i32.add
      (call $recurse (i32.add (local.get $depth) (i32.const 1)))
      (i32.const 1)))
  (func $process (export "process") (param i32 i32 i32 i32) (result i32)
    (call $recurse (i32.const 0))))
