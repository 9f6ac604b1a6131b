//! The `sessionkit` binary, run as a process: the demo flow across a restart, and clear
//! errors for bad input.

mod admin;
mod concurrency;
mod http;
mod serve;
