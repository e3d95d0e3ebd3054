//! panic: a Rust plugin that always panics. With `-C panic=abort` a panic ends in the
//! wasm `unreachable` instruction; the SDK's panic handler logs where it happened first.
//! Expected: trap (exit 8), with the output line `panic at faulty/panic.rs:17`.

#![no_std]

#[path = "../sdk/plugin_helpers.rs"]
mod sdk;

#[no_mangle]
pub extern "C" fn process(_input_ptr: i32, _input_len: i32, _env_ptr: i32, _env_len: i32) -> i32 {
    fail()
}

#[inline(never)] // keeps a frame of its own in the trap's backtrace
fn fail() -> i32 {
    panic!("this plugin always panics");
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    sdk::on_panic(info)
}
