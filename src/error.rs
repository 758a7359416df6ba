//! Errors the user can fix (a bad file, a wrong flag) are told apart from bugs so
//! that the binary can exit with code 2 for them, as documented in the README.

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
