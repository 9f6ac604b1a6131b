//! sessionkit against real Django, both directions, one module per Django engine.

mod django;
mod scenarios;

mod file;
mod signed_cookies;
