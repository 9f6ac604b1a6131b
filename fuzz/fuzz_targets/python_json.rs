#![no_main]
//! Fuzz target `python_json`: see `checks::python_json` for what it runs and the properties it asserts.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sessionkit_fuzz::checks::python_json(data);
});
