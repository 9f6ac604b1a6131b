//! The demo's HTML pages (askama templates in `templates/`, no JavaScript). Every form is
//! a POST checked by [`csrf`](super::csrf) and answered with a 303 redirect to a page.

use askama::Template;
use axum::Form;
use axum::extract::Query;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use sessionkit_core::value::Value;
use sessionkit_core::{RequestSession, Session, SessionError, StoreError, UserIndex, json};
use time::OffsetDateTime;

use super::csrf::{self, Refusal};

/// The visit log: the facts of the last [`MAX_VISITS`] HTML visits to `/`.
const VISITS_KEY: &str = "_demo_visits";
const MAX_VISITS: usize = 20;
/// A one-shot message for the next page (Django's messages framework, in miniature).
const FLASH_KEY: &str = "_demo_flash";

/// What went wrong while building a page.
#[derive(Debug)]
pub(super) enum PageError {
    /// Bad form input: 400 with the message.
    BadRequest(&'static str),
    /// A form failed the CSRF check: 403.
    Csrf(Refusal),
    /// The store failed: 503.
    Store(StoreError),
    /// A session value of an unexpected type, or a template error: 500.
    Internal(String),
}

impl From<SessionError> for PageError {
    fn from(e: SessionError) -> PageError {
        PageError::Internal(e.to_string())
    }
}
impl From<StoreError> for PageError {
    fn from(e: StoreError) -> PageError {
        PageError::Store(e)
    }
}
impl From<Refusal> for PageError {
    fn from(r: Refusal) -> PageError {
        PageError::Csrf(r)
    }
}
impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> PageError {
        PageError::Internal(format!("template: {e}"))
    }
}
impl From<FormRejection> for PageError {
    fn from(_: FormRejection) -> PageError {
        PageError::BadRequest("The request is not a valid form submission.")
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            PageError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            PageError::Csrf(r) => (StatusCode::FORBIDDEN, r.message()),
            PageError::Store(e) => {
                tracing::error!(error = %e.report(), "demo page: store failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The session store is unavailable. Try again in a moment.",
                )
            }
            PageError::Internal(e) => {
                tracing::error!(error = %e, "demo page failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.")
            }
        };
        let page = ErrorPage {
            layout: Layout::bare("Error"),
            status: status.to_string(),
            message,
        };
        match page.render() {
            Ok(body) => html(status, body),
            Err(_) => (status, message).into_response(),
        }
    }
}

/// What every page shows around its content.
struct Layout {
    title: &'static str,
    current: &'static str,
    user: Option<String>,
    store: String,
    cookie: String,
    notice: Option<String>,
}

impl Layout {
    /// Reads the user and pops the one-shot notice (a write only when there is one).
    fn new(
        title: &'static str,
        current: &'static str,
        session: &Session,
        rs: &RequestSession,
    ) -> Result<Layout, PageError> {
        Ok(Layout {
            title,
            current,
            user: session.user_id(),
            store: rs.engine().describe_store(),
            cookie: rs.engine().config().cookie_name().to_owned(),
            notice: session.pop(FLASH_KEY)?,
        })
    }

    fn bare(title: &'static str) -> Layout {
        Layout {
            title,
            current: "",
            user: None,
            store: String::new(),
            cookie: String::new(),
            notice: None,
        }
    }
}

/// A 200 (or `status`) HTML response with the headers every page gets.
fn html(status: StatusCode, body: String) -> Response {
    let mut res = (status, Html(body)).into_response();
    let h = res.headers_mut();
    let set = |h: &mut HeaderMap, name, value| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(h, header::CACHE_CONTROL, "no-store");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    res
}

fn page(t: &impl Template) -> Result<Response, PageError> {
    Ok(html(StatusCode::OK, t.render()?))
}

/// Whether an `Accept` header asks for HTML (`text/html` with a non-zero quality).
pub(super) fn wants_html(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim();
        let refused = parts.any(|p| {
            let p = p.trim();
            (p.starts_with("q=") || p.starts_with("Q="))
                && p[2..].trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
        });
        media.eq_ignore_ascii_case("text/html") && !refused
    })
}

/// `2026-12-01 10:02:03 UTC`
fn when(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

// ---- GET / (HTML) ----

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
pub(super) async fn home(
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

// ---- /color ----

#[derive(Template)]
#[template(path = "color.html")]
struct ColorPage {
    layout: Layout,
    color: Option<String>,
    swatch: bool,
    csrf: String,
}

/// Only plain names and hex codes go into the swatch's `style` attribute.
fn css_safe(color: &str) -> bool {
    match color.strip_prefix('#') {
        Some(hex) => matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit()),
        None => (1..=30).contains(&color.len()) && color.chars().all(|c| c.is_ascii_alphabetic()),
    }
}

/// `GET /color`: the current color and the form.
pub(super) async fn color_page(
    session: Session,
    rs: RequestSession,
) -> Result<Response, PageError> {
    let color: Option<String> = session.get("favorite_color")?;
    page(&ColorPage {
        layout: Layout::new("Favorite color", "color", &session, &rs)?,
        swatch: color.as_deref().is_some_and(css_safe),
        color,
        csrf: csrf::token(&session)?,
    })
}

/// Every form's fields (each form uses some of them).
#[derive(Deserialize)]
pub(super) struct Fields {
    #[serde(rename = "csrfmiddlewaretoken")]
    csrf: Option<String>,
    color: Option<String>,
    user: Option<String>,
    session: Option<String>,
}

type Submitted = Result<Form<Fields>, FormRejection>;

/// Parses and CSRF-checks a form.
fn checked(headers: &HeaderMap, session: &Session, form: Submitted) -> Result<Fields, PageError> {
    let Form(fields) = form?;
    csrf::verify(headers, session, fields.csrf.as_deref())?;
    Ok(fields)
}

/// `POST /color`
pub(super) async fn save_color(
    session: Session,
    headers: HeaderMap,
    form: Submitted,
) -> Result<Response, PageError> {
    let fields = checked(&headers, &session, form)?;
    let color = fields
        .color
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty() && c.chars().count() <= 40 && !c.chars().any(char::is_control))
        .ok_or(PageError::BadRequest(
            "Enter a color of 1 to 40 characters, such as teal or #2a9d8f.",
        ))?;
    session.insert("favorite_color", &color)?;
    session.insert(
        FLASH_KEY,
        format!("Saved: your favorite color is now {color}."),
    )?;
    Ok(Redirect::to("/color").into_response())
}

// ---- /account ----

struct SessionRow {
    fp: String,
    current: bool,
    created: String,
    last_seen: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    signed_out: bool,
    gone_fp: Option<String>,
    cookie_sent: bool,
    sessions: Option<Vec<SessionRow>>,
    csrf: String,
}

/// `?signed_out=FINGERPRINT`, set by the logout redirect.
#[derive(Deserialize)]
pub(super) struct AccountQuery {
    signed_out: Option<String>,
}

fn is_fingerprint(s: &str) -> bool {
    s.len() == 8 && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn user_index(rs: &RequestSession) -> Option<&dyn UserIndex> {
    rs.engine().store().and_then(|s| s.user_index_dyn())
}

/// `GET /account`: the login form, or the user's sessions; after a logout, a form-less
/// page (a form would start a new session and bring the cookie back).
pub(super) async fn account(
    session: Session,
    rs: RequestSession,
    Query(q): Query<AccountQuery>,
) -> Result<Response, PageError> {
    let layout = Layout::new("Account", "account", &session, &rs)?;
    if let (Some(fp), None) = (q.signed_out, &layout.user) {
        return page(&AccountPage {
            layout,
            signed_out: true,
            gone_fp: Some(fp).filter(|f| is_fingerprint(f)),
            cookie_sent: rs.cookie_present(),
            sessions: None,
            csrf: String::new(),
        });
    }
    let sessions = match (&layout.user, user_index(&rs)) {
        (Some(user), Some(index)) => {
            let engine = rs.engine();
            let current = session.key().map(|k| engine.at_rest(&k));
            let mut all = index.sessions_of(user, engine.clock().now()).await?;
            all.sort_by_key(|i| (Some(i.key) != current, i.meta.created_at));
            let optional = |t: Option<OffsetDateTime>| t.map_or_else(|| "unknown".to_owned(), when);
            Some(
                all.iter()
                    .map(|i| SessionRow {
                        fp: i.key.fingerprint().to_string(),
                        current: Some(i.key) == current,
                        created: optional(i.meta.created_at),
                        last_seen: optional(i.meta.last_seen),
                        expires: when(i.expires_at),
                    })
                    .collect(),
            )
        }
        _ => None,
    };
    page(&AccountPage {
        layout,
        signed_out: false,
        gone_fp: None,
        cookie_sent: rs.cookie_present(),
        sessions,
        csrf: csrf::token(&session)?,
    })
}

/// Django's username characters.
fn valid_user(user: &str) -> bool {
    (1..=150).contains(&user.chars().count())
        && user
            .chars()
            .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
}

/// `POST /account/login`: Django's `login()`: a new key for the same data (or a fresh
/// session when another user was signed in), and a new CSRF token.
pub(super) async fn login(
    session: Session,
    headers: HeaderMap,
    form: Submitted,
) -> Result<Response, PageError> {
    let fields = checked(&headers, &session, form)?;
    let user = fields
        .user
        .map(|u| u.trim().to_owned())
        .filter(|u| valid_user(u))
        .ok_or(PageError::BadRequest(
            "Enter a user name of 1 to 150 letters, digits or @ . + - _ characters.",
        ))?;
    let previous = session.user_id();
    let old = session.key();
    session.login(&user);
    csrf::rotate(&session)?;
    let new = session.key();
    let notice = match (previous, old, new) {
        (Some(p), _, _) if p != user => {
            format!("Signed in as {user}. {p}'s session was flushed and a new one started.")
        }
        (_, Some(old), Some(new)) => format!(
            "Signed in as {user}. The session key was rotated: {} → {} (the cookie's value changed; the data was kept).",
            old.fingerprint(),
            new.fingerprint()
        ),
        _ => format!("Signed in as {user}."),
    };
    session.insert(FLASH_KEY, notice)?;
    Ok(Redirect::to("/account").into_response())
}

/// `POST /account/logout`: flushes the session; the cookie is removed.
pub(super) async fn logout(
    session: Session,
    headers: HeaderMap,
    form: Submitted,
) -> Result<Response, PageError> {
    checked(&headers, &session, form)?;
    let fp = session
        .key()
        .map_or_else(|| "none".to_owned(), |k| k.fingerprint().to_string());
    session.logout();
    Ok(Redirect::to(&format!("/account?signed_out={fp}")).into_response())
}

/// `POST /account/revoke`: deletes one of the user's other sessions, named by the
/// fingerprint the page showed (the key itself never leaves the server).
pub(super) async fn revoke(
    session: Session,
    rs: RequestSession,
    headers: HeaderMap,
    form: Submitted,
) -> Result<Response, PageError> {
    let fields = checked(&headers, &session, form)?;
    let user = session
        .user_id()
        .ok_or(PageError::BadRequest("Sign in first."))?;
    let fp = fields
        .session
        .filter(|f| is_fingerprint(f))
        .ok_or(PageError::BadRequest(
            "Name a session by its 8-digit fingerprint.",
        ))?;
    let (engine, index) = (rs.engine(), user_index(&rs));
    let (Some(index), Some(store)) = (index, engine.store()) else {
        return Err(PageError::BadRequest(
            "This store cannot list sessions by user.",
        ));
    };
    let current = session.key().map(|k| engine.at_rest(&k));
    let all = index.sessions_of(&user, engine.clock().now()).await?;
    let found: Vec<_> = all
        .iter()
        .filter(|i| i.key.fingerprint().to_string() == fp)
        .collect();
    let notice = match found.as_slice() {
        [] => format!("Session {fp} was already gone."),
        [one] if Some(one.key) == current => {
            return Err(PageError::BadRequest(
                "That is this browser's session: use Sign out instead.",
            ));
        }
        [one] => {
            store.delete_boxed(&one.key).await?;
            format!("Revoked session {fp}: that browser is signed out.")
        }
        _ => return Err(PageError::BadRequest("That fingerprint is ambiguous.")),
    };
    session.insert(FLASH_KEY, notice)?;
    Ok(Redirect::to("/account").into_response())
}

/// `POST /account/revoke-others`: every session of the user but this one.
pub(super) async fn revoke_others(
    session: Session,
    rs: RequestSession,
    headers: HeaderMap,
    form: Submitted,
) -> Result<Response, PageError> {
    checked(&headers, &session, form)?;
    let user = session
        .user_id()
        .ok_or(PageError::BadRequest("Sign in first."))?;
    let index = user_index(&rs).ok_or(PageError::BadRequest(
        "This store cannot list sessions by user.",
    ))?;
    let keep = session.key().map(|k| rs.engine().at_rest(&k));
    let n = index.revoke_user(&user, keep.as_ref()).await?;
    session.insert(FLASH_KEY, format!("Revoked {n} other session(s)."))?;
    Ok(Redirect::to("/account").into_response())
}

// ---- /inspect ----

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
pub(super) async fn inspect(session: Session, rs: RequestSession) -> Result<Response, PageError> {
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

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: String,
    message: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        assert!(wants_html(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ));
        assert!(wants_html("Text/HTML"));
        assert!(!wants_html("*/*"));
        assert!(!wants_html("text/plain"));
        assert!(!wants_html("text/html;q=0, text/plain"));
        assert!(!wants_html(""));
    }

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

    #[test]
    fn input_rules() {
        assert!(css_safe("teal") && css_safe("#2a9d8f") && css_safe("#abc"));
        assert!(!css_safe("red; background: url(x)") && !css_safe("#12345g"));
        assert!(valid_user("alice") && valid_user("a.b+c@d-e_f"));
        assert!(!valid_user("") && !valid_user("a b") && !valid_user(&"x".repeat(151)));
        assert!(is_fingerprint("0a1b2c3d") && !is_fingerprint("0a1b2c3"));
    }
}
