#![no_main]
//! Fuzz target `encrypted_cookie`: see `encrypted_cookie::encrypted_cookie` for what it runs and
//! the properties it asserts.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sessionkit_fuzz::encrypted_cookie::encrypted_cookie(data);
});
