//! `/color`: the favorite-color page and its form.

use askama::Template;
use axum::response::{IntoResponse, Redirect, Response};
use sessionkit_core::{RequestSession, Session};
use sessionkit_django::csrf::get_token;

use super::{FLASH_KEY, Layout, PageError, Submitted, fields, page};

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
pub(in crate::serve) async fn color_page(
    session: Session,
    rs: RequestSession,
) -> Result<Response, PageError> {
    let color: Option<String> = session.get("favorite_color")?;
    page(&ColorPage {
        layout: Layout::new("Favorite color", "color", &session, &rs)?,
        swatch: color.as_deref().is_some_and(css_safe),
        color,
        csrf: get_token(&session)?,
    })
}

/// `POST /color`
pub(in crate::serve) async fn save_color(
    session: Session,
    form: Submitted,
) -> Result<Response, PageError> {
    let fields = fields(form)?;
    let color = fields
        .color
        .as_deref()
        .and_then(crate::serve::favorite_color)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_rules() {
        assert!(css_safe("teal") && css_safe("#2a9d8f") && css_safe("#abc"));
        assert!(!css_safe("red; background: url(x)") && !css_safe("#12345g"));
    }
}
