//! Integration tests: every record of `tests/data/django-vectors.json` (produced by running
//! Django 6.1.3) checked against this crate, plus the engine driven with the signed-cookie
//! store. One binary, one module per area.

mod auth_keys;
mod coverage;
mod django_auth;
mod fuzz_corpus;
mod middleware;
mod pickle;
mod primitives;
mod python_values;
mod session;
mod signed_cookies;
mod signing;
mod vectors;
