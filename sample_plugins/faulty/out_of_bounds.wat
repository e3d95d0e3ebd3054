;; out_of_bounds: loads from 1 GiB, far outside its memory (and above any memory cap).
;; Expected: trap (exit 8), "out of bounds memory access".
(module
  (memory (export "memory") 1)
  (func $process (export "process") (param i32 i32 i32 i32) (result i32)
    (drop (i32.load (i32.const 0x40000000)))
    (i32.const 0)))
