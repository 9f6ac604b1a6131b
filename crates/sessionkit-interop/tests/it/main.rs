//! sessionkit against real Django, both directions, one module per Django engine.

mod auth;
mod auth_login_view;
mod csrf;
mod django;
mod messages;
mod scenarios;
mod support;

mod cache;
mod cache_memcached;
mod cache_python;
mod cached_db;
mod cached_db_memcached;
mod caches;
mod db;
mod db_mysql;
mod db_postgres;
mod db_sqlite;
mod file;
mod side_by_side;
mod signed_cookies;
