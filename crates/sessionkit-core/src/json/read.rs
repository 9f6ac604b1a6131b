//! The reader: Python's `json.loads` dialect.

use std::ops::Range;

use super::{JsonError, JsonErrorKind, MAX_DEPTH};
use crate::value::{Map, Value, int_from_decimal};

/// Reads one JSON value (Python dialect).
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let mut p = Parser::new(text);
    p.ws();
    let v = p.value(0)?;
    p.ws();
    p.end()?;
    Ok(v)
}

/// Reads a top-level object without decoding its values: returns each key with the byte
/// range of its (validated) value text. Duplicate keys keep the first position and the
/// last value, as Python's `dict` does.
pub fn split_object(text: &str) -> Result<Vec<(String, Range<usize>)>, JsonError> {
    let mut out: Vec<(String, Range<usize>)> = Vec::new();
    for_each_member(text, |key, range| {
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = range,
            None => out.push((key, range)),
        }
    })?;
    Ok(out)
}

/// [`split_object`]'s walk, handing each member to `f` in document order (a repeated key
/// is handed over again): for callers that keep the members in their own map, with no
/// list in between. On an error, `f` may already have had the members before it: drop
/// what it gathered.
pub fn for_each_member(
    text: &str,
    mut f: impl FnMut(String, Range<usize>),
) -> Result<(), JsonError> {
    let mut p = Parser::new(text);
    p.ws();
    if p.peek() != Some(b'{') {
        return Err(p.err(JsonErrorKind::NotAnObject));
    }
    p.pos += 1;
    p.ws();
    if p.peek() == Some(b'}') {
        p.pos += 1;
    } else {
        loop {
            p.ws();
            let key = p.string()?;
            p.ws();
            p.expect(b':')?;
            p.ws();
            let start = p.pos;
            p.skip(1)?;
            f(key, start..p.pos);
            p.ws();
            match p.next() {
                Some(b',') => {}
                Some(b'}') => break,
                Some(_) => return Err(p.err_back(JsonErrorKind::Unexpected)),
                None => return Err(p.err(JsonErrorKind::Eof)),
            }
        }
    }
    p.ws();
    p.end()
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            s: text.as_bytes(),
            text,
            pos: 0,
        }
    }

    fn err(&self, kind: JsonErrorKind) -> JsonError {
        JsonError {
            offset: self.pos,
            kind,
        }
    }

    fn err_back(&self, kind: JsonErrorKind) -> JsonError {
        JsonError {
            offset: self.pos.saturating_sub(1),
            kind,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn end(&self) -> Result<(), JsonError> {
        if self.pos == self.s.len() {
            Ok(())
        } else {
            Err(self.err(JsonErrorKind::Trailing))
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), JsonError> {
        match self.next() {
            Some(c) if c == b => Ok(()),
            Some(_) => Err(self.err_back(JsonErrorKind::Unexpected)),
            None => Err(self.err(JsonErrorKind::Eof)),
        }
    }

    fn literal(&mut self, word: &str) -> Result<(), JsonError> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else if self.pos + word.len() > self.s.len()
            && word.as_bytes().starts_with(&self.s[self.pos..])
        {
            Err(JsonError {
                offset: self.s.len(),
                kind: JsonErrorKind::Eof,
            })
        } else {
            Err(self.err(JsonErrorKind::Unexpected))
        }
    }

    /// The items of an object or an array, from its opening byte to `close`: `item`
    /// parses one (it starts after white space), commas separate them.
    fn items(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        self.pos += 1;
        self.ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            item(self)?;
            self.ws();
            match self.next() {
                Some(b',') => {}
                Some(c) if c == close => return Ok(()),
                Some(_) => return Err(self.err_back(JsonErrorKind::Unexpected)),
                None => return Err(self.err(JsonErrorKind::Eof)),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth >= MAX_DEPTH {
            return Err(self.err(JsonErrorKind::Depth));
        }
        match self.peek() {
            None => Err(self.err(JsonErrorKind::Eof)),
            Some(b'{') => {
                let mut map = Map::new();
                self.items(b'}', |p| {
                    let key = p.string()?;
                    p.ws();
                    p.expect(b':')?;
                    p.ws();
                    map.insert(key, p.value(depth + 1)?);
                    Ok(())
                })?;
                Ok(Value::Map(map))
            }
            Some(b'[') => {
                let mut list = Vec::new();
                self.items(b']', |p| {
                    list.push(p.value(depth + 1)?);
                    Ok(())
                })?;
                Ok(Value::List(list))
            }
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true").map(|()| Value::Bool(true)),
            Some(b'f') => self.literal("false").map(|()| Value::Bool(false)),
            Some(b'n') => self.literal("null").map(|()| Value::Null),
            Some(b'N') => self.literal("NaN").map(|()| Value::Float(f64::NAN)),
            Some(b'I') => self
                .literal("Infinity")
                .map(|()| Value::Float(f64::INFINITY)),
            Some(b'-') if self.s[self.pos + 1..].starts_with(b"Infinity") => {
                self.pos += 1 + "Infinity".len();
                Ok(Value::Float(f64::NEG_INFINITY))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err(JsonErrorKind::Unexpected)),
        }
    }

    /// Validates one value without building it.
    fn skip(&mut self, depth: usize) -> Result<(), JsonError> {
        if depth >= MAX_DEPTH {
            return Err(self.err(JsonErrorKind::Depth));
        }
        match self.peek() {
            Some(b'{') => self.items(b'}', |p| {
                p.skip_string()?;
                p.ws();
                p.expect(b':')?;
                p.ws();
                p.skip(depth + 1)
            }),
            Some(b'[') => self.items(b']', |p| p.skip(depth + 1)),
            Some(b'"') => self.skip_string(),
            Some(b'-' | b'0'..=b'9') if !self.s[self.pos..].starts_with(b"-Infinity") => {
                self.number_span().map(|_| ())
            }
            _ => self.value(depth).map(|_| ()),
        }
    }

    /// Scans a number, returning its span and whether it is an integer.
    fn number_span(&mut self) -> Result<(Range<usize>, bool), JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.skip_digits();
            }
            Some(_) => return Err(self.err(JsonErrorKind::Number)),
            None => return Err(self.err(JsonErrorKind::Eof)),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            if !self.skip_digits() {
                return Err(self.err(JsonErrorKind::Number));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            integer = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !self.skip_digits() {
                return Err(self.err(JsonErrorKind::Number));
            }
        }
        Ok((start..self.pos, integer))
    }

    /// Skips ASCII digits; whether there was at least one.
    fn skip_digits(&mut self) -> bool {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos > start
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let (span, integer) = self.number_span()?;
        let text = &self.text[span.clone()];
        if integer {
            int_from_decimal(text).ok_or(JsonError {
                offset: span.start,
                kind: JsonErrorKind::Number,
            })
        } else {
            // Rust's parser is correctly rounded, as Python's float() is; overflow gives
            // the infinities, as in Python.
            text.parse::<f64>()
                .map(Value::Float)
                .map_err(|_| JsonError {
                    offset: span.start,
                    kind: JsonErrorKind::Number,
                })
        }
    }

    fn hex4(&mut self) -> Result<u16, JsonError> {
        let Some(digits) = self.s.get(self.pos..self.pos + 4) else {
            return Err(JsonError {
                offset: self.s.len(),
                kind: JsonErrorKind::Eof,
            });
        };
        let mut v = 0u16;
        for &d in digits {
            let n = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return Err(self.err(JsonErrorKind::Escape)),
            };
            v = (v << 4) | u16::from(n);
        }
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.expect(b'"')?;
        let mut out = String::new();
        let first = self.pos;
        loop {
            let run = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // Runs end at ASCII bytes, so the slice lies on character boundaries.
            match self.peek() {
                // No escape in the whole string (nearly every key): one exact allocation.
                Some(b'"') if run == first => {
                    let whole = self.text[run..self.pos].to_owned();
                    self.pos += 1;
                    return Ok(whole);
                }
                _ => out.push_str(&self.text[run..self.pos]),
            }
            match self.next() {
                Some(b'"') => return Ok(out),
                Some(b'\\') => match self.next() {
                    Some(b'"') => out.push('"'),
                    Some(b'\\') => out.push('\\'),
                    Some(b'/') => out.push('/'),
                    Some(b'b') => out.push('\u{8}'),
                    Some(b'f') => out.push('\u{c}'),
                    Some(b'n') => out.push('\n'),
                    Some(b'r') => out.push('\r'),
                    Some(b't') => out.push('\t'),
                    Some(b'u') => {
                        let hi = self.hex4()?;
                        let c = if (0xD800..0xDC00).contains(&hi)
                            && self.s[self.pos..].starts_with(b"\\u")
                        {
                            let save = self.pos;
                            self.pos += 2;
                            let lo = self.hex4()?;
                            if (0xDC00..0xE000).contains(&lo) {
                                let c = 0x10000
                                    + ((u32::from(hi) - 0xD800) << 10)
                                    + (u32::from(lo) - 0xDC00);
                                char::from_u32(c)
                            } else {
                                self.pos = save;
                                None
                            }
                        } else {
                            char::from_u32(u32::from(hi))
                        };
                        // A lone surrogate (legal in Python strings, impossible in Rust
                        // strings) becomes U+FFFD; untouched values keep their raw text.
                        out.push(c.unwrap_or('\u{FFFD}'));
                    }
                    Some(_) => return Err(self.err_back(JsonErrorKind::Escape)),
                    None => return Err(self.err(JsonErrorKind::Eof)),
                },
                Some(_) => return Err(self.err_back(JsonErrorKind::Control)),
                None => return Err(self.err(JsonErrorKind::Eof)),
            }
        }
    }

    fn skip_string(&mut self) -> Result<(), JsonError> {
        self.expect(b'"')?;
        loop {
            match self.next() {
                Some(b'"') => return Ok(()),
                Some(b'\\') => match self.next() {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                    Some(b'u') => {
                        self.hex4()?;
                    }
                    Some(_) => return Err(self.err_back(JsonErrorKind::Escape)),
                    None => return Err(self.err(JsonErrorKind::Eof)),
                },
                Some(b) if b < 0x20 => return Err(self.err_back(JsonErrorKind::Control)),
                Some(_) => {}
                None => return Err(self.err(JsonErrorKind::Eof)),
            }
        }
    }
}
