//! Faults the tests of `emo serve` inject, through the environment variable
//! `EMO_SERVE_FAULT`, to see the server live through what they stand for.
//! Nothing sets it in use; unset, every hook here is a no-op.
//!
//! - `fail-pass:N`: the N-th forward pass gets a token id past every
//!   vocabulary, so libtorch itself fails inside it, as it does on CUDA
//!   running out of memory or a mismatched tokenizer: the server must answer
//!   that pass's requests 500 and go on serving.
//! - `end-worker:N`: the inference thread ends before its N-th pass, as no
//!   caught error can make it: `/ready` must go 503 and the process exit
//!   non-zero, so that a supervisor restarts it.
//!
//! Real failures rather than stand-ins, triggered on demand: that is what a
//! test of the recovery needs, and nothing else makes them happen on cue.

use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    FailPass(u64),
    EndWorker(u64),
}

fn armed() -> Option<Fault> {
    static FAULT: OnceLock<Option<Fault>> = OnceLock::new();
    *FAULT.get_or_init(|| parse(&std::env::var("EMO_SERVE_FAULT").ok()?))
}

fn parse(spec: &str) -> Option<Fault> {
    let (kind, n) = spec.split_once(':')?;
    let n: u64 = n.trim().parse().ok()?;
    match kind.trim() {
        "fail-pass" => Some(Fault::FailPass(n)),
        "end-worker" => Some(Fault::EndWorker(n)),
        _ => None,
    }
}

/// Called by the worker before its `number`-th pass (from 1) over `batch`.
pub fn before_pass(number: u64, batch: &mut [Vec<i64>]) {
    match armed() {
        Some(Fault::FailPass(n)) if n == number => {
            if let Some(first) = batch.first_mut() {
                first.push(i64::MAX);
            }
        }
        Some(Fault::EndWorker(n)) if n == number => {
            panic!("EMO_SERVE_FAULT=end-worker:{n}: the inference thread ends here")
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_anything_else_arms_nothing() {
        assert_eq!(parse("fail-pass:3"), Some(Fault::FailPass(3)));
        assert_eq!(parse("end-worker: 2"), Some(Fault::EndWorker(2)));
        assert_eq!(parse("fail-pass"), None);
        assert_eq!(parse("crash:1"), None);
        assert_eq!(parse("fail-pass:x"), None);
    }
}
