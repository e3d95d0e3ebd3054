;; hello: greets its input. The smallest plugin of the wasmcli ABI.
;;
;; The host writes the input bytes into this module's memory and calls
;; process(input_ptr, input_len, env_ptr, env_len). Output is whatever the plugin
;; passes to host.log, one line per call. Returns 0 (SUCCESS).
(module
  (import "host" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)

  ;; "Hello, " lives at offset 16; the greeting is assembled at offset 1024, below the
  ;; pages the host adds for the input, so nothing overlaps.
  (data (i32.const 16) "Hello, ")

  (func (export "process") (param $input_ptr i32) (param $input_len i32)
                           (param $env_ptr i32) (param $env_len i32) (result i32)
    (local $out_len i32)
    ;; An input too large for the greeting buffer (1024..65535) is refused.
    (if (i32.gt_u (local.get $input_len) (i32.const 64000))
      (then (return (i32.const -3))))        ;; ERROR_BUFFER_OVERFLOW
    (memory.copy (i32.const 1024) (i32.const 16) (i32.const 7))
    (memory.copy (i32.const 1031) (local.get $input_ptr) (local.get $input_len))
    (local.set $out_len (i32.add (local.get $input_len) (i32.const 7)))
    (i32.store8 (i32.add (i32.const 1024) (local.get $out_len)) (i32.const 33)) ;; "!"
    (call $log (i32.const 1024) (i32.add (local.get $out_len) (i32.const 1)))
    (i32.const 0)))
