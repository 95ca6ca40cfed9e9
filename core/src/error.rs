use thiserror::Error as ThisError;

/// The one-line reason of a regex error: the last non-empty line of its diagram.
pub(crate) fn regex_reason(e: &regex::Error) -> String {
    let s = e.to_string();
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(&s)
        .trim()
        .to_string()
}

/// Everything the core can reject. Messages name the input and say how to fix it.
#[derive(Debug, ThisError)]
pub enum Error {
    /// A regular expression does not compile.
    #[error("invalid regex {pattern:?} given to {what}: {why}")]
    BadRegex {
        /// The flag or profile field that carried it.
        what: String,
        /// The pattern.
        pattern: String,
        /// The compiler's complaint.
        why: String,
    },
    /// No pattern to search for.
    #[error("no pattern to search for: give --pattern REGEX (or a profile with patterns)")]
    NoPattern,
    /// `--ignore-comments` with an empty marker.
    #[error("--comment-marker is empty: give a marker such as '#'")]
    EmptyCommentMarker,
    /// A repository name that is not `org/name`.
    #[error("invalid repository name {name:?}: {why}")]
    BadRepoName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        why: String,
    },
    /// A governance file that cannot be read as governance data.
    #[error("governance data {source_name}: {why}")]
    Governance {
        /// The file or URL.
        source_name: String,
        /// What is wrong, with the YAML location when there is one.
        why: String,
    },
    /// An unknown output format.
    #[error("unknown format {name:?}: choose from {known}")]
    BadFormat {
        /// The name given.
        name: String,
        /// The known names.
        known: String,
    },
    /// A repository selection that selects nothing or cannot be read.
    #[error("{0}")]
    Selection(String),
    /// A narrative prompt template that cannot be used.
    #[error("prompt template {source_name}: {why}")]
    Prompt {
        /// The file.
        source_name: String,
        /// What is wrong.
        why: String,
    },
    /// A report file (read back, as `fleetscan diff` does) that cannot be used.
    #[error("report {file}: {why}")]
    BadReport {
        /// The file.
        file: String,
        /// What is wrong.
        why: String,
    },
    /// History points (`--history`, `--every`, `--at`) that cannot be used.
    #[error("{0}")]
    History(String),
    /// A profile that cannot be used.
    #[error("profile {source_name}: {why}")]
    Profile {
        /// The file.
        source_name: String,
        /// What is wrong.
        why: String,
    },
}
