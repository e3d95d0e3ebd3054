;; unreachable: executes the unreachable instruction, what __builtin_trap() in C compiles to.
;; Expected: trap (exit 8), "wasm `unreachable` instruction executed".
(module
  (memory (export "memory") 1)
  (func $process (export "process") (param i32 i32 i32 i32) (result i32)
    unreachable))
