//! The routes a Django site shares with the demo, in every layout: who the user is
//! (`/whoami`) and Django's flash messages (`/flash`, `/messages`).
//!
//! Who the user is depends on the layout ([`Users`]): the native layout's name-only login,
//! or Django's users (`auth_user`) through `DjangoAuth` with `--django-auth-db`. Without
//! that database every session is anonymous under the Django layout: a user id whose
//! password hash cannot be checked is not a user.

use axum::extract::Query;
use axum::http::StatusCode;
use rand::RngExt as _;
use serde::Deserialize;
use sessionkit_core::Session;
use sessionkit_django::Secrets;
use sessionkit_django::auth::{
    CurrentUser, DjangoAuth, LoaderError, MySqlUserLoader, PostgresUserLoader, SqliteUserLoader,
    UserTable,
};
use sessionkit_django::messages::{MessageStorage, MessagesConfig};
use sessionkit_tower::{DjangoUser, Messages};

/// Who the demo's users are.
#[derive(Clone, Debug)]
pub enum Users {
    /// The native layout: the demo's name-only login (`GET /login?user=`), shown by
    /// `Session::user_id`.
    Native,
    /// Django's layout: Django's users, by Django's `get_user()` rules; `None` without
    /// `--django-auth-db` (every session is then anonymous).
    Django(Option<DjangoAuth>),
}

/// What the demo needs beyond the engine: its users and its flash messages' settings.
#[derive(Clone, Debug)]
pub struct Site {
    /// Who the users are.
    pub users: Users,
    /// The flash messages (session storage in every layout).
    pub messages: MessagesConfig,
}

impl Site {
    /// The native layout: the name-only login, messages in the session. Session storage
    /// signs nothing, so the key the configuration asks for is a random one.
    pub fn native() -> Site {
        let key: String = rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(50)
            .map(char::from)
            .collect();
        Site {
            users: Users::Native,
            messages: MessagesConfig::new(&Secrets::new(key)).with_storage(MessageStorage::Session),
        }
    }

    /// Django's layout: Django's users through `auth` (none: every session anonymous),
    /// messages in Django's session storage, so that the Django site shows them.
    pub fn django(secrets: &Secrets, auth: Option<DjangoAuth>) -> Site {
        Site {
            users: Users::Django(auth),
            messages: MessagesConfig::new(secrets).with_storage(MessageStorage::Session),
        }
    }
}

/// Django's users from the database `url` names (sqlite://FILE, sqlite:///ABS/PATH,
/// postgres://..., postgresql://..., mysql://...), with its default `auth_user` table.
pub(super) fn django_auth(url: &str, secrets: &Secrets) -> anyhow::Result<DjangoAuth> {
    let table = UserTable::django();
    let shown = crate::store_url::redact(url);
    let failed = |e: LoaderError| anyhow::anyhow!("--django-auth-db {shown}: {e}");
    if let Some(path) = url.strip_prefix("sqlite://") {
        let loader = SqliteUserLoader::open(path, table).map_err(failed)?;
        Ok(DjangoAuth::new(secrets, loader))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let loader = PostgresUserLoader::connect(url, table).map_err(failed)?;
        Ok(DjangoAuth::new(secrets, loader))
    } else if url.starts_with("mysql://") {
        let loader = MySqlUserLoader::connect(url, table).map_err(failed)?;
        Ok(DjangoAuth::new(secrets, loader))
    } else {
        anyhow::bail!("--django-auth-db {shown}: expected sqlite://, postgres:// or mysql://")
    }
}

/// `GET /whoami` in the native layout.
pub(super) async fn whoami_native(session: Session) -> String {
    match session.user_id() {
        Some(id) => format!("User: {id}"),
        None => "Anonymous".to_owned(),
    }
}

/// `GET /whoami` in Django's layout with `--django-auth-db`: Django's `get_user()` (which
/// may flush a session whose hash no longer matches); a failing loader answers 503.
pub(super) async fn whoami_django(DjangoUser(user): DjangoUser) -> String {
    match user {
        CurrentUser::User { user, .. } => format!("User: {}", user.id),
        CurrentUser::Anonymous => "Anonymous".to_owned(),
    }
}

/// `GET /whoami` in Django's layout without a users' database.
pub(super) async fn whoami_unverifiable() -> &'static str {
    "Anonymous"
}

/// `GET /login?user=` in Django's layout: a name alone signs nobody in.
pub(super) async fn login_refused() -> (StatusCode, &'static str) {
    (
        StatusCode::BAD_REQUEST,
        "Name-only login is off in the Django layout: sign in with a Django username and password.",
    )
}

#[derive(Deserialize)]
pub(super) struct FlashQuery {
    msg: Option<String>,
}

/// The longest flash message, in characters.
const MAX_MESSAGE_CHARS: usize = 500;

/// `GET /flash?msg=TEXT`: adds an INFO message.
pub(super) async fn flash(
    Messages(messages): Messages,
    Query(q): Query<FlashQuery>,
) -> (StatusCode, &'static str) {
    let Some(text) = q.msg.filter(|m| !m.trim().is_empty()) else {
        return (
            StatusCode::BAD_REQUEST,
            "Missing message: use /flash?msg=hello",
        );
    };
    if text.chars().count() > MAX_MESSAGE_CHARS || text.chars().any(char::is_control) {
        return (
            StatusCode::BAD_REQUEST,
            "Invalid message: at most 500 characters, no control characters",
        );
    }
    messages.info(text);
    (StatusCode::OK, "Message added")
}

/// `GET /messages`: the pending messages, consumed.
pub(super) async fn show_messages(Messages(messages): Messages) -> String {
    let shown: Vec<String> = messages.consume().into_iter().map(|m| m.message).collect();
    if shown.is_empty() {
        "Messages: none".to_owned()
    } else {
        format!("Messages: {}", shown.join(" | "))
    }
}
