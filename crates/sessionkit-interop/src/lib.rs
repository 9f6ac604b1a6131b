//! Interoperability tests of sessionkit against real Django (Django 5.2 LTS, installed by
//! `.ci/django-setup.sh` into `target/django-venv`). The tests live in `tests/it/`; this
//! crate has no library code.
//!
//! Each test drives Django through `tests/django/driver.py` (Django's own session engines,
//! no HTTP) and the Rust side through the sessionkit engine on the same store, in both
//! directions.
