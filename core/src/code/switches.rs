//! What one Python file says about switching Eventlet off: its Eventlet `monkey_patch` calls,
//! every call site with the switches that guard it, the functions it defines, its imports, the
//! oslo.config options it defines, and its optional imports of eventlet.
//!
//! A **switch read** is an environment variable (`os.environ.get`, `os.getenv`,
//! `os.environ[...]`, `... in os.environ`, any letter case) or an oslo.config option
//! (`CONF.x`, `CONF.group.x`, `cfg.CONF.x`, `conf.x`). A call is **guarded** by a condition
//! that depends on a switch read: directly, through a local variable assigned from one or
//! assigned under a condition that depends on one (`should_patch = ...` inside
//! `if env == '':`), or through a function of the same file that returns one. The conditions
//! of a call are the `if`/`elif`/`else`/`while` around it, a conditional expression or `and`
//! it is the right side of, and an earlier `if ...: return` in an enclosing block. A setting
//! that is only written (`os.environ['EVENTLET_NO_GREENDNS'] = 'yes'`), or read without
//! deciding a condition around the call, guards nothing: that is how tuning settings are told
//! from switches.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use tree_sitter::{Node, Tree};

use super::reparse::{self, Kept};

use super::facts::{Line, SwitchKind};

/// A switch read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Read {
    /// Environment variable or option.
    pub kind: SwitchKind,
    /// Its name.
    pub name: String,
    /// Where it is read.
    pub at: Line,
    /// The default given at the read (`.get(NAME, default)`), as written.
    pub default: Option<String>,
}

/// A condition around a call that depends on switches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    /// The condition's line.
    pub at: Line,
    /// The switch reads it depends on.
    pub reads: Vec<Read>,
}

/// A function definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Its name.
    pub name: String,
    /// The `def` line.
    pub line: u32,
    /// Defined in a class.
    pub is_method: bool,
}

/// A call site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The called name (`patch` in `monkey_patch.patch()`).
    pub callee: String,
    /// The object it is called on (`monkey_patch`), if any.
    pub receiver: Option<String>,
    /// The call's first line.
    pub at: Line,
    /// Index into [`FileCode::functions`] of the function holding it; None at module level.
    pub function: Option<usize>,
    /// The switch conditions around it.
    pub guards: Vec<Guard>,
    /// An Eventlet `monkey_patch` call.
    pub patches: bool,
    /// Under `if __name__ == '__main__':`: runs only when the file is run as a script.
    pub script: bool,
}

/// An oslo.config option definition (`cfg.StrOpt('name', default=...)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionDef {
    /// The option's name.
    pub name: String,
    /// The line holding the name.
    pub at: Line,
    /// The `default=` argument as written.
    pub default: Option<String>,
    /// The `choices=` argument as written.
    pub choices: Option<String>,
}

/// Everything extracted from one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileCode {
    /// Functions, in source order.
    pub functions: Vec<Function>,
    /// Calls, in source order.
    pub calls: Vec<Call>,
    /// Local name -> dotted module path or `module.name` it is bound to by an import.
    pub imports: BTreeMap<String, String>,
    /// Option definitions.
    pub options: Vec<OptionDef>,
    /// Eventlet imports inside `try:` with an `except ImportError:` fallback.
    pub optional_imports: Vec<Line>,
    /// False when the parser had to recover from a syntax error.
    pub clean: bool,
    /// The file asks which mode it runs in (`is_patched()`, `is_monkey_patched(...)`,
    /// `concurrency_mode_threading()`), so its Eventlet calls may be reached only in
    /// Eventlet mode.
    pub checks_mode: bool,
}

/// The dotted module of a Python file path: `nova/cmd/compute.py` is `nova.cmd.compute`,
/// `nova/__init__.py` is `nova`.
pub fn module_of(path: &str) -> String {
    let p = path.strip_suffix(".py").unwrap_or(path);
    let p = p.strip_suffix("/__init__").unwrap_or(p);
    p.replace('/', ".")
}

/// Parses `src` (the file at `path`) and extracts its facts. Never fails: a file with syntax
/// errors gives what the parser recovered, with `clean` false.
pub fn extract(path: &str, src: &[u8]) -> FileCode {
    match reparse::parse_new(src) {
        Some(tree) => from_tree(path, src, &tree),
        None => FileCode::default(),
    }
}

/// [`extract`] from the parse of the same file's earlier version (`previous`; [`reparse`]
/// says how), with the same facts. Returns the parse to keep for the file's next version.
pub fn extract_again(path: &str, src: &[u8], previous: Option<&Kept>) -> (FileCode, Option<Kept>) {
    match reparse::parse(src, previous) {
        Some(kept) => (from_tree(path, src, kept.tree()), Some(kept)),
        None => (FileCode::default(), None),
    }
}

/// The facts of `src`, parsed into `tree`.
fn from_tree(path: &str, src: &[u8], tree: &Tree) -> FileCode {
    let root = tree.root_node();
    let text = String::from_utf8_lossy(src);
    let lines: Vec<&str> = text.split('\n').collect();
    let mut x = Extractor {
        path,
        src,
        lines,
        out: FileCode {
            clean: !root.has_error(),
            checks_mode: super::checks_mode(src),
            ..FileCode::default()
        },
        fn_nodes: Vec::new(),
        returns: BTreeMap::new(),
        taint: BTreeMap::new(),
        parents: HashMap::new(),
        calls_at: Vec::new(),
        assigns: HashMap::new(),
        returns_at: HashMap::new(),
        root,
        conditions: RefCell::default(),
        guard_reads: RefCell::default(),
        fn_index: HashMap::new(),
    };
    x.collect(root);
    // Function summaries (what each returns) first, twice so that a function returning
    // another's result is seen; then every scope's variables and the call sites.
    for _ in 0..2 {
        for i in 0..x.fn_nodes.len() {
            let f = x.fn_nodes[i];
            let t = x.scope_taint(f);
            let r = x.returned(f, &t);
            if !r.is_empty() {
                x.returns.insert(x.out.functions[i].name.clone(), r);
            }
            x.taint.insert(f.id(), t);
        }
    }
    let t = x.scope_taint(root);
    x.taint.insert(root.id(), t);
    x.calls();
    x.out
}

struct Extractor<'a> {
    path: &'a str,
    src: &'a [u8],
    lines: Vec<&'a str>,
    out: FileCode,
    fn_nodes: Vec<Node<'a>>,
    /// Function name -> switch reads its return values depend on.
    returns: BTreeMap<String, Vec<Read>>,
    /// Scope node id -> variable -> switch reads its value depends on.
    taint: BTreeMap<usize, BTreeMap<String, Vec<Read>>>,
    /// Named node id -> its parent. Recorded by the one walk over the tree, [`Extractor::collect`],
    /// with the calls, assignments and returns that the later steps look at: tree-sitter's
    /// `Node::parent` searches down from the root on every call, and every extra walk over a
    /// large file costs as much as parsing it.
    parents: HashMap<usize, Node<'a>>,
    root: Node<'a>,
    /// Node id -> [`Extractor::conditions`] of it: the calls in one block share theirs.
    conditions: RefCell<HashMap<usize, Rc<Vec<Node<'a>>>>>,
    /// Condition node id -> its switch reads, once the scopes' variables are known.
    guard_reads: RefCell<HashMap<usize, Vec<Read>>>,
    /// Function node id -> index in `fn_nodes`.
    fn_index: HashMap<usize, usize>,
    /// Every call, in source order.
    calls_at: Vec<Node<'a>>,
    /// Scope node id (a function or the module) -> its assignments, outside nested functions
    /// and lambdas.
    assigns: HashMap<usize, Vec<Node<'a>>>,
    /// Function node id -> its return statements, outside nested functions and lambdas.
    returns_at: HashMap<usize, Vec<Node<'a>>>,
}

const ENV_CALLS: [&str; 5] = [
    "os.environ.get",
    "environ.get",
    "os.getenv",
    "getenv",
    "os.environ.setdefault",
];

impl<'a> Extractor<'a> {
    fn text(&self, n: Node) -> String {
        n.utf8_text(self.src).unwrap_or("").to_string()
    }

    fn parent(&self, n: Node<'a>) -> Option<Node<'a>> {
        self.parents.get(&n.id()).copied()
    }

    /// The nearest ancestor of `n` of one of `kinds`.
    fn enclosing(&self, n: Node<'a>, kinds: &[&str]) -> Option<Node<'a>> {
        let mut p = self.parent(n);
        while let Some(x) = p {
            if kinds.contains(&x.kind()) {
                return Some(x);
            }
            p = self.parent(x);
        }
        None
    }

    fn line(&self, n: Node) -> Line {
        let row = n.start_position().row;
        Line {
            path: self.path.to_string(),
            line: row as u32 + 1,
            text: self.lines.get(row).map_or("", |l| l.trim()).to_string(),
        }
    }

    /// First pass: functions, imports, option definitions and optional imports.
    fn collect(&mut self, root: Node<'a>) {
        // Each node with its scope: the function or module whose variables it may set; None
        // inside a lambda.
        let mut stack = vec![(root, Some(root))];
        while let Some((n, scope)) = stack.pop() {
            match n.kind() {
                "function_definition" => {
                    let name = n
                        .child_by_field_name("name")
                        .map(|c| self.text(c))
                        .unwrap_or_default();
                    self.out.functions.push(Function {
                        name,
                        line: n.start_position().row as u32 + 1,
                        is_method: self
                            .enclosing(n, &["class_definition", "function_definition"])
                            .is_some_and(|p| p.kind() == "class_definition"),
                    });
                    self.fn_index.insert(n.id(), self.fn_nodes.len());
                    self.fn_nodes.push(n);
                }
                "import_statement" | "import_from_statement" => {
                    self.import(n);
                    self.guarded_import(n);
                }
                "call" => {
                    self.option_def(n);
                    self.calls_at.push(n);
                }
                "assignment" | "augmented_assignment" => {
                    if let Some(s) = scope {
                        self.assigns.entry(s.id()).or_default().push(n);
                    }
                }
                "return_statement" => {
                    if let Some(s) = scope {
                        self.returns_at.entry(s.id()).or_default().push(n);
                    }
                }
                "try_statement" => self.optional_import(n),
                _ => {}
            }
            let inner = match n.kind() {
                "function_definition" => Some(n),
                "lambda" => None,
                _ => scope,
            };
            let mut c = n.walk();
            let children: Vec<Node> = n.named_children(&mut c).collect();
            for &ch in &children {
                self.parents.insert(ch.id(), n);
            }
            stack.extend(children.into_iter().rev().map(|ch| (ch, inner)));
        }
    }

    fn import(&mut self, n: Node) {
        let mut c = n.walk();
        if n.kind() == "import_statement" {
            for name in n.children_by_field_name("name", &mut c) {
                if name.kind() == "aliased_import" {
                    if let (Some(m), Some(a)) = (
                        name.child_by_field_name("name"),
                        name.child_by_field_name("alias"),
                    ) {
                        self.out.imports.insert(self.text(a), self.text(m));
                    }
                } else {
                    let m = self.text(name);
                    let first = m.split('.').next().unwrap_or("").to_string();
                    self.out.imports.insert(first.clone(), first);
                    self.out.imports.insert(m.clone(), m);
                }
            }
            return;
        }
        let Some(module) = n.child_by_field_name("module_name") else {
            return;
        };
        let mut module = self.text(module);
        if module.starts_with('.') {
            // Relative: resolve against this file's package.
            let dots = module.chars().take_while(|&c| c == '.').count();
            let own = module_of(self.path);
            let mut parts: Vec<&str> = own.split('.').collect();
            if !self.path.ends_with("__init__.py") {
                parts.pop();
            }
            for _ in 1..dots {
                parts.pop();
            }
            let rest = &module[dots..];
            let mut full = parts.join(".");
            if !rest.is_empty() {
                if !full.is_empty() {
                    full.push('.');
                }
                full.push_str(rest);
            }
            module = full;
        }
        for name in n.children_by_field_name("name", &mut c) {
            let (orig, local) = if name.kind() == "aliased_import" {
                match (
                    name.child_by_field_name("name"),
                    name.child_by_field_name("alias"),
                ) {
                    (Some(o), Some(a)) => (self.text(o), self.text(a)),
                    _ => continue,
                }
            } else {
                let t = self.text(name);
                (t.clone(), t)
            };
            let full = if module.is_empty() {
                orig
            } else {
                format!("{module}.{orig}")
            };
            self.out.imports.insert(local, full);
        }
    }

    fn option_def(&mut self, n: Node) {
        let Some(f) = n.child_by_field_name("function") else {
            return;
        };
        let fname = self.text(f);
        let last = fname.rsplit('.').next().unwrap_or("");
        if !last.ends_with("Opt") || fname.contains('(') {
            return;
        }
        let Some(args) = n.child_by_field_name("arguments") else {
            return;
        };
        let mut c = args.walk();
        let mut name = None;
        let (mut default, mut choices) = (None, None);
        for a in args.named_children(&mut c) {
            match a.kind() {
                "string" if name.is_none() => name = Some((string_value(&self.text(a)), a)),
                "keyword_argument" => {
                    let k = a.child_by_field_name("name").map(|k| self.text(k));
                    let v = a.child_by_field_name("value").map(|v| self.text(v));
                    match k.as_deref() {
                        Some("default") => default = v,
                        Some("choices") => choices = v.map(|v| one_line(&v)),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        if let Some((name, at)) = name {
            if !name.is_empty() {
                let at = self.line(at);
                self.out.options.push(OptionDef {
                    name,
                    at,
                    default,
                    choices,
                });
            }
        }
    }

    fn optional_import(&mut self, n: Node) {
        let Some(body) = n.child_by_field_name("body") else {
            return;
        };
        // Imports anywhere in the body (a `with warnings.catch_warnings():` around them is
        // common), but not in a nested `try` or definition, which decide for themselves.
        let mut imports: Vec<Node> = Vec::new();
        let mut stack: Vec<Node> = {
            let mut c = body.walk();
            body.named_children(&mut c).collect()
        };
        while let Some(x) = stack.pop() {
            match x.kind() {
                "try_statement" | "function_definition" | "class_definition" => continue,
                "import_statement" | "import_from_statement" => {
                    if self.imports_eventlet(x) {
                        imports.push(x);
                    }
                }
                _ => {
                    let mut c = x.walk();
                    stack.extend(x.named_children(&mut c));
                }
            }
        }
        imports.sort_by_key(|x| x.start_byte());
        if imports.is_empty() {
            return;
        }
        let mut c = n.walk();
        let fallback = n.named_children(&mut c).any(|h| {
            h.kind() == "except_clause" && {
                let t = self.text(h);
                let head = t.split(':').next().unwrap_or("");
                let catches = head.trim() == "except"
                    || head.contains("ImportError")
                    || head.contains("ModuleNotFoundError");
                let mut hc = h.walk();
                let only_raise = h
                    .named_children(&mut hc)
                    .filter(|b| b.kind() == "block")
                    .all(|b| {
                        let mut bc = b.walk();
                        let v: Vec<Node> = b.named_children(&mut bc).collect();
                        v.len() == 1 && v[0].kind() == "raise_statement"
                    });
                catches && !only_raise
            }
        });
        if fallback {
            for i in imports {
                let l = self.line(i);
                self.out.optional_imports.push(l);
            }
        }
    }

    /// `import eventlet...` or `from eventlet... import ...`.
    fn imports_eventlet(&self, n: Node) -> bool {
        self.text(n)
            .split_whitespace()
            .nth(1)
            .is_some_and(|m| names_module_eventlet(m.trim_end_matches(',')))
    }

    /// An import of eventlet only when it is already loaded (`if 'eventlet' in sys.modules:`)
    /// is optional too: it never brings Eventlet in.
    fn guarded_import(&mut self, n: Node<'a>) {
        if self.imports_eventlet(n)
            && self
                .conditions(n)
                .iter()
                .any(|c| self.text(*c).contains("sys.modules"))
        {
            let l = self.line(n);
            self.out.optional_imports.push(l);
        }
    }

    /// The switch reads `n` depends on, in scope `scope`'s variables `taint`.
    fn reads(&self, n: Node<'a>, taint: &BTreeMap<String, Vec<Read>>) -> Vec<Read> {
        let mut out: Vec<Read> = Vec::new();
        let mut stack = vec![n];
        while let Some(n) = stack.pop() {
            match n.kind() {
                "function_definition" | "lambda" | "class_definition" => continue,
                "call" => {
                    if let Some(f) = n.child_by_field_name("function") {
                        let ft: String = self.text(f).split_whitespace().collect();
                        if ENV_CALLS.contains(&ft.as_str()) {
                            self.env_call(n, &mut out);
                        } else {
                            let name = ft.strip_prefix("self.").unwrap_or(&ft);
                            if let Some(r) = self.returns.get(name) {
                                out.extend(r.iter().cloned());
                            }
                        }
                    }
                }
                "subscript" => {
                    let v = n.child_by_field_name("value").map(|v| self.text(v));
                    if matches!(v.as_deref(), Some("os.environ" | "environ")) {
                        if let Some(s) = n.child_by_field_name("subscript") {
                            if s.kind() == "string" {
                                out.push(self.read(SwitchKind::Env, &self.text(s), s, None));
                            }
                        }
                    }
                }
                "comparison_operator" => {
                    let t = self.text(n);
                    if t.contains(" in ") && (t.ends_with("os.environ") || t.ends_with(" environ"))
                    {
                        if let Some(s) = n.named_child(0).filter(|s| s.kind() == "string") {
                            out.push(self.read(SwitchKind::Env, &self.text(s), s, None));
                        }
                    }
                }
                "attribute" => {
                    if let Some(name) = self.option_read(n) {
                        out.push(Read {
                            kind: SwitchKind::Option,
                            name,
                            at: self.line(n),
                            default: None,
                        });
                        continue;
                    }
                }
                "identifier" => {
                    if let Some(r) = taint.get(&self.text(n)) {
                        out.extend(r.iter().cloned());
                    }
                }
                _ => {}
            }
            let mut c = n.walk();
            stack.extend(n.named_children(&mut c));
        }
        out.sort();
        out.dedup();
        out
    }

    fn read(&self, kind: SwitchKind, lit: &str, at: Node, default: Option<String>) -> Read {
        Read {
            kind,
            name: string_value(lit),
            at: self.line(at),
            default,
        }
    }

    fn env_call(&self, call: Node, out: &mut Vec<Read>) {
        let Some(args) = call.child_by_field_name("arguments") else {
            return;
        };
        let mut c = args.walk();
        let a: Vec<Node> = args.named_children(&mut c).collect();
        if let Some(s) = a.first().filter(|s| s.kind() == "string") {
            let default = a.get(1).map(|d| one_line(&self.text(*d)));
            out.push(self.read(SwitchKind::Env, &self.text(*s), call, default));
        }
    }

    /// `CONF.x`, `CONF.group.x`, `cfg.CONF.x`, `conf.x`, `self.conf.x`: the option name, when
    /// `n` is the whole attribute chain and not a method being called.
    fn option_read(&self, n: Node<'a>) -> Option<String> {
        if self.parent(n).is_some_and(|p| {
            (p.kind() == "attribute" && p.child_by_field_name("object") == Some(n))
                || (p.kind() == "call" && p.child_by_field_name("function") == Some(n))
        }) {
            return None;
        }
        let t: String = self.text(n).split_whitespace().collect();
        let parts: Vec<&str> = t.split('.').collect();
        let root = parts
            .iter()
            .position(|p| matches!(*p, "CONF" | "conf" | "_conf"))?;
        let prefix_ok = parts[..root]
            .iter()
            .all(|p| matches!(*p, "cfg" | "self" | "oslo_config"));
        let rest = &parts[root + 1..];
        let ident = |s: &&str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
        (prefix_ok && (1..=2).contains(&rest.len()) && rest.iter().all(ident))
            .then(|| rest.last().unwrap().to_string())
    }

    /// The conditions that decide whether `n` runs, innermost first, up to its scope.
    fn conditions(&self, n: Node<'a>) -> Rc<Vec<Node<'a>>> {
        // The path up to the scope or to a node whose conditions are known; then each node's
        // conditions are its parent's own plus the parent's, filled in from the top down.
        let mut path = Vec::new();
        let mut child = n;
        let mut known = Rc::new(Vec::new());
        loop {
            if let Some(c) = self.conditions.borrow().get(&child.id()) {
                known = c.clone();
                break;
            }
            match self.parent(child) {
                Some(p)
                    if !matches!(
                        p.kind(),
                        "function_definition" | "module" | "class_definition" | "lambda"
                    ) =>
                {
                    path.push((child, p));
                    child = p;
                }
                _ => {
                    self.conditions
                        .borrow_mut()
                        .insert(child.id(), known.clone());
                    break;
                }
            }
        }
        for (child, p) in path.into_iter().rev() {
            let mut out = self.local_conditions(child, p);
            out.extend(known.iter().copied());
            known = Rc::new(out);
            self.conditions
                .borrow_mut()
                .insert(child.id(), known.clone());
        }
        known
    }

    /// The conditions that parent `p` puts on its child `child`.
    fn local_conditions(&self, child: Node<'a>, p: Node<'a>) -> Vec<Node<'a>> {
        let mut out = Vec::new();
        match p.kind() {
            "if_statement" | "while_statement"
                if p.child_by_field_name("consequence") == Some(child)
                    || p.child_by_field_name("body") == Some(child) =>
            {
                out.extend(p.child_by_field_name("condition"));
            }
            "elif_clause" => {
                out.extend(p.child_by_field_name("condition"));
                out.extend(self.chain_conditions(p));
            }
            "else_clause" => out.extend(self.chain_conditions(p)),
            "conditional_expression" => {
                let mut c = p.walk();
                let parts: Vec<Node> = p.named_children(&mut c).collect();
                if parts.len() == 3 && parts[1] != child {
                    out.push(parts[1]);
                }
            }
            "boolean_operator" if p.child_by_field_name("right") == Some(child) => {
                out.extend(p.child_by_field_name("left"));
            }
            "block" => {
                // An earlier `if ...: return` in the same block. One pass over the block:
                // tree-sitter's prev_named_sibling walks from the first child each time.
                let mut c = p.walk();
                for st in p.named_children(&mut c) {
                    if st == child {
                        break;
                    }
                    if st.kind() == "if_statement" && exits(st) {
                        out.extend(st.child_by_field_name("condition"));
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// The conditions of the `if` and earlier `elif`s before an `elif`/`else` clause.
    fn chain_conditions(&self, clause: Node<'a>) -> Vec<Node<'a>> {
        let mut out = Vec::new();
        let mut s = clause.prev_named_sibling();
        while let Some(x) = s {
            if x.kind() == "elif_clause" {
                out.extend(x.child_by_field_name("condition"));
            }
            s = x.prev_named_sibling();
        }
        if let Some(i) = self.parent(clause).filter(|p| p.kind() == "if_statement") {
            out.extend(i.child_by_field_name("condition"));
        }
        out
    }

    /// The variables of `scope` (a function or the module) and the switch reads they depend on.
    fn scope_taint(&self, scope: Node<'a>) -> BTreeMap<String, Vec<Read>> {
        let assigns = self.assigns.get(&scope.id()).map_or(&[][..], Vec::as_slice);
        let mut taint: BTreeMap<String, Vec<Read>> = BTreeMap::new();
        for _ in 0..4 {
            let mut changed = false;
            for &a in assigns {
                let (Some(l), Some(r)) = (
                    a.child_by_field_name("left"),
                    a.child_by_field_name("right"),
                ) else {
                    continue;
                };
                let mut reads = self.reads(r, &taint);
                for &c in self.conditions(a).iter() {
                    reads.extend(self.reads(c, &taint));
                }
                if reads.is_empty() {
                    continue;
                }
                for name in identifiers(l, self.src) {
                    let e = taint.entry(name).or_default();
                    for r in &reads {
                        if !e.contains(r) {
                            e.push(r.clone());
                            changed = true;
                        }
                    }
                }
            }
            if !changed {
                break;
            }
        }
        taint
    }

    fn returned(&self, f: Node<'a>, taint: &BTreeMap<String, Vec<Read>>) -> Vec<Read> {
        let mut out = Vec::new();
        for &n in self.returns_at.get(&f.id()).map_or(&[][..], Vec::as_slice) {
            // What it returns, and whether it returns here at all: `if env in (...):
            // return True` makes the function's value depend on the variable.
            out.extend(self.reads(n, taint));
            for &c in self.conditions(n).iter() {
                out.extend(self.reads(c, taint));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Second pass: every call site with its switch guards.
    fn calls(&mut self) {
        for i in 0..self.calls_at.len() {
            self.call(self.calls_at[i]);
        }
    }

    fn call(&mut self, n: Node<'a>) {
        let Some(f) = n.child_by_field_name("function") else {
            return;
        };
        let (receiver, callee) = match f.kind() {
            "identifier" => (None, self.text(f)),
            "attribute" => {
                let (Some(o), Some(a)) = (
                    f.child_by_field_name("object"),
                    f.child_by_field_name("attribute"),
                ) else {
                    return;
                };
                (
                    Some(self.text(o).split_whitespace().collect::<String>()),
                    self.text(a),
                )
            }
            _ => return,
        };
        let patches =
            callee == "monkey_patch"
                && match &receiver {
                    Some(r) => {
                        let first = r.split('.').next().unwrap_or("");
                        let resolved = self.out.imports.get(first).map_or(first, |m| m.as_str());
                        names_eventlet(resolved) || first == "patcher"
                    }
                    None => self.out.imports.get("monkey_patch").is_some_and(|m| {
                        m.strip_suffix(".monkey_patch").is_some_and(names_eventlet)
                    }),
                };
        if callee == "try_import" {
            // `importutils.try_import('eventlet')`: an optional import with a fallback.
            let first = n
                .child_by_field_name("arguments")
                .and_then(|a| a.named_child(0))
                .filter(|a| a.kind() == "string")
                .map(|a| string_value(&self.text(a)));
            if first.is_some_and(|m| names_module_eventlet(&m)) {
                let l = self.line(n);
                self.out.optional_imports.push(l);
            }
        }
        let scope = self.enclosing(n, &["function_definition"]);
        let function = scope.and_then(|s| self.fn_index.get(&s.id()).copied());
        let scope_id = scope.map_or(self.root.id(), |s| s.id());
        let empty = BTreeMap::new();
        let taint = self.taint.get(&scope_id).unwrap_or(&empty);
        let conditions = self.conditions(n);
        let script = conditions.iter().any(|c| {
            let t: String = self.text(*c).split_whitespace().collect();
            t == "__name__=='__main__'" || t == "__name__==\"__main__\""
        });
        let guards: Vec<Guard> = conditions
            .iter()
            .filter_map(|&c| {
                // Calls under one condition share its reads: the scope is the same.
                let known = self.guard_reads.borrow().get(&c.id()).cloned();
                let reads = known.unwrap_or_else(|| {
                    let r = self.reads(c, taint);
                    self.guard_reads.borrow_mut().insert(c.id(), r.clone());
                    r
                });
                (!reads.is_empty()).then(|| Guard {
                    at: self.line(c),
                    reads,
                })
            })
            .collect();
        let at = self.line(n);
        self.out.calls.push(Call {
            callee,
            receiver,
            at,
            function,
            guards,
            patches,
            script,
        });
    }
}

/// `eventlet` or one of its submodules.
fn names_module_eventlet(m: &str) -> bool {
    m == "eventlet" || m.starts_with("eventlet.")
}

/// A module path that is Eventlet or a project's re-export of it (`from x.concurrency import
/// eventlet`), possibly with a submodule (`eventlet.patcher`).
fn names_eventlet(module: &str) -> bool {
    module.split('.').any(|p| p == "eventlet") || module == "patcher"
}

/// An `if` without `else` whose body ends the function or loop (`return`, `raise`, ...).
fn exits(st: Node) -> bool {
    if st.child_by_field_name("alternative").is_some() {
        return false;
    }
    st.child_by_field_name("consequence")
        .and_then(|b| b.named_child(b.named_child_count().saturating_sub(1)))
        .is_some_and(|last| {
            matches!(
                last.kind(),
                "return_statement" | "raise_statement" | "continue_statement" | "break_statement"
            )
        })
}

fn identifiers(n: Node, src: &[u8]) -> Vec<String> {
    match n.kind() {
        "identifier" => vec![n.utf8_text(src).unwrap_or("").to_string()],
        "pattern_list" | "tuple_pattern" | "list_pattern" => {
            let mut c = n.walk();
            n.named_children(&mut c)
                .flat_map(|x| identifiers(x, src))
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The value of a Python string literal as written: prefixes and quotes removed.
pub fn string_value(lit: &str) -> String {
    let s = lit.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    for q in ["\"\"\"", "'''", "\"", "'"] {
        if let Some(inner) = s.strip_prefix(q).and_then(|x| x.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    s.to_string()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
