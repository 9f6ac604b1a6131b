//! Interoperability tests of sessionkit against real Django: 5.2 LTS, 6.0 and 6.1, each in
//! its own venv made by `.ci/django-setup.sh SERIES` (`target/django-SERIES`). The tests
//! run against the series named by `SK_DJANGO_SERIES` (default 5.2; `SK_DJANGO_PYTHON`
//! overrides the venv's python); `scripts/test` runs the whole suite once per series. The
//! tests live in `tests/it/`; this crate has no library code.
//!
//! Each test drives Django through `tests/django/driver.py` (Django's own session engines,
//! no HTTP) and the Rust side through the sessionkit engine on the same store, in both
//! directions.
