//! See `emo::fuzzing::manifest` for how the input is laid out.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = emo::fuzzing::manifest(data);
});
