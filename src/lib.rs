//! emo: text-emotion classification on long-tailed data.
//!
//! Data flows one way, one module per step:
//! text ([`data`]) → frozen-transformer embeddings ([`embed`]) → (heads, metrics and
//! reports in later modules). The binary in `main.rs` only parses arguments and
//! calls [`commands`].

pub mod atomic;
pub mod calibration;
pub mod candidate;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod data;
pub mod decision;
pub mod embed;
pub mod error;
pub mod features;
/// Public only so that the fuzz targets in `fuzz/` and the regression test can share it.
pub mod fuzzing;
pub mod head;
pub mod hub;
pub mod linalg;
pub mod logreg;
pub mod methods;
pub mod metrics;
pub mod model;
pub mod paths;
pub mod predict;
pub mod quantify;
pub mod report;
pub mod sampling;
pub mod serve;
pub mod stream;
pub mod train;
pub mod tune;
pub mod uncertainty;
