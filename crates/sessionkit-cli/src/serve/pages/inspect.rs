//! `GET /inspect`: what the server holds for this request's session.

use askama::Template;
use axum::response::Response;
use sessionkit_core::json;
use sessionkit_core::value::Value;
use sessionkit_core::{RequestSession, Session};

use super::{Layout, PageError, page, when};

#[derive(Template)]
#[template(path = "inspect.html")]
struct InspectPage {
    layout: Layout,
    cookie_sent: bool,
    fingerprint: String,
    expiry: String,
    data: String,
}

/// `GET /inspect`: what the server holds for this request's session. Only reads.
pub(in crate::serve) async fn inspect(
    session: Session,
    rs: RequestSession,
) -> Result<Response, PageError> {
    let layout = Layout::new("Inspector", "inspect", &session, &rs)?;
    let key = session.key();
    let client_side = rs.engine().store().is_none();
    let live = key.is_some() || (client_side && !session.is_empty());
    let fingerprint = match key {
        Some(k) => k.fingerprint().to_string(),
        None if client_side && live => "none: the session lives in the signed cookie".to_owned(),
        None => "none: this request has no live session".to_owned(),
    };
    let expiry = if !live {
        "no session".to_owned()
    } else if session.expire_at_browser_close() {
        "when the browser closes".to_owned()
    } else {
        format!(
            "{} (in {} seconds)",
            when(session.expiry_date()),
            session.expiry_age()
        )
    };
    let data = Value::Map(session.items().into_iter().collect());
    let mut pretty_data = String::new();
    pretty(&mut pretty_data, &data, 0);
    page(&InspectPage {
        layout,
        cookie_sent: rs.cookie_present(),
        fingerprint,
        expiry,
        data: pretty_data,
    })
}

/// Indented JSON: the store's compact form, spread over lines down to the second level
/// (so each visit of the log is one line). Escaping for HTML is the template's job.
fn pretty(out: &mut String, v: &Value, depth: usize) {
    let pad = |out: &mut String, d: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(d));
    };
    match v {
        Value::Map(m) if !m.is_empty() && depth < 2 => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                pad(out, depth + 1);
                json::write_str(out, k);
                out.push_str(": ");
                pretty(out, v, depth + 1);
            }
            pad(out, depth);
            out.push('}');
        }
        Value::List(items) | Value::Tuple(items) if !items.is_empty() && depth < 2 => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                pad(out, depth + 1);
                pretty(out, v, depth + 1);
            }
            pad(out, depth);
            out.push(']');
        }
        scalar => json::write_value(out, scalar),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_json() {
        let mut m = sessionkit_core::value::Map::new();
        m.insert("count".into(), Value::Int(3));
        m.insert("xs".into(), Value::List(vec![Value::Bool(true)]));
        m.insert("empty".into(), Value::Map(Default::default()));
        let deep = Value::List(vec![Value::Int(1), Value::String("<b>".into())]);
        m.insert("deep".into(), Value::List(vec![deep]));
        let mut out = String::new();
        pretty(&mut out, &Value::Map(m), 0);
        assert_eq!(
            out,
            "{\n  \"count\": 3,\n  \"xs\": [\n    true\n  ],\n  \"empty\": {},\n  \"deep\": [\n    [1,\"<b>\"]\n  ]\n}"
        );
    }
}
