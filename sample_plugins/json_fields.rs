//! json_fields: logs each field of a flat JSON object as `key=value`, then the env.
//!
//!     $ wasmcli run sample_plugins/json_fields.wasm --seed 42 --env name=x \
//!           --input '{"user":"ada","age":36,"admin":true,"team":null}'
//!     user=ada
//!     age=36
//!     admin=true
//!     team=null
//!     env.random_seed=42
//!     env.name=x
//!
//! Values are strings, numbers, true, false or null, printed as written in the JSON:
//! strings without their quotes but with their escapes (`\n` stays two characters), so
//! every field stays on one line. Then every env key but `timestamp` is logged as
//! `env.KEY=VALUE` (leaving out the timestamp keeps runs with `--seed` reproducible).
//!
//! Return codes: ERROR_PARSE_ERROR for input that is not a JSON object, with a line such
//! as `error: invalid JSON at byte 7: expected ':'`; ERROR_INVALID_INPUT for a nested
//! object or array; ERROR_ENV_PARSING for an env that is not a flat JSON object. wasmcli
//! always passes a valid env, so that last path is only reached from other hosts.
//! The whole input is checked before the first field is logged.
//!
//! It exports `alloc`, so the host places the input and env through it.

#![no_std]

#[path = "sdk/plugin_helpers.rs"]
mod sdk;

use sdk::{Line, PluginResult, ERROR_ENV_PARSING, ERROR_INVALID_INPUT, ERROR_PARSE_ERROR, SUCCESS};

#[no_mangle]
pub extern "C" fn alloc(len: i32) -> i32 {
    sdk::host_alloc(len)
}

#[no_mangle]
pub extern "C" fn process(input_ptr: i32, input_len: i32, env_ptr: i32, env_len: i32) -> i32 {
    match run(input_ptr, input_len, env_ptr, env_len) {
        Ok(()) => SUCCESS,
        Err(code) => code,
    }
}

fn run(input_ptr: i32, input_len: i32, env_ptr: i32, env_len: i32) -> PluginResult<()> {
    let input = sdk::input_str(input_ptr, input_len)?;
    let env = sdk::env_str(env_ptr, env_len)?;

    // Parse everything first, so that bad JSON logs an error and no fields.
    check(input, "JSON").map_err(|err| {
        if err.nested {
            ERROR_INVALID_INPUT
        } else {
            ERROR_PARSE_ERROR
        }
    })?;
    check(env, "env JSON").map_err(|_| ERROR_ENV_PARSING)?;

    // A line holds a key and a value taken from one document, plus "env." and "=",
    // so one buffer a little longer than the longer document fits every line.
    let buf = sdk::alloc_bytes(input.len().max(env.len()) + 8)?;
    for field in Fields::new(input) {
        let (key, value) = field.map_err(|_| ERROR_PARSE_ERROR)?;
        Line::new(buf).str(key).str("=").str(value).log()?;
    }
    for field in Fields::new(env) {
        let (key, value) = field.map_err(|_| ERROR_ENV_PARSING)?;
        if key != "timestamp" {
            Line::new(buf).str("env.").str(key).str("=").str(value).log()?;
        }
    }
    Ok(())
}

/// Parses all of `doc`; on failure logs where and why.
fn check(doc: &str, what: &str) -> Result<(), ParseError> {
    for field in Fields::new(doc) {
        if let Err(err) = field {
            let mut buf = [0u8; 160];
            let mut line = Line::new(&mut buf);
            let problem = if err.nested { "error: unsupported " } else { "error: invalid " };
            line.str(problem).str(what).str(" at byte ").u64(err.pos as u64);
            let _ = line.str(": ").str(err.reason).log(); // 160 bytes fit the longest reason
            return Err(err);
        }
    }
    Ok(())
}

struct ParseError {
    /// Byte offset in the document where parsing stopped.
    pos: usize,
    reason: &'static str,
    /// The document was fine up to a nested object or array, which this plugin refuses.
    nested: bool,
}

/// The fields of a flat JSON object, as (key, value) slices of the document; an error
/// ends the iteration.
struct Fields<'a> {
    text: &'a str,
    pos: usize,
    started: bool,
    done: bool,
}

impl<'a> Fields<'a> {
    fn new(text: &'a str) -> Self {
        Fields { text, pos: 0, started: false, done: false }
    }

    /// The next field, or None after the closing brace (and nothing but whitespace after it).
    fn field(&mut self) -> Result<Option<(&'a str, &'a str)>, ParseError> {
        self.skip_ws();
        if !self.started {
            self.started = true;
            self.expect(b'{', "expected '{'")?;
            self.skip_ws();
            if self.eat(b'}') {
                return self.end().map(|_| None);
            }
        } else if self.eat(b'}') {
            return self.end().map(|_| None);
        } else {
            self.expect(b',', "expected ',' or '}'")?;
            self.skip_ws();
        }
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a key in double quotes"));
        }
        let key = self.string()?;
        self.skip_ws();
        self.expect(b':', "expected ':'")?;
        self.skip_ws();
        let value = self.value()?;
        Ok(Some((key, value)))
    }

    fn end(&mut self) -> Result<(), ParseError> {
        self.skip_ws();
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("expected the end of the input")),
        }
    }

    /// A string's contents, escapes as written.
    fn string(&mut self) -> Result<&'a str, ParseError> {
        self.expect(b'"', "expected '\"'")?;
        let start = self.pos;
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => break,
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            self.pos += 1;
                            for _ in 0..4 {
                                match self.peek() {
                                    Some(c) if c.is_ascii_hexdigit() => self.pos += 1,
                                    _ => return Err(self.error("expected a hex digit")),
                                }
                            }
                        }
                        _ => return Err(self.error("invalid escape")),
                    }
                }
                Some(c) if c < 0x20 => return Err(self.error("control character in string")),
                Some(_) => self.pos += 1,
            }
        }
        let contents = self.slice(start, self.pos);
        self.pos += 1; // the closing quote
        Ok(contents)
    }

    /// A value's text: a string's contents, or a number, true, false or null as written.
    fn value(&mut self) -> Result<&'a str, ParseError> {
        match self.peek() {
            Some(b'"') => self.string(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'{' | b'[') => Err(ParseError {
                nested: true,
                ..self.error("nested objects and arrays are not supported")
            }),
            _ => Err(self.error("expected a value")),
        }
    }

    /// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    fn number(&mut self) -> Result<&'a str, ParseError> {
        let start = self.pos;
        self.eat(b'-');
        if !self.eat(b'0') {
            self.digits()?;
        }
        if self.eat(b'.') {
            self.digits()?;
        }
        if self.eat(b'e') || self.eat(b'E') {
            let _ = self.eat(b'+') || self.eat(b'-');
            self.digits()?;
        }
        Ok(self.slice(start, self.pos))
    }

    /// One or more ASCII digits.
    fn digits(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error("expected a digit"));
        }
        Ok(())
    }

    fn literal(&mut self, word: &'static str) -> Result<&'a str, ParseError> {
        let start = self.pos;
        for &b in word.as_bytes() {
            self.expect(b, "expected true, false or null")?;
        }
        Ok(self.slice(start, self.pos))
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let found = self.peek() == Some(b);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect(&mut self, b: u8, reason: &'static str) -> Result<(), ParseError> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.error(reason))
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// `text[start..end]`: both ends sit next to ASCII delimiters, so on char boundaries;
    /// `get` avoids the panic path of indexing all the same.
    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.text.get(start..end).unwrap_or("")
    }

    fn error(&self, reason: &'static str) -> ParseError {
        ParseError { pos: self.pos, reason, nested: false }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(&'a str, &'a str), ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let step = self.field();
        self.done = !matches!(step, Ok(Some(_)));
        step.transpose()
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    sdk::on_panic(info)
}
