#![no_main]
//! Fuzz target `signed_value`: see `checks::signed_value` for what it runs and the properties it asserts.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sessionkit_fuzz::checks::signed_value(data);
});
