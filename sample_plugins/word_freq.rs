//! word_freq: logs the 10 most frequent words of its input as `word count` lines.
//!
//!     $ wasmcli run sample_plugins/word_freq.wasm --input "the cat and The dog and THE end"
//!     the 3
//!     and 2
//!     cat 1
//!     dog 1
//!     end 1
//!
//! A word is a run of ASCII letters; words are compared ignoring case and shown in lower
//! case, and every other byte (digits, punctuation, non-ASCII) separates words. Equal
//! counts are ordered alphabetically, so the output is deterministic. No words: no lines.
//!
//! Meant for benchmarks on multi-megabyte inputs: one pass over the input feeds an
//! open-addressing hash table whose entries point into the input (no word is copied).
//! The table lives on the SDK's heap, which grows the memory as the table doubles; an
//! input too large for the memory cap ends with ERROR_MEMORY_ALLOCATION.

#![no_std]

#[path = "sdk/plugin_helpers.rs"]
mod sdk;

use sdk::{Line, PluginResult, SUCCESS};

const TOP: usize = 10;

#[no_mangle]
pub extern "C" fn alloc(len: i32) -> i32 {
    sdk::host_alloc(len)
}

#[no_mangle]
pub extern "C" fn process(input_ptr: i32, input_len: i32, _env_ptr: i32, _env_len: i32) -> i32 {
    match run(input_ptr, input_len) {
        Ok(()) => SUCCESS,
        Err(code) => code,
    }
}

fn run(input_ptr: i32, input_len: i32) -> PluginResult<()> {
    let text = sdk::input_bytes(input_ptr, input_len)?;
    let mut table = Table::new(text)?;

    let mut i = 0;
    while i < text.len() {
        if !text[i].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let start = i;
        let mut hash = FNV_OFFSET;
        while i < text.len() && text[i].is_ascii_alphabetic() {
            hash = (hash ^ lower(text[i]) as u32).wrapping_mul(FNV_PRIME);
            i += 1;
        }
        table.add(start, i - start, hash)?;
    }

    for entry in table.top() {
        let word = table.word(&entry);
        let buf = sdk::alloc_bytes(word.len() + 12)?; // " " and up to 10 digits
        let mut line = Line::new(buf);
        for &b in word {
            line.char(lower(b) as char);
        }
        line.str(" ").u64(entry.count as u64).log()?;
    }
    Ok(())
}

/// The lower-case form of an ASCII letter (bit 5 is the case bit).
fn lower(letter: u8) -> u8 {
    letter | 0x20
}

/// Whether two words (runs of ASCII letters) are the same, ignoring case.
fn same_word(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| lower(x) == lower(y))
}

// 32-bit FNV-1a over the lower-cased letters: short, and good enough for words.
const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// A distinct word: `len` bytes at `start` in the input. `count == 0` marks a free slot.
#[derive(Clone, Copy)]
struct Entry {
    start: u32,
    len: u32,
    hash: u32,
    count: u32,
}

const FREE: Entry = Entry { start: 0, len: 0, hash: 0, count: 0 };

/// Open addressing with linear probing; the capacity is a power of two, at most half used.
struct Table {
    text: &'static [u8],
    slots: &'static mut [Entry],
    used: usize,
}

impl Table {
    fn new(text: &'static [u8]) -> PluginResult<Self> {
        Ok(Table { text, slots: sdk::alloc_slice(1024, FREE)?, used: 0 })
    }

    fn word(&self, entry: &Entry) -> &'static [u8] {
        let start = entry.start as usize;
        self.text.get(start..start + entry.len as usize).unwrap_or(&[])
    }

    /// Counts one occurrence of the word `text[start..start + len]`.
    fn add(&mut self, start: usize, len: usize, hash: u32) -> PluginResult<()> {
        let word = &self.text[start..start + len];
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot.count == 0 {
                break;
            }
            if slot.hash == hash && same_word(self.word(&slot), word) {
                self.slots[i].count += 1;
                return Ok(());
            }
            i = (i + 1) & mask;
        }
        self.slots[i] = Entry { start: start as u32, len: len as u32, hash, count: 1 };
        self.used += 1;
        if self.used * 2 > self.slots.len() {
            self.grow()?;
        }
        Ok(())
    }

    /// Doubles the capacity. The bump heap never frees the old slots, so all the tables
    /// together take at most twice the final one.
    fn grow(&mut self) -> PluginResult<()> {
        let slots = sdk::alloc_slice(self.slots.len() * 2, FREE)?;
        let mask = slots.len() - 1;
        for entry in self.slots.iter().filter(|e| e.count > 0) {
            let mut i = entry.hash as usize & mask;
            while slots[i].count > 0 {
                i = (i + 1) & mask;
            }
            slots[i] = *entry;
        }
        self.slots = slots;
        Ok(())
    }

    /// The most frequent words, most frequent first; ties in alphabetical order.
    fn top(&self) -> impl Iterator<Item = Entry> {
        let mut top = [FREE; TOP];
        for entry in self.slots.iter().filter(|e| e.count > 0) {
            if !self.before(entry, &top[TOP - 1]) {
                continue;
            }
            // Insert into the sorted array, dropping its last entry.
            let mut i = TOP - 1;
            while i > 0 && self.before(entry, &top[i - 1]) {
                top[i] = top[i - 1];
                i -= 1;
            }
            top[i] = *entry;
        }
        top.into_iter().filter(|e| e.count > 0)
    }

    /// Whether `a` ranks before `b` (a free slot ranks last).
    fn before(&self, a: &Entry, b: &Entry) -> bool {
        let folded = |w: &'static [u8]| w.iter().map(|&c| lower(c));
        a.count > b.count || (a.count == b.count && folded(self.word(a)).lt(folded(self.word(b))))
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    sdk::on_panic(info)
}
