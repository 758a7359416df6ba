//! Errors the user can fix (a bad file, a wrong flag) are told apart from bugs so
//! that the binary can exit with code 2 for them, as documented in docs/reliability.md (exit codes).

use std::fmt;

/// A problem with what the user gave us. The message is one line and names the
/// file, the line and the problem, so it can be acted on without a backtrace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// Shorthand for returning an [`InputError`] inside `anyhow` code.
#[macro_export]
macro_rules! input_error {
    ($($arg:tt)*) => {
        ::anyhow::Error::new($crate::error::InputError(format!($($arg)*)))
    };
}

/// Exit code for an error: 2 when any cause in the chain is an [`InputError`]
/// or an operating-system I/O error (a read-only folder, a full disk, a missing
/// file): those the user fixes, and every I/O call site adds the path to the
/// message. 1 is left for what only a code change fixes.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err
        .chain()
        .any(|cause| cause.is::<InputError>() || cause.is::<std::io::Error>())
    {
        2
    } else {
        1
    }
}

/// The one line and exit code for an error that reached `main`. libtorch's own
/// messages carry a C++ backtrace over dozens of lines; only their first line is
/// kept, with a hint where the user can act (memory: exit 2).
pub fn describe(err: &anyhow::Error) -> (String, i32) {
    for cause in err.chain() {
        if let Some(tch::TchError::Torch(msg)) = cause.downcast_ref::<tch::TchError>() {
            return torch_line(msg);
        }
    }
    (format!("{err:#}"), exit_code(err))
}

/// The same for a panic: tch panics on most libtorch failures (its tensor
/// operations unwrap), so a panic whose message holds a libtorch error becomes
/// that error's one line; any other panic is a bug in emo, said in one line with
/// where it happened.
pub fn describe_panic(msg: &str, location: Option<&str>) -> (String, i32) {
    // tch's panics read `... Err value: Torch("first line\nException raised from ...")`,
    // the message Debug-escaped.
    if let Some(i) = msg.find("Torch(\"") {
        let body = &msg[i + "Torch(\"".len()..];
        let body = body.split("\\n").next().unwrap_or(body);
        return torch_line(body.trim_end_matches("\")"));
    }
    let first = msg.lines().next().unwrap_or_default();
    let at = location.map(|l| format!(" at {l}")).unwrap_or_default();
    (
        format!("internal error: {first}{at} (a bug in emo: please report it)"),
        1,
    )
}

fn torch_line(msg: &str) -> (String, i32) {
    let first = msg.lines().next().unwrap_or_default().trim();
    if first.contains("out of memory") || first.contains("can't allocate memory") {
        (
            format!("libtorch ran out of memory: {first}; lower --batch-size (texts per batch) or use a device with more memory"),
            2,
        )
    } else {
        (
            format!("libtorch: {first} (an internal error: please report it)"),
            1,
        )
    }
}

/// The text a panic was raised with.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".into()
    }
}

/// Where the last panic happened, kept by the hook for the one line that
/// reports it (a payload carries no location).
static LAST_PANIC_AT: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Replaces Rust's multi-line panic report: the hook only notes where the panic
/// happened, and whoever catches it ([`panic_error`]: `main`, or a worker that
/// turns its panic into that job's error) says it in one line. Printing in the
/// hook would say it twice when a worker's panic then fails the command.
pub fn one_line_panics() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()));
        if let Ok(mut last) = LAST_PANIC_AT.lock() {
            *last = at;
        }
    }));
}

/// A caught panic as an error: [`describe_panic`]'s one line, an input error
/// (exit 2) when the user can act on it.
pub fn panic_error(payload: &(dyn std::any::Any + Send)) -> anyhow::Error {
    let at = LAST_PANIC_AT.lock().ok().and_then(|l| l.clone());
    let (line, code) = describe_panic(&panic_message(payload), at.as_deref());
    if code == 2 {
        crate::input_error!("{line}")
    } else {
        anyhow::anyhow!("{line}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real libtorch failure, raised the way tch raises it, comes out as one
    /// line without the C++ backtrace.
    #[test]
    fn a_libtorch_panic_is_one_line() {
        let payload = std::panic::catch_unwind(|| {
            let _ = tch::Tensor::zeros([2, 3], tch::kind::FLOAT_CPU)
                .matmul(&tch::Tensor::zeros([4, 5], tch::kind::FLOAT_CPU));
        })
        .unwrap_err();
        let raw = panic_message(payload.as_ref());
        assert!(raw.contains("Torch("), "tch's panic shape changed: {raw}");
        let (line, code) = describe_panic(&raw, None);
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(line.starts_with("libtorch: "), "{line}");
        assert!(line.contains("cannot be multiplied"), "{line}");
        assert!(!line.contains("Exception raised"), "{line}");
        assert_eq!(code, 1);
        // Caught, it is one error line, exit 1.
        let err = panic_error(payload.as_ref());
        assert_eq!(exit_code(&err), 1);
        assert!(err.to_string().starts_with("libtorch: "), "{err}");
        assert_eq!(err.to_string().lines().count(), 1);
        // The same failure through a fallible call, as an error value.
        let err = tch::Tensor::zeros([2, 3], tch::kind::FLOAT_CPU)
            .f_matmul(&tch::Tensor::zeros([4, 5], tch::kind::FLOAT_CPU))
            .unwrap_err();
        let (line, code) = describe(&anyhow::Error::new(err));
        assert_eq!((line.lines().count(), code), (1, 1), "{line}");
        assert!(line.contains("cannot be multiplied"), "{line}");
    }

    #[test]
    fn running_out_of_memory_is_the_users_to_fix() {
        let (line, code) = describe_panic(
            r#"called `Result::unwrap()` on an `Err` value: Torch("CUDA out of memory. Tried to allocate 20.00 GiB\nException raised from malloc at ...")"#,
            None,
        );
        assert_eq!(code, 2);
        assert!(
            line.contains("CUDA out of memory. Tried to allocate 20.00 GiB"),
            "{line}"
        );
        assert!(
            line.contains("--batch-size") && !line.contains("Exception"),
            "{line}"
        );
        let (line, code) = describe_panic("index out of bounds", Some("src/x.rs:3"));
        assert_eq!(code, 1);
        assert_eq!(
            line,
            "internal error: index out of bounds at src/x.rs:3 (a bug in emo: please report it)"
        );
    }
}
