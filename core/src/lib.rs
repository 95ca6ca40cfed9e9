//! The pure core of fleetscan: no I/O, no threads, no network.
//!
//! - [`governance`]: which team owns which repository;
//! - [`matcher`] and [`filter`]: which lines of which files are occurrences;
//! - [`result`]: what scanning one repository produces;
//! - [`code`]: what Python code says about switching the pattern off (Eventlet's
//!   `monkey_patch` calls, the switches that guard them, the services), parsed with tree-sitter;
//! - [`analysis`]: verdict, migration status and complexity of one repository;
//! - [`history`]: the points in time of a history scan, and the commit each stands for;
//! - [`select`]: which repositories a scan covers;
//! - [`plan`]: what every job of a scan needs, and the defaults both modes share;
//! - [`link`]: beagle link lines;
//! - [`report`]: the report files, rendered from a [`report::Fleet`];
//! - [`diff`]: what changed between two scans' report directories;
//! - [`narrative`]: the prompt for an optional generated narrative per project, and the checks
//!   on what the model answers.
//!
//! ```
//! use fleetscan_core::matcher::{MatchOptions, Matcher};
//! let m = Matcher::new(&MatchOptions::new(["eventlet"])).unwrap();
//! assert_eq!(m.lines(b"import os\nimport eventlet\n"), vec![(2, "import eventlet".to_string())]);
//! ```
#![deny(missing_docs)]

pub mod analysis;
pub mod classify;
pub mod code;
pub mod diff;
pub mod filter;
pub mod governance;
pub mod history;
pub mod ids;
pub mod link;
pub mod matcher;
pub mod narrative;
pub mod plan;
pub mod profile;
pub mod report;
pub mod result;
pub mod select;

mod error;
pub use error::Error;
