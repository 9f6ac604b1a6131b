//! The actix-web adapter: every middleware rule of the engine through actix-web's test
//! utilities, on the memory and SQLite stores.

mod rules;
