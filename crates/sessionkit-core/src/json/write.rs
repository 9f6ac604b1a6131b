//! The writer: Python's `json.dumps(v, separators=(",", ":"))`.

use std::fmt::Write as _;

use crate::value::Value;

/// Writes a value as Python's `json.dumps(v, separators=(",", ":"))` would.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Appends `n` in decimal, as `Display` writes it (a `-` when negative). Integers are on
/// every visit's path (a counter in the data, `Max-Age` in the cookie), and the formatting
/// machinery costs several times these few instructions.
pub(crate) fn push_int(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.reserve(digits.len() - start);
    digits[start..]
        .iter()
        .for_each(|&d| out.push(char::from(d)));
}

/// Appends a value as Python-compatible JSON.
///
/// A Python-only value (see [`Value::python_only`]) has no JSON form: sessions refuse
/// them where the store writes JSON, and this writer shows them readably for the
/// inspector, as `{"$python":"<Python repr>"}` (a set, frozenset or `OrderedDict` as
/// `{"$python":"set","items":[...]}`), which is not the value itself.
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => push_int(out, *i),
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
        Value::Set(l) | Value::FrozenSet(l) => {
            out.push_str("{\"$python\":");
            write_str(out, value.type_name());
            out.push_str(",\"items\":");
            write_value(out, &Value::List(l.clone()));
            out.push('}');
        }
        Value::OrderedDict(m) => {
            out.push_str("{\"$python\":");
            write_str(out, value.type_name());
            out.push_str(",\"items\":");
            write_value(out, &Value::Map(m.clone()));
            out.push('}');
        }
        python => {
            out.push_str("{\"$python\":");
            write_str(out, &python.python_repr());
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
