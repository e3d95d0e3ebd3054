;; no_process: exports its memory and a "main" function, but no "process".
;; Expected: abi (exit 4), missing export process.
(module
  (memory (export "memory") 1)
  (func $main (export "main") (param i32 i32 i32 i32) (result i32)
    (i32.const 0)))
