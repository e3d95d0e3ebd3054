//! grow_loop: grows its memory one page at a time until memory.grow fails, then logs the
//! final size and returns SUCCESS. Used to check the memory cap: with the default 64 MB
//! cap the output is `final memory size: 1024 pages` (64 MB / 64 KiB), whatever the
//! module's initial size or the input; with a 16 MB cap it is 256 pages.

#![no_std]

#[path = "../sdk/plugin_helpers.rs"]
mod sdk;

use core::arch::wasm32;
use sdk::{Line, SUCCESS};

#[no_mangle]
pub extern "C" fn process(_input_ptr: i32, _input_len: i32, _env_ptr: i32, _env_len: i32) -> i32 {
    // memory.grow returns the old size in pages, or -1 (usize::MAX here) when it fails.
    while wasm32::memory_grow::<0>(1) != usize::MAX {}
    let mut buf = [0u8; 64];
    let _ = Line::new(&mut buf)
        .str("final memory size: ")
        .u64(wasm32::memory_size::<0>() as u64)
        .str(" pages")
        .log();
    SUCCESS
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    sdk::on_panic(info)
}
