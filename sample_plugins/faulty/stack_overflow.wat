;; stack_overflow: recurses without end until the engine's call stack is exhausted.
;; Expected: trap (exit 8), "call stack exhausted".
(module
  (memory (export "memory") 1)
  (func $recurse (param $depth i32) (result i32)
    ;; Not a tail call: the addition runs after the call returns, so every frame stays.
    (i32.add
      (call $recurse (i32.add (local.get $depth) (i32.const 1)))
      (i32.const 1)))
  (func $process (export "process") (param i32 i32 i32 i32) (result i32)
    (call $recurse (i32.const 0))))
