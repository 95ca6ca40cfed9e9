//! What the worker learns about a repository's code beyond its occurrences: the Eventlet
//! `monkey_patch` calls in production code, the switches that guard them, and the services
//! that start them. Part of [`crate::result::RepoResult`], so both modes, the coordinator's
//! store and the result cache carry the same facts and render the same reports.

use serde::{Deserialize, Serialize};

/// A line of the scanned tree, cited with its text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Line {
    /// Path in the tree.
    pub path: String,
    /// 1-based line number.
    pub line: u32,
    /// The line, surrounding white space stripped.
    pub text: String,
}

/// Where a switch's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SwitchKind {
    /// An environment variable.
    Env,
    /// An oslo.config option.
    Option,
}

/// A setting whose value decides whether the patching runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Switch {
    /// Environment variable or option.
    pub kind: SwitchKind,
    /// The variable's or option's name, as written.
    pub name: String,
    /// Where the value is read.
    pub read: Line,
    /// The default as written in the code (`''`, `'auto'`); None when the code gives none
    /// (an unset variable, or an option whose definition was not found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// The option's definition, when found in the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defined: Option<Line>,
    /// The option's allowed values as written (`['auto', 'threading', 'eventlet']`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<String>,
}

/// One `monkey_patch` call of Eventlet in production code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patch {
    /// The call.
    pub site: Line,
    /// The function holding it; None at module level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// True when every path that reaches the call passes a switch.
    pub guarded: bool,
    /// True when it runs only when its file is run as a script (`if __name__ ==
    /// '__main__':`, in its function or a caller): a developer's tool, not a service.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub script: bool,
    /// The switches that guard it, in the function or in a caller.
    #[serde(default)]
    pub switches: Vec<Switch>,
    /// The guarded call sites on the way up (the `if` a switch decides).
    #[serde(default)]
    pub guards: Vec<Line>,
    /// Call sites of the functions that reach it, nearest first.
    #[serde(default)]
    pub callers: Vec<Line>,
    /// When not guarded: an unguarded path, from its entry down to the call.
    #[serde(default)]
    pub unguarded_path: Vec<Line>,
}

/// How a service relates to the patching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServicePatching {
    /// Its module reaches no `monkey_patch` call found.
    None,
    /// It patches only behind a switch: it can run without Eventlet.
    Switchable,
    /// It patches unconditionally.
    Always,
}

/// A console script or WSGI script declared by the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// Script name (`nova-compute`).
    pub name: String,
    /// `console_scripts` or `wsgi_scripts`.
    pub group: String,
    /// `module:function` as declared.
    pub target: String,
    /// The declaration.
    pub declared: Line,
    /// Whether and how it patches.
    pub patching: ServicePatching,
    /// The call in the service's module (or its package) that leads to the patching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Line>,
}

/// The code facts of one repository. Empty when its production code has no Eventlet
/// `monkey_patch` call and no optional import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeFacts {
    /// Every Eventlet `monkey_patch` call in production Python code.
    #[serde(default)]
    pub patches: Vec<Patch>,
    /// Imports of eventlet inside `try: ... except ImportError:` with a fallback.
    #[serde(default)]
    pub optional_imports: Vec<Line>,
    /// The package's services (only looked for when there is a patch call).
    #[serde(default)]
    pub services: Vec<Service>,
    /// Production files that ask which mode they run in (`is_patched()`,
    /// `concurrency_mode_threading()`): their Eventlet calls may be reached only in Eventlet
    /// mode, so they do not keep a switched-off service on Eventlet.
    #[serde(default)]
    pub adaptive: Vec<String>,
    /// Python files that did not parse cleanly (their facts may be incomplete).
    #[serde(default)]
    pub unparsed: Vec<String>,
    /// True when the search for callers stopped at its bound: a caller may be missing.
    #[serde(default)]
    pub truncated: bool,
}

impl CodeFacts {
    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.patches.is_empty() && self.optional_imports.is_empty() && self.services.is_empty()
    }

    /// The distinct switches guarding the patch calls, by kind and name.
    pub fn switches(&self) -> Vec<&Switch> {
        let mut out: Vec<&Switch> = Vec::new();
        for s in self.patches.iter().flat_map(|p| &p.switches) {
            if !out.iter().any(|o| o.kind == s.kind && o.name == s.name) {
                out.push(s);
            }
        }
        out
    }
}
