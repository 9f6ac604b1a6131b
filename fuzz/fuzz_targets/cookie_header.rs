#![no_main]
//! Fuzz target `cookie_header`: see `checks::cookie_header` for what it runs and the properties it asserts.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sessionkit_fuzz::checks::cookie_header(data);
});
