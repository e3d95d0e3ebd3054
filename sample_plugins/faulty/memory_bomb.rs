//! memory_bomb: grows its memory 16 pages (1 MiB) at a time until memory.grow fails,
//! logs how much it got, and returns ERROR_MEMORY_ALLOCATION. It shows that the host's
//! memory cap holds: growth stops at the cap instead of exhausting the machine.
//! Expected with the default 64 MB cap and a short input (the module starts at 17 pages,
//! the host adds one for input and env):
//!     got 62 MB before memory.grow failed (memory is 1010 pages)
//! and exit 1 (plugin_error, ERROR_MEMORY_ALLOCATION).

#![no_std]

#[path = "../sdk/plugin_helpers.rs"]
mod sdk;

use core::arch::wasm32;
use sdk::{Line, ERROR_MEMORY_ALLOCATION};

const STEP_PAGES: usize = 16; // 1 MiB

#[no_mangle]
pub extern "C" fn process(_input_ptr: i32, _input_len: i32, _env_ptr: i32, _env_len: i32) -> i32 {
    let mut grows = 0u64;
    // memory.grow returns the old size in pages, or -1 (usize::MAX here) when it fails.
    while wasm32::memory_grow::<0>(STEP_PAGES) != usize::MAX {
        grows += 1;
    }
    let mut buf = [0u8; 96];
    let _ = Line::new(&mut buf)
        .str("got ")
        .u64(grows)
        .str(" MB before memory.grow failed (memory is ")
        .u64(wasm32::memory_size::<0>() as u64)
        .str(" pages)")
        .log();
    ERROR_MEMORY_ALLOCATION
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    sdk::on_panic(info)
}
