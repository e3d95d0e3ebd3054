;; infinite_loop: never returns. Expected: timeout (exit 5) under the default limits;
;; out_of_fuel (exit 6) when --fuel is low, e.g. --fuel 1000000.
;;
;; Fuel counts instructions, not time. Each turn of this loop is a chain of square roots,
;; each waiting for the one before, so it takes several nanoseconds per unit of fuel and
;; the default fuel (1,000,000 per ms of the time limit) outlasts the wall-clock limit.
;; A bare (loop (br 0)) runs at more than one unit of fuel per nanosecond and would end
;; out of fuel instead.
(module
  (memory (export "memory") 1)
  (func $process (export "process") (param i32 i32 i32 i32) (result i32)
    (local $x f64)
    (local.set $x (f64.const 2))
    (loop $forever
      (local.set $x
        (f64.sqrt (f64.sqrt (f64.sqrt (f64.sqrt
          (f64.sqrt (f64.sqrt (f64.sqrt (f64.sqrt (local.get $x))))))))))
      (br $forever))
    (i32.const 0)))
