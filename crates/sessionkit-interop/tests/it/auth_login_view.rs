//! Issue 18, "Done when" 1: a login through Django's real login view
//! (`django.contrib.auth.views.LoginView`, the driver's `login-view`: Django's test Client
//! GETs the form and POSTs the username and password with the form's CSRF token, CSRF
//! checks enforced) is a login on the Rust side; a password change in Django then logs the
//! Rust side out and the session is gone. On both adapters and every [`Backend`].

use sessionkit_core::Value;
use sessionkit_django::Secrets;

use crate::auth::{Adapter, Backend, Site, exists, get};
use crate::django::{SECRET, text};

fn status(answer: &sessionkit_core::value::Map) -> i64 {
    match answer.get("status") {
        Some(Value::Int(n)) => *n,
        other => panic!("status: {other:?} in {answer:?}"),
    }
}

async fn login_view_then_password_change(adapter: Adapter, backend: Backend) {
    let Some(site) = Site::on(backend) else {
        return;
    };
    let rust = site.rust(adapter, &Secrets::new(SECRET), |a| a).await;

    // A wrong CSRF token: Django's login view refuses the POST, nobody is logged in.
    let refused = site
        .django
        .call(&["login-view", "--user", "alice", "--bad-token"]);
    assert_eq!(status(&refused), 403, "{refused:?}");
    assert_eq!(refused.get("logged_in"), Some(&Value::Null), "{refused:?}");
    let key = text(&refused, "key");
    assert_eq!(
        get(&rust, "/whoami", Some(&key)).await.body.trim(),
        "Anonymous"
    );

    // The form's own token: Django logs alice in (302 to LOGIN_REDIRECT_URL).
    let login = site.django.call(&["login-view", "--user", "alice"]);
    assert_eq!(status(&login), 302, "{login:?}");
    let (key, id) = (text(&login, "key"), text(&login, "user_id"));
    assert_eq!(text(&login, "logged_in"), id);
    let res = get(&rust, "/whoami", Some(&key)).await;
    assert_eq!(
        (res.status, res.body.trim()),
        (200, format!("User: {id}").as_str())
    );

    // The password changes in Django: anonymous on the Rust side, and the session is gone.
    site.django
        .call(&["set-password", "--user", "alice", "--password", "changed"]);
    let res = get(&rust, "/whoami", Some(&key)).await;
    assert_eq!((res.status, res.body.trim()), (200, "Anonymous"));
    assert!(!exists(&site.django, &key), "the session was flushed");
}

crate::auth_matrix!(login_view_then_password_change);
