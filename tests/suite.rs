//! Every integration test, as modules of one test binary: one crate to check and link
//! instead of one per file, and two test threads that stay busy across files where each
//! file alone often left one idle behind its slowest test. A file in tests/ becomes part
//! of it by a `mod` line here; `every_test_file_is_a_module_here` fails on one that is not.

mod common;

mod calibration_sklearn;
mod check_reference;
mod cli_input_errors;
mod cli_vocabulary;
mod compare_command;
mod compare_features;
mod compare_multilabel;
mod devices;
mod embed_command;
mod faults;
mod fuzz_regressions;
mod hub_cache;
mod hub_download;
mod languages;
mod layers;
mod logreg_sklearn;
mod malformed_models;
mod methods_multilabel_synthetic;
mod methods_synthetic;
mod metrics_multilabel_sklearn;
mod metrics_sklearn;
mod model_commands;
mod multilabel_model;
mod multilingual_encoder;
mod named_datasets;
mod ovr_logreg_sklearn;
mod page;
mod parity;
mod pipeline_stage;
mod precision;
mod properties;
mod quantify_command;
mod quantify_quapy;
mod random_encoder;
mod serve;
mod serve_limits;
mod st_modules;
mod tokenizer;
mod tokenizer_coverage;
mod vector_precision;

/// Cargo no longer finds test files by itself (`autotests = false`), so a new file in
/// tests/ without its `mod` line above would never run, silently.
#[test]
fn every_test_file_is_a_module_here() {
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let root = std::fs::read_to_string(tests.join("suite.rs")).unwrap();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&tests).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        // A folder with a main.rs was a test binary of its own before, too.
        let module = match name.strip_suffix(".rs") {
            Some(module) => Some(module),
            None if entry.path().join("main.rs").is_file() => Some(name.as_str()),
            None => None,
        };
        if let Some(module) = module {
            if module != "suite" && !root.contains(&format!("\nmod {module};\n")) {
                missing.push(name);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "tests/suite.rs has no `mod` line for {missing:?}"
    );
}
