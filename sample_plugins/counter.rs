//! counter: counts the characters, letters, digits and spaces of its input.
//!
//!     $ wasmcli run sample_plugins/counter.wasm --input "hello world"
//!     Characters: 11
//!     Letters: 10
//!     Digits: 0
//!     Spaces: 1
//!     Result = {"chars":11,"letters":10,"digits":0,"spaces":1}
//!
//! Characters are Unicode scalar values, not bytes ("héllo" has 5). Letters are alphabetic
//! characters in any script, digits are 0-9, spaces are whitespace of any kind (space,
//! tab, newline, ...). Needs no heap, so it exports no `alloc`: the host puts the input in
//! pages it adds to the memory.

#![no_std]

#[path = "sdk/plugin_helpers.rs"]
mod sdk;

use sdk::{Line, PluginResult, SUCCESS};

#[no_mangle]
pub extern "C" fn process(input_ptr: i32, input_len: i32, _env_ptr: i32, _env_len: i32) -> i32 {
    match run(input_ptr, input_len) {
        Ok(()) => SUCCESS,
        Err(code) => code,
    }
}

fn run(input_ptr: i32, input_len: i32) -> PluginResult<()> {
    // wasmcli refuses input that is not UTF-8 before it calls the plugin, so the
    // ERROR_INVALID_UTF8 this can return is defensive: other hosts may not check.
    let input = sdk::input_str(input_ptr, input_len)?;

    let (mut chars, mut letters, mut digits, mut spaces) = (0u64, 0u64, 0u64, 0u64);
    for c in input.chars() {
        chars += 1;
        if c.is_alphabetic() {
            letters += 1;
        } else if c.is_ascii_digit() {
            digits += 1;
        } else if c.is_whitespace() {
            spaces += 1;
        }
    }

    let mut buf = [0u8; 256]; // fits the longest line, even with 20-digit counts
    Line::new(&mut buf).str("Characters: ").u64(chars).log()?;
    Line::new(&mut buf).str("Letters: ").u64(letters).log()?;
    Line::new(&mut buf).str("Digits: ").u64(digits).log()?;
    Line::new(&mut buf).str("Spaces: ").u64(spaces).log()?;
    Line::new(&mut buf)
        .str("Result = {\"chars\":")
        .u64(chars)
        .str(",\"letters\":")
        .u64(letters)
        .str(",\"digits\":")
        .u64(digits)
        .str(",\"spaces\":")
        .u64(spaces)
        .str("}")
        .log()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    sdk::on_panic(info)
}
