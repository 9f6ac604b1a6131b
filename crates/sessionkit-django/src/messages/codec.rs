//! The encodings of messages: Django's `MessageEncoder` / `MessageDecoder` JSON, the
//! session's string and the signed cookie with its size limit.
//!
//! ```
//! use sessionkit_django::messages::codec::{decode_session, encode_session};
//! use sessionkit_django::messages::{INFO, Message};
//!
//! let text = encode_session(&[Message::new(INFO, "Caf\u{e9}")]);
//! assert_eq!(text, r#"[["__json_message", 0, 20, "Caf\u00e9", ""]]"#);
//! assert_eq!(decode_session(&text), Some(vec![Message::new(INFO, "Caf\u{e9}")]));
//! ```

use std::fmt::Write as _;

use sessionkit_core::{Value, json};
use time::OffsetDateTime;

use super::{MESSAGE_KEY, Message, NOT_FINISHED};
use crate::signing::Signer;

/// One message as `MessageEncoder` writes it, with `sep` between items (`", "` by
/// `SessionStorage`, `","` by `CookieStorage`).
fn write_message(out: &mut String, m: &Message, sep: &str) {
    out.push('[');
    json::write_str(out, MESSAGE_KEY);
    let _ = write!(out, "{sep}{}{sep}{}{sep}", u8::from(m.safe), m.level);
    json::write_str(out, &m.message);
    if let Some(tags) = &m.extra_tags {
        out.push_str(sep);
        json::write_str(out, tags);
    }
    out.push(']');
}

/// `SessionStorage.serialize_messages`: the JSON text stored under `_messages`
/// (`MessageEncoder().encode(messages)`, separators `", "` and `": "`, ASCII only).
pub fn encode_session(messages: &[Message]) -> String {
    let mut out = String::with_capacity(32 + messages.len() * 48);
    out.push('[');
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_message(&mut out, m, ", ");
    }
    out.push(']');
    out
}

/// `MessagePartSerializer`: each message compact, as the cookie joins them.
pub fn encode_part(message: &Message) -> String {
    let mut out = String::with_capacity(48 + message.message.len());
    write_message(&mut out, message, ",");
    out
}

/// What a decoded list holds: messages, possibly ended by the sentinel.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decoded {
    /// The messages, in order.
    pub messages: Vec<Message>,
    /// Whether the list ended with [`NOT_FINISHED`] (the rest is in the next storage).
    pub not_finished: bool,
}

/// Python's truthiness of a decoded JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::Float(f) => *f != 0.0,
        Value::String(s) => !s.is_empty(),
        Value::List(l) => !l.is_empty(),
        Value::Map(m) => !m.is_empty(),
        _ => true,
    }
}

/// Python's `int(level)` for the values JSON can hold; `None` where Python raises.
fn level_of(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `MessageDecoder` for one `["__json_message", safe, level, message, extra_tags?]`.
/// `None` for an entry Django could not turn into a `Message` (or whose text is not a
/// string).
fn message_of(items: &[Value]) -> Option<Message> {
    let [_, safe, level, rest @ ..] = items else {
        return None;
    };
    let (message, extra_tags) = match rest {
        [Value::String(m)] => (m.clone(), None),
        [Value::String(m), Value::Null] => (m.clone(), None),
        [Value::String(m), Value::String(t)] => (m.clone(), Some(t.clone())),
        _ => return None,
    };
    Some(Message {
        level: level_of(level)?,
        message,
        extra_tags,
        safe: truthy(safe),
    })
}

/// Decodes a JSON list of encoded messages (either separator style). `None` when the
/// text is not JSON or not a list; entries that are not messages are skipped (Django
/// would fail on them), a trailing [`NOT_FINISHED`] is reported.
pub fn decode_list(text: &str) -> Option<Decoded> {
    let Ok(Value::List(items)) = json::parse(text) else {
        return None;
    };
    let mut out = Decoded::default();
    let last = items.len().checked_sub(1);
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::List(parts) if matches!(parts.first(), Some(Value::String(k)) if k == MESSAGE_KEY) => {
                match message_of(parts) {
                    Some(m) => out.messages.push(m),
                    None => tracing::debug!("skipping a malformed flash message"),
                }
            }
            Value::String(s) if s == NOT_FINISHED && Some(i) == last => out.not_finished = true,
            _ => tracing::debug!("skipping a value that is not a flash message"),
        }
    }
    Some(out)
}

/// `SessionStorage.deserialize_messages` of the string under `_messages`: `None` when it
/// is not a JSON list.
pub fn decode_session(text: &str) -> Option<Vec<Message>> {
    decode_list(text).map(|d| d.messages)
}

/// `CookieStorage._encode_parts`: the signed cookie value of already encoded parts
/// (`TimestampSigner.sign_object(…, compress=True)` at `now`).
pub fn sign_parts(parts: &[String], signer: &Signer, now: OffsetDateTime) -> String {
    let mut text = String::with_capacity(2 + parts.iter().map(|p| p.len() + 1).sum::<usize>());
    text.push('[');
    text.push_str(&parts.join(","));
    text.push(']');
    signer.dumps(&text, true, now)
}

/// `CookieStorage._encode`: the signed cookie value of `messages`.
pub fn encode_cookie(messages: &[Message], signer: &Signer, now: OffsetDateTime) -> String {
    let parts: Vec<String> = messages.iter().map(encode_part).collect();
    sign_parts(&parts, signer, now)
}

/// `CookieStorage._decode`: the messages of a cookie value, `None` for a bad signature or
/// a malformed payload (Django then deletes the cookie). The timestamp is not checked,
/// as in Django.
pub fn decode_cookie(value: &str, signer: &Signer) -> Option<Decoded> {
    match signer.loads(value, None, OffsetDateTime::UNIX_EPOCH) {
        Ok((text, _)) => decode_list(&text),
        Err(e) => {
            tracing::debug!(error = %e, "messages cookie refused");
            None
        }
    }
}

/// What [`store_cookie`] produced: the cookie value (`None`: delete the cookie) and the
/// messages that did not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The new cookie value, `None` to delete the cookie.
    pub value: Option<String>,
    /// The messages left out (empty when all fit).
    pub unstored: Vec<Message>,
}

/// `CookieStorage._store`: the cookie holding as many of `messages` as fit in
/// `max_size` bytes (0: no limit). When they do not all fit, the cookie ends with the
/// [`NOT_FINISHED`] sentinel and `unstored` holds the rest: the **oldest** with
/// `remove_oldest` (cookie storage alone), else the **newest** (fallback storage, which
/// puts them in the session). Found by Django's bisection, so the same messages are kept.
pub fn store_cookie(
    messages: &[Message],
    signer: &Signer,
    max_size: usize,
    remove_oldest: bool,
    now: OffsetDateTime,
) -> Stored {
    let parts: Vec<String> = messages.iter().map(encode_part).collect();
    if parts.is_empty() {
        return Stored {
            value: None,
            unstored: Vec::new(),
        };
    }
    let all = sign_parts(&parts, signer, now);
    // The signed value is cookie-safe (base64url, '.', ':'): SimpleCookie does not quote it.
    if max_size == 0 || all.len() <= max_size {
        return Stored {
            value: Some(all),
            unstored: Vec::new(),
        };
    }
    let sentinel = {
        let mut s = String::new();
        json::write_str(&mut s, NOT_FINISHED);
        s
    };
    let compute = |some: &[String]| {
        let mut with = some.to_vec();
        with.push(sentinel.clone());
        sign_parts(&with, signer, now)
    };
    let too_large = |some: &[String]| compute(some).len() > max_size;
    let (lo, hi) = (0, parts.len());
    if remove_oldest {
        // bisect_keep_right: the first index from which the tail fits.
        let (mut lo, mut hi) = (lo, hi);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if too_large(&parts[mid..]) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Stored {
            value: Some(compute(&parts[lo..])),
            unstored: messages[..lo].to_vec(),
        }
    } else {
        // bisect_keep_left: the first prefix length that no longer fits.
        let (mut lo, mut hi) = (lo, hi);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if too_large(&parts[..=mid]) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Stored {
            value: Some(compute(&parts[..lo])),
            unstored: messages[lo..].to_vec(),
        }
    }
}
