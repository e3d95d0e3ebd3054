;; big_memory: declares an initial memory of 2048 pages (128 MB), above the default
;; 64 MB limit. Expected: memory_limit (exit 7), "Memory limit exceeded: 128 MB > 64 MB".
(module
  (memory (export "memory") 2048)
  (func $process (export "process") (param i32 i32 i32 i32) (result i32)
    (i32.const 0)))
