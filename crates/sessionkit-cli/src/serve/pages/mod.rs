//! The demo's HTML pages (askama templates in `templates/`, no JavaScript), one module per
//! page: `home` (`GET /` for browsers), `color`, `account` (sign in, sessions, revoke) and
//! `inspect`. This module holds what they share: the layout around every page, the error
//! page and the form fields. Every form is a POST, CSRF-checked before the handler by the
//! library's `CsrfLayer` (see [`form_guard`](super::form_guard)), and answered with a 303
//! redirect to a page.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use sessionkit_core::{RequestSession, Session, SessionError, StoreError};
use sessionkit_django::auth::{AuthError, LOADER_UNAVAILABLE_MESSAGE, LoaderError};
use time::OffsetDateTime;

use super::form_guard::Refusal;

mod account;
mod color;
mod home;
mod inspect;

pub(super) use account::{
    RecentEvents, account, django_login, login, logout, revoke, revoke_others,
};
pub(super) use color::{color_page, save_color};
pub(super) use home::home;
pub(super) use inspect::inspect;

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
    /// A form body over the limit (`--max-body-bytes`): 413.
    TooLarge,
    /// A form failed the CSRF check (the `CsrfLayer`, or the `Sec-Fetch-Site` check): 403.
    Csrf(Refusal),
    /// The store failed: 503.
    Store(StoreError),
    /// Django's user database failed: 503.
    Users(LoaderError),
    /// A session value of an unexpected type, or a template error: 500.
    Internal(String),
}

impl From<AuthError> for PageError {
    fn from(e: AuthError) -> PageError {
        match e {
            AuthError::Loader(e) => PageError::Users(e),
            other => PageError::Internal(other.to_string()),
        }
    }
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
impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> PageError {
        PageError::Internal(format!("template: {e}"))
    }
}
impl From<FormRejection> for PageError {
    fn from(r: FormRejection) -> PageError {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            PageError::TooLarge
        } else {
            PageError::BadRequest("The request is not a valid form submission.")
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            PageError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            PageError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "The form is larger than this server accepts (see sessionkit serve --max-body-bytes).",
            ),
            PageError::Csrf(r) => (StatusCode::FORBIDDEN, r.message()),
            PageError::Store(e) => {
                tracing::error!(error = %e.report(), "demo page: store failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The session store is unavailable. Try again in a moment.",
                )
            }
            PageError::Users(e) => {
                tracing::error!(error = %e, "demo page: Django's user database failed");
                (StatusCode::SERVICE_UNAVAILABLE, LOADER_UNAVAILABLE_MESSAGE)
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

/// Every form's fields (each form uses some of them; `csrfmiddlewaretoken` was checked by
/// the `CsrfLayer` already).
#[derive(Deserialize)]
pub(super) struct Fields {
    color: Option<String>,
    user: Option<String>,
    session: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

type Submitted = Result<Form<Fields>, FormRejection>;

/// The form's fields (the body was CSRF-checked before the handler).
fn fields(form: Submitted) -> Result<Fields, PageError> {
    let Form(fields) = form?;
    Ok(fields)
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
}
