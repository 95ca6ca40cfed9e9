//! From the files of a repository to [`CodeFacts`]: a name-based call graph from every
//! Eventlet `monkey_patch` call up to the code that reaches it, and whether each path passes
//! a switch.
//!
//! The caller (the worker) feeds files in rounds: first the production files with a
//! `monkey_patch` occurrence, then, while [`Tracer::wanted`] names functions whose callers
//! were not looked for yet, the production files that mention those names; then the files
//! that mention the options read in guards ([`Tracer::option_names`]), and the services'
//! modules ([`Tracer::service_files`]). A call `m.f()` reaches the function `f` of the module
//! that `m` is imported as; `f()` the `f` of the same file or the one imported by name;
//! `self.f()` a method `f` of the same file. Anything else (`client.patch(...)`) is not
//! followed: a name alone would tie unrelated code together.
//!
//! A call is **guarded** when a switch decides a condition around it, or when it sits in a
//! function all of whose callers are guarded. Module-level code, and a function with no caller
//! found (an entry point, a callback), are unguarded unless a switch guards the call itself.

use std::collections::{BTreeMap, BTreeSet};

use super::facts::{CodeFacts, Line, Patch, Service, ServicePatching, Switch, SwitchKind};
use super::reparse::Kept;
use super::services::Declared;
use super::switches::{extract, extract_again, module_of, Call, FileCode, Guard, Read};

/// How deep the search for callers goes, in functions above the one holding the call.
pub const MAX_DEPTH: usize = 8;
/// Call sites cited per patch call.
const MAX_CITED: usize = 12;

/// Collects files and answers which to read next.
#[derive(Debug, Default)]
pub struct Tracer {
    files: BTreeMap<String, FileCode>,
    searched: BTreeSet<String>,
    /// Function name -> its definitions, so that resolving a call looks at few candidates.
    defs: BTreeMap<String, Vec<FnId>>,
    /// Called name -> the call sites (file, index into its calls).
    uses: BTreeMap<String, Vec<(String, usize)>>,
    /// Whether each function is reached only through guards, once worked out: services and
    /// patch calls share callers, and walking every path again is exponential. Cleared when
    /// a file is added.
    memo: std::cell::RefCell<BTreeMap<FnId, Status>>,
    /// The same for "every patch call below this function is guarded".
    memo_below: std::cell::RefCell<BTreeMap<FnId, bool>>,
    /// Files not parsed that ask which mode they run in ([`super::checks_mode`]).
    mode_checks: BTreeSet<String>,
    /// Files added for their calls, pruned to the functions that matter for these names
    /// ([`super::prune::prune_for_calls`]); files parsed whole are not here.
    pruned_for: BTreeMap<String, BTreeSet<String>>,
}

type FnId = (String, usize);

#[derive(Debug, Default, Clone)]
struct Status {
    guarded: bool,
    /// Every path starts under `if __name__ == '__main__':`.
    script: bool,
    guards: Vec<Guard>,
    callers: Vec<Line>,
    path: Vec<Line>,
}

impl Tracer {
    /// An empty tracer.
    pub fn new() -> Tracer {
        Tracer::default()
    }

    /// Parses and keeps `src`, the Python file at `path`; a file already added is kept as is.
    pub fn add(&mut self, path: &str, src: &[u8]) {
        if !self.files.contains_key(path) {
            self.add_whole(path, Tracer::whole(path, src));
        }
    }

    /// What [`Tracer::add`] keeps of `src`: a pure function of the path and the contents,
    /// so a caller may keep it for a file seen again.
    pub fn whole(path: &str, src: &[u8]) -> FileCode {
        extract(path, src)
    }

    /// Keeps `code`, from [`Tracer::whole`], for `path`; a file already added is kept as is.
    pub fn add_whole(&mut self, path: &str, code: FileCode) {
        if !self.files.contains_key(path) {
            self.insert(path, code);
        }
    }

    /// Adds `src`, the Python file at `path`, for its calls to `names` (a round of the search
    /// for callers): only the functions that may call one of them, read a setting, or lead to
    /// one that does are parsed. A file added before for other names is parsed again when it
    /// may call a name it was not pruned for; a file parsed whole stays as it is.
    pub fn add_calling(&mut self, path: &str, src: &[u8], names: &BTreeSet<String>) {
        let needed = names.iter().filter(|n| may_call(src, n));
        if let Some(keep) = self.keep_for(path, needed) {
            let code = Tracer::calling(path, src, &keep);
            self.add_pruned(path, code, keep);
        }
    }

    /// The names [`Tracer::add_calling`] parses `path` for, given the names it may call
    /// (`may_call`); None when the file is kept as it is.
    pub fn keep_for<'n>(
        &self,
        path: &str,
        needed: impl Iterator<Item = &'n String> + Clone,
    ) -> Option<BTreeSet<String>> {
        let mut keep = match (self.files.contains_key(path), self.pruned_for.get(path)) {
            (true, None) => return None,
            (true, Some(k)) => {
                if needed.clone().all(|n| k.contains(n)) {
                    return None;
                }
                k.clone()
            }
            (false, _) => BTreeSet::new(),
        };
        keep.extend(needed.cloned());
        Some(keep)
    }

    /// What [`Tracer::add_calling`] keeps of `src` for the names `keep`: a pure function of
    /// the path, the contents and the names, so a caller may keep it for a file seen again.
    pub fn calling(path: &str, src: &[u8], keep: &BTreeSet<String>) -> FileCode {
        Tracer::calling_with(src, keep, |s| extract(path, s))
    }

    /// [`Tracer::calling`] from the parse of the same file's earlier version for the same
    /// purpose (`previous`; `super::reparse` says how), and the parse to keep for the next.
    pub fn calling_again(
        path: &str,
        src: &[u8],
        keep: &BTreeSet<String>,
        previous: Option<&Kept>,
    ) -> (FileCode, Option<Kept>) {
        let mut kept = None;
        let code = Tracer::calling_with(src, keep, |s| {
            let (code, k) = extract_again(path, s, previous);
            kept = k;
            code
        });
        (code, kept)
    }

    /// [`Tracer::whole`] from the parse of the same file's earlier version (`previous`), and
    /// the parse to keep for the next.
    pub fn whole_again(
        path: &str,
        src: &[u8],
        previous: Option<&Kept>,
    ) -> (FileCode, Option<Kept>) {
        extract_again(path, src, previous)
    }

    fn calling_with(
        src: &[u8],
        keep: &BTreeSet<String>,
        parse: impl FnOnce(&[u8]) -> FileCode,
    ) -> FileCode {
        let list: Vec<&str> = keep.iter().map(String::as_str).collect();
        match super::prune::prune_for_calls(src, &list) {
            Some(pruned) => FileCode {
                // What the whole file says: a mode check in a function left out counts.
                checks_mode: super::checks_mode(src),
                ..parse(&pruned)
            },
            None => parse(src),
        }
    }

    /// Keeps `code`, from [`Tracer::calling`] with the names from [`Tracer::keep_for`], for
    /// `path` in place of what it had.
    pub fn add_pruned(&mut self, path: &str, code: FileCode, keep: BTreeSet<String>) {
        self.remove(path);
        self.insert(path, code);
        self.pruned_for.insert(path.to_string(), keep);
    }

    fn remove(&mut self, path: &str) {
        if self.files.remove(path).is_none() {
            return;
        }
        for v in self.defs.values_mut() {
            v.retain(|(p, _)| p != path);
        }
        for v in self.uses.values_mut() {
            v.retain(|(p, _)| p != path);
        }
    }

    /// Indexes `code`'s functions and calls. Both indexes stay sorted by file and position,
    /// so that the order callers are found in, and the path cited, do not depend on the order
    /// files were added or read again.
    fn insert(&mut self, path: &str, code: FileCode) {
        self.memo.borrow_mut().clear();
        self.memo_below.borrow_mut().clear();
        let at = |v: &mut Vec<FnId>, id: FnId| {
            let i = v.partition_point(|x| *x < id);
            v.insert(i, id);
        };
        for (i, f) in code.functions.iter().enumerate() {
            at(
                self.defs.entry(f.name.clone()).or_default(),
                (path.to_string(), i),
            );
        }
        for (i, c) in code.calls.iter().enumerate() {
            at(
                self.uses.entry(c.callee.clone()).or_default(),
                (path.to_string(), i),
            );
        }
        self.files.insert(path.to_string(), code);
    }

    /// Records that `path`, not parsed, asks which mode it runs in.
    pub fn note_mode_check(&mut self, path: &str) {
        self.mode_checks.insert(path.to_string());
    }

    /// Whether `path` was added.
    pub fn has(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    /// Files added so far.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True before any file is added.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Names of functions that reach a patch call and whose callers were not searched yet.
    /// The caller reads the files mentioning them, then calls [`Tracer::searched`].
    pub fn wanted(&self) -> BTreeSet<String> {
        self.reach()
            .iter()
            .map(|(p, i)| self.files[p].functions[*i].name.clone())
            .filter(|n| !self.searched.contains(n))
            .collect()
    }

    /// Records that the files mentioning `names` were read.
    pub fn searched(&mut self, names: &BTreeSet<String>) {
        self.searched.extend(names.iter().cloned());
    }

    /// Options read in the guards of patch calls that no added file defines yet.
    pub fn option_names(&self) -> BTreeSet<String> {
        let defined: BTreeSet<&str> = self
            .files
            .values()
            .flat_map(|f| f.options.iter().map(|o| o.name.as_str()))
            .collect();
        self.patch_status()
            .iter()
            .flat_map(|(_, s)| s.guards.iter().flat_map(|g| &g.reads))
            .filter(|r| r.kind == SwitchKind::Option && !defined.contains(r.name.as_str()))
            .map(|r| r.name.clone())
            .collect()
    }

    /// The files a service's module may live in, and its packages' `__init__.py` (imported
    /// first, so code there runs too).
    pub fn service_files(d: &Declared) -> Vec<String> {
        let m = d.module().replace('.', "/");
        let mut out = vec![format!("{m}.py"), format!("{m}/__init__.py")];
        let parts: Vec<&str> = m.split('/').collect();
        for i in 1..parts.len() {
            out.push(format!("{}/__init__.py", parts[..i].join("/")));
        }
        out
    }

    /// Functions (file, index) from which a patch call is reachable, including those
    /// holding one.
    fn reach(&self) -> BTreeSet<FnId> {
        let mut reach: BTreeSet<FnId> = BTreeSet::new();
        let mut todo: Vec<FnId> = Vec::new();
        for (p, f) in &self.files {
            for c in f.calls.iter().filter(|c| c.patches) {
                if let Some(i) = c.function {
                    if reach.insert((p.clone(), i)) {
                        todo.push((p.clone(), i));
                    }
                }
            }
        }
        while let Some(f) = todo.pop() {
            for (p, c) in self.callers(&f) {
                if let Some(i) = c.function {
                    let id = (p.to_string(), i);
                    if reach.insert(id.clone()) {
                        todo.push(id);
                    }
                }
            }
        }
        reach
    }

    /// The functions a call may run, by the rules in the module documentation.
    fn targets(&self, path: &str, c: &Call) -> Vec<FnId> {
        let here = &self.files[path];
        let mut out = Vec::new();
        for (p, i) in self.defs.get(&c.callee).into_iter().flatten() {
            let (p, i) = (p.as_str(), *i);
            let d = &self.files[p].functions[i];
            {
                let module = module_of(p);
                let ok = match c.receiver.as_deref() {
                    None => {
                        (p == path && !d.is_method)
                            || here
                                .imports
                                .get(&c.callee)
                                .is_some_and(|m| *m == format!("{module}.{}", c.callee))
                    }
                    Some("self" | "cls") => p == path && d.is_method,
                    Some(r) => {
                        !d.is_method && {
                            let (first, rest) = r.split_once('.').unwrap_or((r, ""));
                            let resolved = here.imports.get(r).cloned().or_else(|| {
                                here.imports.get(first).map(|m| {
                                    if rest.is_empty() {
                                        m.clone()
                                    } else {
                                        format!("{m}.{rest}")
                                    }
                                })
                            });
                            resolved.is_some_and(|m| m == module)
                        }
                    }
                };
                if ok {
                    out.push((p.to_string(), i));
                }
            }
        }
        out
    }

    /// Call sites whose targets include `f`.
    fn callers(&self, f: &FnId) -> Vec<(&str, &Call)> {
        let name = &self.files[&f.0].functions[f.1].name;
        let mut out = Vec::new();
        for (p, i) in self.uses.get(name).into_iter().flatten() {
            let c = &self.files[p].calls[*i];
            if !c.patches && self.targets(p, c).contains(f) {
                out.push((p.as_str(), c));
            }
        }
        out
    }

    fn status(&self, path: &str, c: &Call, depth: usize, visiting: &mut Vec<FnId>) -> Status {
        if !c.guards.is_empty() {
            return Status {
                guarded: true,
                guards: c.guards.clone(),
                ..Status::default()
            };
        }
        if c.script {
            return Status {
                guarded: true,
                script: true,
                ..Status::default()
            };
        }
        let unguarded = Status {
            path: vec![c.at.clone()],
            ..Status::default()
        };
        let Some(i) = c.function else {
            return unguarded;
        };
        let id = (path.to_string(), i);
        if let Some(st) = self.memo.borrow().get(&id) {
            let mut st = st.clone();
            if !st.guarded {
                st.path.push(c.at.clone());
            }
            return st;
        }
        if visiting.contains(&id) {
            // A cycle adds no path from an entry.
            return Status {
                guarded: true,
                script: true,
                ..Status::default()
            };
        }
        let callers = self.callers(&id);
        if callers.is_empty() || depth >= MAX_DEPTH {
            return unguarded;
        }
        visiting.push(id.clone());
        let mut st = Status {
            guarded: true,
            script: true,
            ..Status::default()
        };
        for (p, cc) in callers {
            let s = self.status(p, cc, depth + 1, visiting);
            st.script &= s.script;
            for l in std::iter::once(cc.at.clone()).chain(s.callers) {
                if st.callers.len() < MAX_CITED {
                    push_unique(&mut st.callers, l);
                }
            }
            for g in s.guards {
                if !st.guards.contains(&g) {
                    st.guards.push(g);
                }
            }
            if !s.guarded && st.guarded {
                st.guarded = false;
                st.path = s.path;
            }
        }
        visiting.pop();
        // Cached before the call's own line is added: the function's answer holds for every
        // call in it. (Inside a cycle the answer may differ by entry point; such cycles do not
        // occur on the way to a patch call in practice.)
        self.memo.borrow_mut().insert(id, st.clone());
        if !st.guarded {
            st.path.push(c.at.clone());
        }
        st
    }

    fn patch_status(&self) -> Vec<((&str, &Call), Status)> {
        let mut out = Vec::new();
        for (p, f) in &self.files {
            for c in f.calls.iter().filter(|c| c.patches) {
                out.push(((p.as_str(), c), self.status(p, c, 0, &mut Vec::new())));
            }
        }
        out
    }

    /// A switch from a read: the option's definition, choices and default when found.
    fn switch(&self, r: &Read) -> Switch {
        let mut s = Switch {
            kind: r.kind,
            name: r.name.clone(),
            read: r.at.clone(),
            default: r.default.clone(),
            defined: None,
            choices: None,
        };
        if r.kind == SwitchKind::Option {
            // Prefer a definition in the file that reads it, then any, by path.
            let mut defs: Vec<_> = self
                .files
                .values()
                .flat_map(|f| f.options.iter())
                .filter(|o| o.name == r.name)
                .collect();
            defs.sort_by_key(|o| (o.at.path != r.at.path, o.at.path.clone(), o.at.line));
            if let Some(d) = defs.first() {
                s.defined = Some(d.at.clone());
                s.default = d.default.clone();
                s.choices = d.choices.clone();
            }
        }
        s
    }

    /// The facts: every patch call with its guards, the optional imports, and each declared
    /// service's patching. Only files for which `production(path)` holds count.
    pub fn finish(
        &self,
        declared: &[Declared],
        production: impl Fn(&str) -> bool,
        truncated: bool,
    ) -> CodeFacts {
        let mut facts = CodeFacts {
            truncated,
            ..CodeFacts::default()
        };
        for ((p, c), st) in self.patch_status() {
            if !production(p) {
                continue;
            }
            let mut switches: Vec<Switch> = Vec::new();
            for r in st.guards.iter().flat_map(|g| &g.reads) {
                let s = self.switch(r);
                if !switches.contains(&s) {
                    switches.push(s);
                }
            }
            let function = c.function.map(|i| self.files[p].functions[i].name.clone());
            let mut callers = st.callers;
            callers.truncate(MAX_CITED);
            let script = st.guarded && st.script;
            facts.patches.push(Patch {
                site: c.at.clone(),
                function,
                guarded: st.guarded && !script,
                script,
                switches,
                guards: st.guards.iter().map(|g| g.at.clone()).collect(),
                callers,
                unguarded_path: st.path,
            });
        }
        for (p, f) in &self.files {
            if production(p) {
                facts
                    .optional_imports
                    .extend(f.optional_imports.iter().cloned());
            }
            if !f.clean && production(p) {
                facts.unparsed.push(p.clone());
            }
            if f.checks_mode && production(p) {
                facts.adaptive.push(p.clone());
            }
        }
        for p in &self.mode_checks {
            if production(p) && !facts.adaptive.contains(p) {
                facts.adaptive.push(p.clone());
            }
        }
        facts.adaptive.sort();
        if !facts.patches.is_empty() {
            let reach = self.reach();
            for d in declared {
                facts.services.push(self.service(d, &reach));
            }
        }
        facts
    }

    fn service(&self, d: &Declared, reach: &BTreeSet<FnId>) -> Service {
        let mut patching = ServicePatching::None;
        let mut via = None;
        for path in Tracer::service_files(d) {
            let Some(f) = self.files.get(&path) else {
                continue;
            };
            let own = path.ends_with(".py") && module_of(&path) == d.module();
            for c in &f.calls {
                // In a package's __init__, only module-level code runs on import.
                if !own && c.function.is_some() {
                    continue;
                }
                if !(c.patches || self.targets(&path, c).iter().any(|t| reach.contains(t))) {
                    continue;
                }
                let st = self.status(&path, c, 0, &mut Vec::new());
                // A call in the service's own module counts whatever calls it.
                let guarded = if c.patches || !c.guards.is_empty() {
                    st.guarded
                } else {
                    self.targets(&path, c)
                        .iter()
                        .filter(|t| reach.contains(t))
                        .all(|t| self.function_guarded(t, reach, 0))
                };
                let p = if guarded {
                    ServicePatching::Switchable
                } else {
                    ServicePatching::Always
                };
                if p > patching {
                    patching = p;
                    via = Some(c.at.clone());
                }
            }
        }
        Service {
            name: d.name.clone(),
            group: d.group.clone(),
            target: d.target.clone(),
            declared: d.at.clone(),
            patching,
            via,
        }
    }

    /// Whether every patch call reachable from function `f` is guarded below `f`.
    fn function_guarded(&self, f: &FnId, reach: &BTreeSet<FnId>, depth: usize) -> bool {
        if let Some(&b) = self.memo_below.borrow().get(f) {
            return b;
        }
        let file = &self.files[&f.0];
        let b = file
            .calls
            .iter()
            .filter(|c| c.function == Some(f.1))
            .filter(|c| c.patches || self.targets(&f.0, c).iter().any(|t| reach.contains(t)))
            .all(|c| {
                !c.guards.is_empty()
                    || (!c.patches
                        && depth < MAX_DEPTH
                        && self
                            .targets(&f.0, c)
                            .iter()
                            .filter(|t| reach.contains(*t) && *t != f)
                            .all(|t| self.function_guarded(t, reach, depth + 1)))
            });
        self.memo_below.borrow_mut().insert(f.clone(), b);
        b
    }
}

fn push_unique(v: &mut Vec<Line>, l: Line) {
    if !v.contains(&l) {
        v.push(l);
    }
}

/// True when `src` may call a function named `name`: the name with no identifier character
/// before it, followed by an opening parenthesis (spaces allowed). The call graph is made of
/// call sites only, so a file that merely mentions the name (`'patch'` as an HTTP verb, a
/// callback passed by name) has nothing to add, and parsing it would cost more than the scan.
pub fn may_call(src: &[u8], name: &str) -> bool {
    let w = name.as_bytes();
    if w.is_empty() {
        return false;
    }
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    memchr::memmem::find_iter(src, w).any(|i| {
        let before = i.checked_sub(1).map(|j| src[j]);
        let rest = &src[i + w.len()..];
        let gap = rest
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        !before.is_some_and(ident) && rest.get(gap) == Some(&b'(')
    })
}
