;; tiny_memory: a memory of exactly one page that cannot grow (maximum 1) and no alloc
;; export, so the host writes the input at offset 0 and the env after it (docs/design.md
;; section 1, case 3). Logs its input back. An input and env that do not fit in 64 KiB
;; must fail cleanly in the host, before process is called.
(module
  (import "host" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1 1)
  (func $process (export "process") (param $input_ptr i32) (param $input_len i32)
                           (param $env_ptr i32) (param $env_len i32) (result i32)
    (call $log (local.get $input_ptr) (local.get $input_len))
    (i32.const 0)))
