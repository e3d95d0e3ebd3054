;; divide_by_zero: divides by zero. Expected: trap (exit 8), "integer divide by zero".
(module
  (memory (export "memory") 1)
  (func $process (export "process") (param i32 i32 i32 i32) (result i32)
    ;; input_len / 0: the dividend comes from the input so the division is not constant.
    (i32.div_u (local.get 1) (i32.const 0))))
