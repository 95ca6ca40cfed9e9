//! What parsing the code around the occurrences finds: the syntactic role of each occurrence
//! line, the names it uses resolved through the file's imports, and the call sites reached
//! through imported names on lines without the pattern.
//!
//! The facts are extracted where a file's contents are in memory (the worker's scan), travel
//! with the [`RepoResult`](crate::result::RepoResult) and are classified with a profile when
//! reports are rendered. They depend only on the source, not on any profile, so a cached
//! result stays valid when a profile changes.

use serde::{Deserialize, Serialize};

/// The facts of one repository: one entry per parsed (or unparsable) code file that has an
/// occurrence, sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeFacts {
    /// Files, sorted by path.
    pub files: Vec<FileFacts>,
}

impl CodeFacts {
    /// True when no file was looked at.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The facts of `path`, if it was parsed or tried.
    pub fn file(&self, path: &str) -> Option<&FileFacts> {
        self.files
            .binary_search_by(|f| f.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.files[i])
    }

    /// Paths of files that did not parse, so were classified by line rules.
    pub fn unparsed(&self) -> impl Iterator<Item = &str> {
        self.files
            .iter()
            .filter(|f| !f.parsed)
            .map(|f| f.path.as_str())
    }

    /// Sorts the files by path, so that [`CodeFacts::file`] finds them.
    pub fn sort(&mut self) {
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
        self.files.dedup_by(|a, b| a.path == b.path);
    }
}

/// The facts of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFacts {
    /// Path in the tree.
    pub path: String,
    /// False when the file has syntax errors: its lines fall back to line rules.
    pub parsed: bool,
    /// One entry per occurrence line, in line order.
    #[serde(default)]
    pub lines: Vec<LineFacts>,
    /// Lines without the pattern that use a name imported from it, in line order.
    #[serde(default)]
    pub related: Vec<Site>,
}

impl FileFacts {
    /// The facts of occurrence line `line`.
    pub fn line(&self, line: u32) -> Option<&LineFacts> {
        self.lines
            .binary_search_by(|l| l.line.cmp(&line))
            .ok()
            .map(|i| &self.lines[i])
    }

    /// True when some line of the file uses a name matching `pred` (occurrence lines, the
    /// names their imports serve, and related sites).
    pub fn uses(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.lines
            .iter()
            .flat_map(|l| l.names.iter().chain(&l.serves))
            .chain(self.related.iter().flat_map(|s| &s.names))
            .any(|n| pred(n))
    }
}

/// The syntactic role of an occurrence line: what the pattern is part of on that line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A call, or an assertion on a mocked object, whose target is the pattern's; its
    /// continuation lines too.
    Mock,
    /// An import statement.
    Import,
    /// A decorator.
    Decorator,
    /// A call.
    Call,
    /// Any other use of a name: attribute access, assignment, argument.
    Attribute,
    /// A string that names or sets a configuration option (`cfg.StrOpt('x', default=...)`).
    Option,
    /// A logger name (`getLogger('eventlet.wsgi.server')`).
    LoggerName,
    /// A string that is a value, not prose: no white space (`'eventlet'`, `'eventlet.hubs'`).
    Value,
    /// A docstring, or any line inside a multi-line string.
    Docstring,
    /// A message: log, exception, deprecation, option help, or other prose in a string.
    Message,
    /// A comment.
    Comment,
    /// Code the parser gives no better role (an identifier in a definition, a keyword).
    Other,
}

impl Role {
    /// The name in `occurrences.ndjson` and profiles.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Mock => "mock",
            Role::Import => "import",
            Role::Decorator => "decorator",
            Role::Call => "call",
            Role::Attribute => "attribute",
            Role::Option => "option",
            Role::LoggerName => "logger_name",
            Role::Value => "value",
            Role::Docstring => "docstring",
            Role::Message => "message",
            Role::Comment => "comment",
            Role::Other => "other",
        }
    }

    /// Every role, for parsing names.
    pub const ALL: [Role; 12] = [
        Role::Mock,
        Role::Import,
        Role::Decorator,
        Role::Call,
        Role::Attribute,
        Role::Option,
        Role::LoggerName,
        Role::Value,
        Role::Docstring,
        Role::Message,
        Role::Comment,
        Role::Other,
    ];

    /// The role named `s`.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The roles a rule's `names` apply to when it does not say: code that uses a name.
    /// Strings (options, logger names, values) only match rules that ask for them, so that
    /// no line inside a string literal gets a code sub-pattern.
    pub fn is_code(self) -> bool {
        matches!(
            self,
            Role::Import | Role::Decorator | Role::Call | Role::Attribute | Role::Other
        )
    }

    /// Prose: docstrings, messages and comments, which are documentation wherever they are.
    pub fn is_prose(self) -> bool {
        matches!(self, Role::Docstring | Role::Message | Role::Comment)
    }
}

/// What one occurrence line is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineFacts {
    /// 1-based line number.
    pub line: u32,
    /// Its role.
    pub role: Role,
    /// Qualified names the line uses, resolved through the file's imports
    /// (`from eventlet import sleep` then `sleep(1)` gives `eventlet.sleep`); for an import,
    /// what it imports; for a mock, its target; for an option, logger or value string, the
    /// string. Sorted, without repeats.
    #[serde(default)]
    pub names: Vec<String>,
    /// For an import, or a line that only refers to imported names without using them (the
    /// fallback `eventlet = None` of an optional import, a guard `if eventlet is None:`): the
    /// qualified names the import's bindings reach elsewhere in the file outside mocks,
    /// sorted, without repeats.
    #[serde(default)]
    pub serves: Vec<String>,
    /// For an import: some use of its bindings is inside a mock.
    #[serde(default)]
    pub mocked: bool,
    /// Every role found on the line, sorted, without repeats; `role` is the first. A line
    /// may hold a call and a message (`skipIf(not eventlet_utils.AVAILABLE, 'needs
    /// eventlet')`), or a name and an option (`debug = conf.get('eventlet_debug')`).
    #[serde(default)]
    pub roles: Vec<Role>,
}

/// A line without the pattern that reaches it through an imported name
/// (`greenthread.sleep(1)` after `from eventlet import greenthread`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    /// 1-based line number.
    pub line: u32,
    /// The line, white space stripped.
    pub text: String,
    /// Qualified names it uses, sorted, without repeats.
    pub names: Vec<String>,
}

/// Whether a file is Python: a `.py` or `.pyi` name, or a `python` shebang.
pub fn is_python(path: &str, data: &[u8]) -> bool {
    if path.ends_with(".py") || path.ends_with(".pyi") {
        return true;
    }
    let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
    first.starts_with(b"#!") && first.windows(6).any(|w| w == b"python")
}
