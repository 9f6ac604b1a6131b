//! The `sessionkit` binary, run as a process: the demo flow across a restart, and clear
//! errors for bad input.

mod admin;
mod bad_input;
mod concurrency;
mod device;
mod encrypted_cookie;
mod events;
mod faults;
mod http;
mod limits;
mod pages;
mod readonly;
mod security;
mod serve;
mod site;
mod soak;
mod support;
