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
//!
//! The reader lives in `read`, the writer in `write`.

mod read;
mod write;

pub use read::{for_each_member, parse, split_object};
pub(crate) use write::push_int;
pub use write::{to_string, write_float, write_str, write_value};

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
    /// The top-level value is not an object (`split_object` and `for_each_member` only).
    #[error("expected an object")]
    NotAnObject,
}

#[cfg(test)]
mod tests;
