//! `GET /` for browsers: the tutorial's counter and the session's visit log.

use askama::Template;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use sessionkit_core::{RequestSession, Session};

use super::{Layout, MAX_VISITS, PageError, VISITS_KEY, page};

/// One visit as stored in the session (kept small: the table is derived from it).
#[derive(Serialize, Deserialize)]
struct Visit {
    step: u64,
    /// The request carried the session cookie.
    sent: bool,
    /// The fingerprint of the live session it named, if any.
    key: Option<String>,
    before: Option<u64>,
    /// A new session was created.
    new: bool,
}

struct VisitRow {
    step: u64,
    sent: String,
    before: String,
    action: &'static str,
    response: String,
}

impl VisitRow {
    /// `previous` is the visit before this one, to point out a key that changed (login).
    fn new(v: &Visit, previous: Option<&Visit>) -> VisitRow {
        let sent = match (&v.key, v.sent, v.new) {
            (Some(fp), _, _) => match previous.and_then(|p| p.key.as_ref().map(|k| (p.step, k))) {
                Some((step, old)) if old != fp => {
                    format!("Yes: {fp} (a new key since step {step}: login rotated it)")
                }
                _ => format!("Yes: {fp}"),
            },
            (None, false, _) => "No".to_owned(),
            (None, true, true) => "Yes, but no live session has it (expired or revoked)".to_owned(),
            (None, true, false) => "Yes: a signed cookie".to_owned(),
        };
        VisitRow {
            step: v.step,
            sent,
            before: v
                .before
                .map_or_else(|| "none".to_owned(), |n| n.to_string()),
            action: if v.new {
                "New session created"
            } else {
                "Count incremented"
            },
            response: if v.new {
                format!(
                    "Visit count: {}, and Set-Cookie with the new session ID",
                    v.step
                )
            } else {
                format!("Visit count: {}", v.step)
            },
        }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    layout: Layout,
    count: u64,
    max: usize,
    host: String,
    visits: Vec<VisitRow>,
}

/// The tutorial's counter, plus one line in the visit log.
pub(in crate::serve) async fn home(
    session: Session,
    rs: RequestSession,
    headers: &HeaderMap,
) -> Result<Response, PageError> {
    let key = session.key();
    // A client-side (signed cookie) session has no key: it exists when it holds data.
    let existed = key.is_some() || (rs.engine().store().is_none() && !session.is_empty());
    let before: Option<u64> = session.get("count")?;
    let count = before.unwrap_or(0) + 1;
    session.insert("count", count)?;
    // A log of another shape (written by something else) starts over rather than failing.
    let mut log: Vec<Visit> = session.get(VISITS_KEY).ok().flatten().unwrap_or_default();
    log.push(Visit {
        step: count,
        sent: rs.cookie_present(),
        key: key.map(|k| k.fingerprint().to_string()),
        before,
        new: !existed,
    });
    let excess = log.len().saturating_sub(MAX_VISITS);
    log.drain(..excess);
    session.insert(VISITS_KEY, &log)?;
    page(&Home {
        layout: Layout::new("Visits", "home", &session, &rs)?,
        count,
        max: MAX_VISITS,
        host: headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1:8000")
            .to_owned(),
        visits: log
            .iter()
            .enumerate()
            .map(|(i, v)| VisitRow::new(v, i.checked_sub(1).map(|p| &log[p])))
            .collect(),
    })
}
