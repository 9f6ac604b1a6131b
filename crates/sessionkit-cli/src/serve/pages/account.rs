//! `/account`: sign in and out, the user's sessions across browsers, revoking them.

use askama::Template;
use axum::Extension;
use axum::extract::Query;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sessionkit_core::events::{EventRecord, RevokeCause};
use sessionkit_core::{DynUserIndex, RequestSession, Session};
use time::OffsetDateTime;

use super::{FLASH_KEY, Layout, PageError, Submitted, fields, page, when};
use crate::serve::site::Users;
use sessionkit_django::auth::DjangoAuth;
use sessionkit_django::csrf::{get_token, rotate_secret};

struct EventRow {
    when: String,
    event: &'static str,
    detail: String,
}

struct SessionRow {
    fp: String,
    current: bool,
    /// The device label, or "unknown" (no client info: recording off, or a store
    /// without room for it).
    device: String,
    /// The client IP, or "unknown".
    ip: String,
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
    events: Vec<EventRow>,
    csrf: String,
    sign_in: SignIn,
}

/// Which sign-in form the page shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SignIn {
    /// The native layout's name-only form.
    Name,
    /// Django's username and password (`--django-auth-db`).
    Django,
    /// None: Django's layout without its users' database.
    Elsewhere,
}

impl SignIn {
    fn of(users: Option<&Users>) -> SignIn {
        match users {
            None | Some(Users::Native) => SignIn::Name,
            Some(Users::Django(Some(_))) => SignIn::Django,
            Some(Users::Django(None)) => SignIn::Elsewhere,
        }
    }
}

/// `?signed_out=FINGERPRINT`, set by the logout redirect.
#[derive(Deserialize)]
pub(in crate::serve) struct AccountQuery {
    signed_out: Option<String>,
}

fn is_fingerprint(s: &str) -> bool {
    s.len() == 8 && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn user_index(rs: &RequestSession) -> Option<&dyn DynUserIndex> {
    rs.engine().store().and_then(|s| s.user_index_dyn())
}

/// `GET /account`: the login form, or the user's sessions; after a logout, a form-less
/// page (a form would start a new session and bring the cookie back).
pub(in crate::serve) async fn account(
    session: Session,
    rs: RequestSession,
    Query(q): Query<AccountQuery>,
    recent: Option<Extension<RecentEvents>>,
    users: Option<Extension<Users>>,
) -> Result<Response, PageError> {
    let sign_in = SignIn::of(users.as_ref().map(|Extension(u)| u));
    let layout = Layout::new("Account", "account", &session, &rs)?;
    if let (Some(fp), None) = (q.signed_out, &layout.user) {
        return page(&AccountPage {
            layout,
            signed_out: true,
            gone_fp: Some(fp).filter(|f| is_fingerprint(f)),
            cookie_sent: rs.cookie_present(),
            sessions: None,
            events: Vec::new(),
            csrf: String::new(),
            sign_in,
        });
    }
    let sessions = match (&layout.user, user_index(&rs)) {
        (Some(user), Some(index)) => {
            let engine = rs.engine();
            let current = session.key().map(|k| engine.at_rest(&k));
            let mut all = index.sessions_of_boxed(user, engine.clock().now()).await?;
            all.sort_by_key(|i| (Some(i.key) != current, i.meta.created_at));
            let optional = |t: Option<OffsetDateTime>| t.map_or_else(|| "unknown".to_owned(), when);
            Some(
                all.iter()
                    .map(|i| SessionRow {
                        fp: i.key.fingerprint().to_string(),
                        current: Some(i.key) == current,
                        device: i
                            .meta
                            .client
                            .as_ref()
                            .map_or_else(|| "unknown".to_owned(), |c| c.device().to_owned()),
                        ip: i
                            .meta
                            .client
                            .as_ref()
                            .and_then(|c| c.ip())
                            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
                        created: optional(i.meta.created_at),
                        last_seen: optional(i.meta.last_seen),
                        expires: when(i.expires_at),
                    })
                    .collect(),
            )
        }
        _ => None,
    };
    let layout_user_none = layout.user.is_none();
    let events = match (&layout.user, recent) {
        (Some(user), Some(Extension(recent))) => recent
            .of(user)
            .iter()
            .map(|r| EventRow {
                when: when(r.time),
                event: r.event.name(),
                detail: detail(r),
            })
            .collect(),
        _ => Vec::new(),
    };
    page(&AccountPage {
        layout,
        signed_out: false,
        gone_fp: None,
        cookie_sent: rs.cookie_present(),
        sessions,
        events,
        // No form, no token: a page without a form starts no session.
        csrf: if layout_user_none && sign_in == SignIn::Elsewhere {
            String::new()
        } else {
            get_token(&session)?
        },
        sign_in,
    })
}

/// An event's fields for the page (fingerprints, never keys).
fn detail(r: &EventRecord) -> String {
    use sessionkit_core::events::Event;
    let fp = |f: &Option<sessionkit_core::Fingerprint>| {
        f.map_or_else(|| "-".to_owned(), |f| f.to_string())
    };
    match &r.event {
        Event::Created { key, .. }
        | Event::LoggedIn { key, .. }
        | Event::LoggedOut { key, .. }
        | Event::Flushed { key, .. } => format!("session {}", fp(key)),
        Event::Rotated { old, new, .. } => format!("session {} → {new}", fp(old)),
        Event::Revoked {
            cause, key, count, ..
        } => {
            format!("{count} session(s), {} ({})", fp(key), cause.as_str())
        }
        Event::Expired { count } => format!("{count} session(s)"),
        Event::Interrupted { key } | Event::Replayed { key, .. } => format!("session {key}"),
        _ => String::new(),
    }
}

/// The demo's record of recent lifecycle events, per user (the last
/// [`RECENT_EVENTS`] each), for the account page.
#[derive(Clone, Default)]
pub(in crate::serve) struct RecentEvents(
    std::sync::Arc<
        std::sync::Mutex<
            std::collections::HashMap<String, std::collections::VecDeque<EventRecord>>,
        >,
    >,
);

/// How many events the account page keeps per user.
const RECENT_EVENTS: usize = 20;

impl RecentEvents {
    /// The user's recent events, newest first.
    fn of(&self, user: &str) -> Vec<EventRecord> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(user)
            .map(|q| q.iter().rev().cloned().collect())
            .unwrap_or_default()
    }
}

impl sessionkit_core::events::EventListener for RecentEvents {
    fn on_event(&self, r: &EventRecord) {
        let Some(user) = r.event.user() else {
            return;
        };
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let q = map.entry(user.to_owned()).or_default();
        if q.len() == RECENT_EVENTS {
            q.pop_front();
        }
        q.push_back(r.clone());
    }
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
pub(in crate::serve) async fn login(
    session: Session,
    form: Submitted,
) -> Result<Response, PageError> {
    let fields = fields(form)?;
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
    rotate_secret(&session)?;
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
pub(in crate::serve) async fn logout(
    session: Session,
    form: Submitted,
) -> Result<Response, PageError> {
    fields(form)?;
    let fp = session
        .key()
        .map_or_else(|| "none".to_owned(), |k| k.fingerprint().to_string());
    session.logout();
    Ok(Redirect::to(&format!("/account?signed_out={fp}")).into_response())
}

/// `POST /account/revoke`: deletes one of the user's other sessions, named by the
/// fingerprint the page showed (the key itself never leaves the server).
pub(in crate::serve) async fn revoke(
    session: Session,
    rs: RequestSession,
    form: Submitted,
) -> Result<Response, PageError> {
    let fields = fields(form)?;
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
    let Some(index) = index else {
        return Err(PageError::BadRequest(
            "This store cannot list sessions by user.",
        ));
    };
    let current = session.key().map(|k| engine.at_rest(&k));
    let all = index.sessions_of_boxed(&user, engine.clock().now()).await?;
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
            engine.revoke_listed(one, RevokeCause::User).await?;
            format!("Revoked session {fp}: that browser is signed out.")
        }
        _ => return Err(PageError::BadRequest("That fingerprint is ambiguous.")),
    };
    session.insert(FLASH_KEY, notice)?;
    Ok(Redirect::to("/account").into_response())
}

/// `POST /account/revoke-others`: every session of the user but this one.
pub(in crate::serve) async fn revoke_others(
    session: Session,
    rs: RequestSession,
    form: Submitted,
) -> Result<Response, PageError> {
    fields(form)?;
    let user = session
        .user_id()
        .ok_or(PageError::BadRequest("Sign in first."))?;
    if user_index(&rs).is_none() {
        return Err(PageError::BadRequest(
            "This store cannot list sessions by user.",
        ));
    }
    let n = rs
        .engine()
        .revoke_user(&user, session.key().as_ref(), RevokeCause::User)
        .await?;
    session.insert(FLASH_KEY, format!("Revoked {n} other session(s)."))?;
    Ok(Redirect::to("/account").into_response())
}

/// `POST /account/login` in Django's layout with `--django-auth-db`: Django's
/// `authenticate()` on the username and password, then its `login()` (the key cycled, the
/// user's id, backend and session hash stored), and a new CSRF token.
pub(in crate::serve) async fn django_login(
    session: Session,
    Extension(auth): Extension<DjangoAuth>,
    form: Submitted,
) -> Result<Response, PageError> {
    let fields = fields(form)?;
    let (Some(username), Some(password)) = (fields.username, fields.password) else {
        return Err(PageError::BadRequest(
            "Enter your Django username and password.",
        ));
    };
    let Some(user) = auth
        .authenticate(&username, &password)
        .await
        .map_err(PageError::Users)?
    else {
        return Err(PageError::BadRequest(
            "Wrong username or password (or an inactive user).",
        ));
    };
    // `DjangoAuth::login` replaces the CSRF secret too (Django's `rotate_token`).
    auth.login(&session, &user).await?;
    session.insert(FLASH_KEY, format!("Signed in as {}.", user.username))?;
    Ok(Redirect::to("/account").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_rules() {
        assert!(valid_user("alice") && valid_user("a.b+c@d-e_f"));
        assert!(!valid_user("") && !valid_user("a b") && !valid_user(&"x".repeat(151)));
        assert!(is_fingerprint("0a1b2c3d") && !is_fingerprint("0a1b2c3"));
    }
}
