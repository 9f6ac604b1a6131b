//! Python-compatible JSON: what `json.dumps(obj, separators=(",", ":"))` writes and what
//! `json.loads` reads.
//!
//! Django's session serializer is exactly that, and its output is read back as latin-1, so
//! the writer escapes every character outside printable ASCII (`ensure_ascii`, lower-case
//! hex, surrogate pairs above U+FFFF) and writes floats in Python's `repr` form (`1e+16`,
//! `1e-07`, `-0.0`, `NaN`, `Infinity`). The reader accepts Python's extensions: `NaN`,
//! `Infinity`, `-Infinity`, integers of any size, and duplicate keys (the last one wins,
//! at the first one's position).
//!
//! ```
//! use sessionkit_core::json;
//!
//! let v = json::parse(r#"{"n": 1180591620717411303424, "x": NaN, "s": "caf\u00e9"}"#).unwrap();
//! assert_eq!(json::to_string(&v), r#"{"n":1180591620717411303424,"x":NaN,"s":"caf\u00e9"}"#);
//! ```

use std::fmt::Write as _;
use std::ops::Range;

use crate::value::{Map, Value, int_from_decimal};

/// The deepest nesting the reader accepts; deeper input is refused rather than risking the
/// stack.
pub const MAX_DEPTH: usize = 256;

/// Why a JSON text could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at byte {offset}: {kind}")]
pub struct JsonError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was wrong.
    pub kind: JsonErrorKind,
}

/// The kinds of [`JsonError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// The text ended in the middle of a value.
    #[error("unexpected end of input")]
    Eof,
    /// A character that cannot start or continue a value here.
    #[error("unexpected character")]
    Unexpected,
    /// A malformed number.
    #[error("invalid number")]
    Number,
    /// A malformed escape sequence in a string.
    #[error("invalid escape")]
    Escape,
    /// A raw control character inside a string (Python's strict mode refuses these).
    #[error("control character in string")]
    Control,
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("nested too deeply")]
    Depth,
    /// Text after the value.
    #[error("trailing characters")]
    Trailing,
    /// The top-level value is not an object (split_object only).
    #[error("expected an object")]
    NotAnObject,
}

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
    let mut p = Parser::new(text);
    p.ws();
    if p.peek() != Some(b'{') {
        return Err(p.err(JsonErrorKind::NotAnObject));
    }
    p.pos += 1;
    let mut out: Vec<(String, Range<usize>)> = Vec::new();
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
            let range = start..p.pos;
            match out.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = range,
                None => out.push((key, range)),
            }
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
    p.end()?;
    Ok(out)
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

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth >= MAX_DEPTH {
            return Err(self.err(JsonErrorKind::Depth));
        }
        match self.peek() {
            None => Err(self.err(JsonErrorKind::Eof)),
            Some(b'{') => {
                self.pos += 1;
                let mut map = Map::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Value::Map(map));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.ws();
                    self.expect(b':')?;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    map.insert(key, v);
                    self.ws();
                    match self.next() {
                        Some(b',') => {}
                        Some(b'}') => return Ok(Value::Map(map)),
                        Some(_) => return Err(self.err_back(JsonErrorKind::Unexpected)),
                        None => return Err(self.err(JsonErrorKind::Eof)),
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut list = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(Value::List(list));
                }
                loop {
                    self.ws();
                    list.push(self.value(depth + 1)?);
                    self.ws();
                    match self.next() {
                        Some(b',') => {}
                        Some(b']') => return Ok(Value::List(list)),
                        Some(_) => return Err(self.err_back(JsonErrorKind::Unexpected)),
                        None => return Err(self.err(JsonErrorKind::Eof)),
                    }
                }
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
            Some(b'{') => {
                self.pos += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.skip_string()?;
                    self.ws();
                    self.expect(b':')?;
                    self.ws();
                    self.skip(depth + 1)?;
                    self.ws();
                    match self.next() {
                        Some(b',') => {}
                        Some(b'}') => return Ok(()),
                        Some(_) => return Err(self.err_back(JsonErrorKind::Unexpected)),
                        None => return Err(self.err(JsonErrorKind::Eof)),
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.skip(depth + 1)?;
                    self.ws();
                    match self.next() {
                        Some(b',') => {}
                        Some(b']') => return Ok(()),
                        Some(_) => return Err(self.err_back(JsonErrorKind::Unexpected)),
                        None => return Err(self.err(JsonErrorKind::Eof)),
                    }
                }
            }
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
                while let Some(b'0'..=b'9') = self.peek() {
                    self.pos += 1;
                }
            }
            Some(_) => return Err(self.err(JsonErrorKind::Number)),
            None => return Err(self.err(JsonErrorKind::Eof)),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            let digits = self.pos;
            while let Some(b'0'..=b'9') = self.peek() {
                self.pos += 1;
            }
            if self.pos == digits {
                return Err(self.err(JsonErrorKind::Number));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            integer = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            let digits = self.pos;
            while let Some(b'0'..=b'9') = self.peek() {
                self.pos += 1;
            }
            if self.pos == digits {
                return Err(self.err(JsonErrorKind::Number));
            }
        }
        Ok((start..self.pos, integer))
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
        loop {
            let run = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // Runs end at ASCII bytes, so the slice lies on character boundaries.
            out.push_str(&self.text[run..self.pos]);
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

/// Writes a value as Python's `json.dumps(v, separators=(",", ":"))` would.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Appends a value as Python-compatible JSON.
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::BigInt(b) => out.push_str(b.as_str()),
        Value::Float(f) => write_float(out, *f),
        Value::String(s) => write_str(out, s),
        Value::List(l) | Value::Tuple(l) => {
            out.push('[');
            for (i, v) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, v);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

/// Appends a string literal with Python's `ensure_ascii` escaping.
pub fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(&s[run..i]);
        if b >= 0x80 {
            let c = s[i..].chars().next().expect("char boundary");
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{:04x}", u);
            }
            i += c.len_utf8();
        } else {
            match b {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                0x08 => out.push_str("\\b"),
                0x0c => out.push_str("\\f"),
                _ => {
                    let _ = write!(out, "\\u{:04x}", b);
                }
            }
            i += 1;
        }
        run = i;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// Appends a float in Python's `repr` form.
///
/// Python uses the shortest digits that round-trip, in positional notation when the
/// decimal exponent is in `-4..16`, else in scientific notation with a signed exponent of
/// at least two digits; integral floats keep a `.0`.
pub fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // Rust's `{:e}` prints the shortest round-trip digits: "d[.ddd]e[-]x".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("integer exponent");
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if neg {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn py_float(f: f64) -> String {
        let mut s = String::new();
        write_float(&mut s, f);
        s
    }

    #[test]
    fn floats_print_as_python_repr() {
        let cases = [
            (0.1, "0.1"),
            (1.0, "1.0"),
            (1e16, "1e+16"),
            (1e-7, "1e-07"),
            (-0.0, "-0.0"),
            (123456789.123, "123456789.123"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (2.5, "2.5"),
            (100.0, "100.0"),
            (-1.25e-10, "-1.25e-10"),
            (1_234_567_890_123_456.8, "1234567890123456.8"),
            (12_345_678_901_234_568.0, "1.2345678901234568e+16"),
        ];
        for (f, want) in cases {
            assert_eq!(py_float(f), want, "{f:e}");
        }
    }

    #[test]
    fn strings_escape_like_ensure_ascii() {
        let mut s = String::new();
        write_str(&mut s, "\n\t\r\u{8}\u{c}\0\u{1f}\u{7f}\u{2028}\u{2029}");
        assert_eq!(s, r#""\n\t\r\b\f\u0000\u001f\u007f\u2028\u2029""#);
        s.clear();
        write_str(&mut s, "café 日本 👍");
        assert_eq!(s, r#""caf\u00e9 \u65e5\u672c \ud83d\udc4d""#);
        s.clear();
        write_str(&mut s, "</script>&<>'\"\\");
        assert_eq!(s, r#""</script>&<>'\"\\""#);
    }

    #[test]
    fn parser_accepts_python_extensions() {
        let v = parse("{\"a\": NaN, \"b\": -Infinity, \"c\": Infinity, \"d\": 1e400}").unwrap();
        let Value::Map(m) = v else { panic!() };
        assert!(matches!(m["a"], Value::Float(f) if f.is_nan()));
        assert_eq!(m["b"], Value::Float(f64::NEG_INFINITY));
        assert_eq!(m["c"], Value::Float(f64::INFINITY));
        assert_eq!(m["d"], Value::Float(f64::INFINITY));
    }

    #[test]
    fn duplicate_keys_last_wins_first_position() {
        let v = parse(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(to_string(&v), r#"{"a":3,"b":2}"#);
        let parts = split_object(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], ("a".to_owned(), 17..18));
    }

    #[test]
    fn split_object_validates_values() {
        assert!(split_object(r#"{"a":[1,2}"#).is_err());
        assert!(split_object(r#"{"a":tru}"#).is_err());
        assert!(split_object(r#"[1]"#).is_err());
        assert!(split_object(r#"{"a":1} x"#).is_err());
        assert!(split_object("{\"a\":\"\u{1}\"}").is_err());
        let ok = split_object(r#" { "a" : [1, {"b": "c"}] , "n": -Infinity } "#).unwrap();
        assert_eq!(ok.len(), 2);
    }

    #[test]
    fn errors_are_refused_not_panics() {
        for bad in [
            "",
            "{",
            "{\"a\"",
            "{\"a\":",
            "[1,",
            "\"\\u12\"",
            "\"\\x\"",
            "-",
            "1.",
            "1e",
            "01x",
            "tru",
            "nul",
            "-Inf",
            "{\"a\" 1}",
            "[1 2]",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(&deep).unwrap_err().kind, JsonErrorKind::Depth);
    }

    #[test]
    fn surrogates() {
        assert_eq!(
            parse(r#""\ud83d\udc4d""#).unwrap(),
            Value::String("👍".into())
        );
        assert_eq!(
            parse(r#""\ud83d""#).unwrap(),
            Value::String("\u{FFFD}".into())
        );
        assert_eq!(
            parse(r#""\ud83dx""#).unwrap(),
            Value::String("\u{FFFD}x".into())
        );
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            any::<u128>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
                .prop_map(Value::Float),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
                prop::collection::vec((any::<String>(), inner), 0..6)
                    .prop_map(|kv| Value::Map(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn write_then_parse_round_trips(v in arb_value()) {
            let text = to_string(&v);
            prop_assert!(text.is_ascii());
            prop_assert_eq!(parse(&text).unwrap(), v);
        }

        #[test]
        fn floats_round_trip_through_python_repr(f in any::<f64>()) {
            let s = py_float(f);
            let back = parse(&s).unwrap();
            match back {
                Value::Float(g) => prop_assert!(g == f || (g.is_nan() && f.is_nan())),
                other => prop_assert!(false, "{other:?}"),
            }
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,64}") {
            let _ = parse(&s);
            let _ = split_object(&s);
        }
    }
}
