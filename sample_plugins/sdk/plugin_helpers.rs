//! The wasmcli plugin SDK for Rust: return codes, `host.log`, input and env access, a bump
//! heap, a line builder and a panic handler, for `#![no_std]` plugins built without cargo.
//!
//! A plugin includes this file as a module of its single source file:
//!
//! ```ignore
//! #![no_std]
//! #[path = "sdk/plugin_helpers.rs"]
//! mod sdk;
//!
//! #[no_mangle]
//! pub extern "C" fn process(input_ptr: i32, input_len: i32, _env_ptr: i32, _env_len: i32) -> i32 {
//!     match sdk::input_str(input_ptr, input_len) {
//!         Ok(text) => {
//!             sdk::log(text);
//!             sdk::SUCCESS
//!         }
//!         Err(code) => code,
//!     }
//! }
//!
//! #[panic_handler]
//! fn panic(info: &core::panic::PanicInfo) -> ! {
//!     sdk::on_panic(info)
//! }
//! ```
//!
//! Build with `rustc --target wasm32-unknown-unknown --crate-type cdylib -C panic=abort`
//! (see sample_plugins/Makefile). Nothing here uses `core::fmt`, which would add kilobytes
//! to every plugin. Plugins use only part of this file, hence the `allow(dead_code)`.

#![allow(dead_code)]

use core::arch::wasm32;
use core::ptr::NonNull;

// Plugin return codes: a mirror of wasmcli/return_codes.py, kept in sync by
// tests/test_sdk_sync.py.
pub const SUCCESS: i32 = 0;
pub const ERROR_INVALID_UTF8: i32 = -1;
pub const ERROR_INVALID_INPUT: i32 = -2;
pub const ERROR_BUFFER_OVERFLOW: i32 = -3;
pub const ERROR_MEMORY_ALLOCATION: i32 = -4;
pub const ERROR_PARSE_ERROR: i32 = -5;
pub const ERROR_ENV_PARSING: i32 = -6;
pub const ERROR_UNKNOWN: i32 = -99;

/// `Err` carries one of the return codes above, so `process` can end with
/// `match run(..) { Ok(()) => SUCCESS, Err(code) => code }`.
pub type PluginResult<T> = Result<T, i32>;

pub const PAGE_SIZE: usize = 65536;

mod host {
    #[link(wasm_import_module = "host")]
    extern "C" {
        /// Appends the bytes `[ptr, ptr + len)` to the run's output as one line.
        pub fn log(ptr: *const u8, len: usize);
    }
}

/// Appends one line to the run's output (lines are joined with "\n" by the host).
pub fn log(line: &str) {
    // SAFETY: the host only reads the range, which is a live `&str` in our memory, and a
    // `&str` is valid UTF-8 as the host requires.
    unsafe { host::log(line.as_ptr(), line.len()) }
}

// ---------------------------------------------------------------------------------------
// Input and env

/// The bytes the host placed at `(ptr, len)`, once the range is checked against memory.
///
/// `Err(ERROR_INVALID_INPUT)` for a negative length or a range outside memory. A range
/// may not start at address 0 either: Rust cannot form a slice at the null address, and
/// the host only writes there into a memory that cannot grow, which rustc never declares.
pub fn bytes_at(ptr: i32, len: i32) -> PluginResult<&'static [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if len < 0 || ptr == 0 {
        return Err(ERROR_INVALID_INPUT);
    }
    let (start, len) = (ptr as u32 as usize, len as usize);
    let memory_bytes = wasm32::memory_size::<0>().saturating_mul(PAGE_SIZE);
    match start.checked_add(len) {
        Some(end) if end <= memory_bytes => {}
        _ => return Err(ERROR_INVALID_INPUT),
    }
    // SAFETY: the range is inside linear memory and not null. The host leaves it alone
    // during the call and the heap below never hands it out (it only uses pages it grew).
    Ok(unsafe { core::slice::from_raw_parts(start as *const u8, len) })
}

/// The input as bytes: `process`'s `(input_ptr, input_len)`.
pub fn input_bytes(ptr: i32, len: i32) -> PluginResult<&'static [u8]> {
    bytes_at(ptr, len)
}

/// The input as text; `Err(ERROR_INVALID_UTF8)` when it is not UTF-8. wasmcli refuses
/// such input before calling the plugin, so for it this check is defensive.
pub fn input_str(ptr: i32, len: i32) -> PluginResult<&'static str> {
    core::str::from_utf8(bytes_at(ptr, len)?).map_err(|_| ERROR_INVALID_UTF8)
}

/// The env JSON text, e.g. `{"timestamp":1700000000000000000,"random_seed":42,"name":"x"}`.
/// Any problem with it is `Err(ERROR_ENV_PARSING)`.
pub fn env_str(ptr: i32, len: i32) -> PluginResult<&'static str> {
    let bytes = bytes_at(ptr, len).map_err(|_| ERROR_ENV_PARSING)?;
    core::str::from_utf8(bytes).map_err(|_| ERROR_ENV_PARSING)
}

// ---------------------------------------------------------------------------------------
// Heap: a bump allocator over pages this module grows itself. Nothing is ever freed,
// which suits a plugin that handles one call and is thrown away.
//
// It never assumes that memory above its data is free: the host may have put the input
// and env there (docs/design.md section 1), so every region comes from a memory.grow call.

static mut HEAP_NEXT: usize = 0;
static mut HEAP_END: usize = 0;

/// Reserves `size` bytes aligned to `align` (a power of two) and returns their address.
fn heap_reserve(size: usize, align: usize) -> PluginResult<usize> {
    const FAIL: i32 = ERROR_MEMORY_ALLOCATION;
    let align_up = |addr: usize| addr.checked_add(align - 1).map(|a| a & !(align - 1));
    // SAFETY: wasm32 plugins are single-threaded, so nothing else touches these statics.
    unsafe {
        let mut start = align_up(HEAP_NEXT).ok_or(FAIL)?;
        if start.checked_add(size).map_or(true, |end| end > HEAP_END) {
            // Enough pages for `size` even if the region starts unaligned.
            let pages = size.checked_add(align + PAGE_SIZE - 1).ok_or(FAIL)? / PAGE_SIZE;
            let old_pages = wasm32::memory_grow::<0>(pages);
            if old_pages == usize::MAX {
                return Err(FAIL); // the memory's maximum or the host's cap was reached
            }
            let base = old_pages.checked_mul(PAGE_SIZE).ok_or(FAIL)?;
            if base != HEAP_END {
                // The first region, or someone else grew memory since ours: start afresh.
                HEAP_NEXT = base;
            }
            HEAP_END = base.checked_add(pages * PAGE_SIZE).ok_or(FAIL)?;
            start = align_up(HEAP_NEXT).ok_or(FAIL)?;
        }
        HEAP_NEXT = start + size;
        Ok(start)
    }
}

/// A new slice of `len` elements, each set to `fill`, that lives until the call ends.
/// `Err(ERROR_MEMORY_ALLOCATION)` when memory cannot grow enough.
pub fn alloc_slice<T: Copy>(len: usize, fill: T) -> PluginResult<&'static mut [T]> {
    let size = len.checked_mul(core::mem::size_of::<T>()).ok_or(ERROR_MEMORY_ALLOCATION)?;
    if size == 0 {
        // SAFETY: an empty slice, or one of zero-sized values, needs no memory.
        return Ok(unsafe { core::slice::from_raw_parts_mut(NonNull::dangling().as_ptr(), len) });
    }
    let ptr = heap_reserve(size, core::mem::align_of::<T>())? as *mut T;
    // SAFETY: the region is fresh, in bounds, aligned, handed out only once, and every
    // element is initialized before the slice is formed.
    unsafe {
        for i in 0..len {
            ptr.add(i).write(fill);
        }
        Ok(core::slice::from_raw_parts_mut(ptr, len))
    }
}

/// A new zeroed byte buffer; see [`alloc_slice`].
pub fn alloc_bytes(len: usize) -> PluginResult<&'static mut [u8]> {
    alloc_slice(len, 0u8)
}

/// The body of the ABI's optional `alloc(len) -> ptr` export, which the host then uses to
/// place the input and env. A plugin that has a heap exports it like this:
///
/// ```ignore
/// #[no_mangle]
/// pub extern "C" fn alloc(len: i32) -> i32 {
///     sdk::host_alloc(len)
/// }
/// ```
///
/// Even `alloc(0)` returns a real address. When memory cannot grow it traps instead of
/// returning an address the host would write through (0 is a valid address in wasm).
pub fn host_alloc(len: i32) -> i32 {
    if len < 0 {
        wasm32::unreachable()
    }
    match heap_reserve((len as usize).max(1), 8) {
        Ok(addr) => addr as i32,
        Err(_) => wasm32::unreachable(),
    }
}

// ---------------------------------------------------------------------------------------
// Line: builds one log line in a caller's buffer, e.g.
//
//     let mut buf = [0u8; 64];
//     Line::new(&mut buf).str("Letters: ").u64(10).log()?;
//
// A piece that does not fit is dropped whole and the line remembers it overflowed, so the
// buffer always holds valid UTF-8 and `log` reports the overflow instead of cutting text.

pub struct Line<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflowed: bool,
}

impl<'a> Line<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Line { buf, len: 0, overflowed: false }
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        let end = self.len + s.len();
        match self.buf.get_mut(self.len..end) {
            Some(dest) if !self.overflowed => {
                dest.copy_from_slice(s.as_bytes());
                self.len = end;
            }
            _ => self.overflowed = true,
        }
        self
    }

    pub fn char(&mut self, c: char) -> &mut Self {
        self.str(c.encode_utf8(&mut [0u8; 4]))
    }

    pub fn u64(&mut self, mut n: u64) -> &mut Self {
        let mut digits = [0u8; 20]; // u64::MAX has 20 digits
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        // ASCII digits are valid UTF-8.
        self.str(core::str::from_utf8(&digits[i..]).unwrap_or("?"))
    }

    pub fn i64(&mut self, n: i64) -> &mut Self {
        if n < 0 {
            self.str("-");
        }
        self.u64(n.unsigned_abs())
    }

    pub fn as_str(&self) -> &str {
        // Only whole `&str`s were copied in, so this never fails.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    /// Logs the line, or returns `Err(ERROR_BUFFER_OVERFLOW)` if a piece did not fit.
    pub fn log(&self) -> PluginResult<()> {
        if self.overflowed {
            return Err(ERROR_BUFFER_OVERFLOW);
        }
        log(self.as_str());
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Panics

/// The body of a plugin's `#[panic_handler]`: logs `panic at FILE:LINE`, then executes
/// `unreachable`, which the host reports as a trap (exit 8). Only the location is logged:
/// the message would need `core::fmt`.
pub fn on_panic(info: &core::panic::PanicInfo) -> ! {
    let mut buf = [0u8; 256];
    let mut line = Line::new(&mut buf);
    line.str("panic");
    if let Some(at) = info.location() {
        line.str(" at ").str(at.file()).str(":").u64(at.line() as u64);
    }
    if line.log().is_err() {
        log("panic");
    }
    wasm32::unreachable()
}
