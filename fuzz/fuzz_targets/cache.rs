//! See `emo::fuzzing::cache` for how the input is laid out.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = emo::fuzzing::cache(data);
});
