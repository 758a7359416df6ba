//! See `emo::fuzzing::model` for how the input is laid out.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = emo::fuzzing::model(data);
});
