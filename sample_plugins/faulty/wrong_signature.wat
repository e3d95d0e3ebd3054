;; wrong_signature: exports process(input_ptr, input_len) -> i32, without the two env
;; parameters of the ABI. Expected: abi (exit 4), wrong signature of process.
(module
  (memory (export "memory") 1)
  (func $process (export "process") (param i32 i32) (result i32)
    (i32.const 0)))
