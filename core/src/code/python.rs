//! Python facts with tree-sitter: which occurrence lines are imports, calls, mocks, strings
//! or comments, and which names they use, resolved through the file's imports.
//!
//! Names are followed within the file only, by their local binding: `import eventlet.event
//! as ev` then `ev.Event()` is `eventlet.event.Event`. Scopes are not modelled (a function
//! parameter shadowing an imported name is taken for it), which costs little in practice and
//! keeps the walk linear in the size of the file.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tree_sitter::{Node, Tree};

use super::reparse::{self, Kept};
use super::roles::{FileFacts, LineFacts, Role, Site};

/// Related sites kept per file: enough for any real file, bounded for hostile ones.
const MAX_RELATED: usize = 2000;

/// Attributes of a mock object: a chain through one of these is an assertion on a mock.
const MOCK_ATTRS: [&str; 12] = [
    "assert_called",
    "assert_called_once",
    "assert_called_with",
    "assert_called_once_with",
    "assert_not_called",
    "assert_any_call",
    "assert_has_calls",
    "called",
    "call_count",
    "call_args",
    "call_args_list",
    "return_value",
];

/// Last names of the functions [`is_mock_function`] accepts.
const MOCK_NAMES: [&str; 12] = [
    "patch",
    "patchobject",
    "mock_object",
    "stub_out",
    "MonkeyPatch",
    "MockPatch",
    "MockPatchObject",
    "StubOutWithMock",
    "object",
    "dict",
    "multiple",
    "Set",
];

/// Keyword arguments whose string is prose.
const PROSE_KEYWORDS: [&str; 7] = [
    "help",
    "deprecated_reason",
    "message",
    "msg",
    "reason",
    "description",
    "warning",
];

/// Extracts the facts of the Python file `path` for its occurrence `lines`. `is_match` is the
/// scan's pattern, applied to names and string contents. A file with syntax errors gives
/// `parsed: false` and no line facts: its lines fall back to line rules.
pub fn extract(
    path: &str,
    source: &[u8],
    lines: &[u32],
    is_match: &dyn Fn(&str) -> bool,
) -> FileFacts {
    // Functions that cannot matter are left out first; rows do not move (prune says why).
    match super::prune::prune(source, lines) {
        Some(pruned) => extract_whole(path, &pruned, lines, is_match),
        None => extract_whole(path, source, lines, is_match),
    }
}

/// [`extract`] without leaving anything out: what `tests/bench/prune-check.sh` compares it
/// with, on real files.
pub fn extract_whole(
    path: &str,
    source: &[u8],
    lines: &[u32],
    is_match: &dyn Fn(&str) -> bool,
) -> FileFacts {
    match reparse::parse_new(source) {
        Some(tree) => from_tree(path, source, &tree, lines, is_match),
        None => unparsed(path),
    }
}

/// [`extract`] for a file whose earlier version was parsed so: from that parse (`previous`,
/// the same path's last one; [`reparse`] says how), with the same facts. Returns the parse
/// to keep for the file's next version.
pub fn extract_again(
    path: &str,
    source: &[u8],
    lines: &[u32],
    is_match: &dyn Fn(&str) -> bool,
    previous: Option<&Kept>,
) -> (FileFacts, Option<Kept>) {
    let pruned = super::prune::prune(source, lines);
    let source = pruned.as_deref().unwrap_or(source);
    match reparse::parse(source, previous) {
        Some(kept) => (
            from_tree(path, source, kept.tree(), lines, is_match),
            Some(kept),
        ),
        None => (unparsed(path), None),
    }
}

fn unparsed(path: &str) -> FileFacts {
    FileFacts {
        path: path.to_string(),
        parsed: false,
        lines: Vec::new(),
        related: Vec::new(),
    }
}

/// The facts of `source`, parsed into `tree`.
fn from_tree(
    path: &str,
    source: &[u8],
    tree: &Tree,
    lines: &[u32],
    is_match: &dyn Fn(&str) -> bool,
) -> FileFacts {
    let root = tree.root_node();
    if root.has_error() {
        return unparsed(path);
    }
    let Nodes {
        all: nodes,
        parents,
        imports,
        calls,
        chains,
        texts,
    } = all_nodes(root);
    let mut w = Walk {
        src: source,
        is_match,
        nodes,
        parents,
        bindings: HashMap::new(),
        imports: Vec::new(),
        mock_spans: Vec::new(),
        hits: BTreeMap::new(),
        uses: Vec::new(),
    };
    w.imports(&imports);
    w.dynamic_imports(&calls);
    w.mocks(&calls);
    w.chains(&chains);
    w.strings_and_comments(&texts);
    w.facts(path, lines)
}

/// One import statement that binds or names something the pattern matches.
struct Import {
    rows: (usize, usize),
    names: Vec<String>,
    /// Local name and the qualified name whose uses it serves: `import eventlet.wsgi` binds
    /// `eventlet` but serves only `eventlet.wsgi...`.
    locals: Vec<(String, String)>,
}

/// One thing found on a row: its role, the name it uses, and for a bare reference to an
/// imported name (`eventlet = None`, `if eventlet:`) the local name.
struct Hit {
    role: Role,
    name: Option<String>,
    bare: Option<String>,
}

/// One use of a name bound by an import.
struct Use {
    row: usize,
    local: String,
    name: String,
    mocked: bool,
    /// The bare module object (`self.ev = eventlet`): passed around, not used.
    bare: bool,
}

struct Walk<'t, 's> {
    src: &'s [u8],
    is_match: &'s dyn Fn(&str) -> bool,
    nodes: Vec<Node<'t>>,
    /// Index of each node's parent in `nodes`.
    parents: Vec<usize>,
    /// Local name -> qualified name, for imports the pattern matches.
    bindings: HashMap<String, String>,
    imports: Vec<Import>,
    /// Byte ranges of mock calls whose target is the pattern's.
    mock_spans: Vec<(usize, usize)>,
    /// Row -> what was found on it.
    hits: BTreeMap<usize, Vec<Hit>>,
    uses: Vec<Use>,
}

/// The nodes of a tree, and indexes of the few kinds the walk looks at.
#[derive(Default)]
struct Nodes<'t> {
    /// Every node in document order.
    all: Vec<Node<'t>>,
    /// Index of each node's parent (`usize::MAX` for the root): `Node::parent` searches down
    /// from the root each time, too slow to call for every name.
    parents: Vec<usize>,
    imports: Vec<usize>,
    calls: Vec<usize>,
    /// The outermost node of each name chain outside imports.
    chains: Vec<usize>,
    /// Strings and comments.
    texts: Vec<usize>,
}

fn all_nodes(root: Node<'_>) -> Nodes<'_> {
    let lang = root.language();
    let id = |k: &str, named: bool| lang.id_for_node_kind(k, named);
    let [import, import_from, call, identifier, attribute, string, comment] = [
        "import_statement",
        "import_from_statement",
        "call",
        "identifier",
        "attribute",
        "string",
        "comment",
    ]
    .map(|k| id(k, true));
    let not_chain_parent = [
        attribute,
        id("dotted_name", true),
        id("aliased_import", true),
        import,
        import_from,
    ];
    let mut n = Nodes::default();
    let mut stack: Vec<usize> = Vec::new();
    let mut c = root.walk();
    loop {
        let node = c.node();
        let parent = stack.last().copied().unwrap_or(usize::MAX);
        let i = n.all.len();
        let k = node.kind_id();
        if k == import || k == import_from {
            n.imports.push(i);
        } else if k == call {
            n.calls.push(i);
        } else if k == string || k == comment {
            n.texts.push(i);
        }
        if (k == identifier || k == attribute)
            && n.all
                .get(parent)
                .is_some_and(|p| !not_chain_parent.contains(&p.kind_id()))
        {
            n.chains.push(i);
        }
        n.parents.push(parent);
        n.all.push(node);
        if c.goto_first_child() {
            stack.push(i);
            continue;
        }
        loop {
            if c.goto_next_sibling() {
                break;
            }
            if !c.goto_parent() {
                return n;
            }
            stack.pop();
        }
    }
}

impl<'t> Walk<'t, '_> {
    fn text(&self, n: Node<'_>) -> &str {
        n.utf8_text(self.src).unwrap_or("")
    }

    /// Indexes of the ancestors of node `i`, nearest first.
    fn ancestors(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(Some(i), |&j| {
            Some(self.parents[j]).filter(|&p| p != usize::MAX)
        })
        .skip(1)
    }

    /// The rows of the statement holding node `i`.
    fn statement_rows(&self, i: usize) -> (usize, usize) {
        let stmt = std::iter::once(i)
            .chain(self.ancestors(i))
            .map(|j| self.nodes[j])
            .find(|a| a.kind().ends_with("_statement") || a.kind() == "decorator")
            .unwrap_or(self.nodes[i]);
        span_rows(stmt)
    }

    /// A string that is a statement on its own: a docstring, or a string used as a comment.
    fn is_docstring(&self, i: usize) -> bool {
        for j in self.ancestors(i) {
            let p = self.nodes[j];
            match p.kind() {
                "concatenated_string" | "parenthesized_expression" => {}
                "expression_statement" => return p.named_child_count() == 1,
                _ => return false,
            }
        }
        false
    }

    fn hit(&mut self, rows: (usize, usize), role: Role, name: Option<String>) {
        self.hit_bare(rows, role, name, None);
    }

    fn hit_bare(
        &mut self,
        rows: (usize, usize),
        role: Role,
        name: Option<String>,
        bare: Option<String>,
    ) {
        for r in rows.0..=rows.1 {
            self.hits.entry(r).or_default().push(Hit {
                role,
                name: name.clone(),
                bare: bare.clone(),
            });
        }
    }

    fn imports(&mut self, at: &[usize]) {
        for &i in at {
            let n = self.nodes[i];
            let from = match n.kind() {
                "import_statement" => None,
                "import_from_statement" => n
                    .child_by_field_name("module_name")
                    .map(|m| self.text(m).to_string()),
                _ => continue,
            };
            let mut imp = Import {
                rows: (n.start_position().row, n.end_position().row),
                names: Vec::new(),
                locals: Vec::new(),
            };
            let mut c = n.walk();
            for name in n.children_by_field_name("name", &mut c) {
                let (dotted, alias) = match name.kind() {
                    "aliased_import" => (
                        name.child_by_field_name("name")
                            .map_or("", |d| self.text(d))
                            .to_string(),
                        name.child_by_field_name("alias")
                            .map(|a| self.text(a).to_string()),
                    ),
                    _ => (self.text(name).to_string(), None),
                };
                let qname = match &from {
                    Some(m) if m.ends_with('.') => format!("{m}{dotted}"),
                    Some(m) => format!("{m}.{dotted}"),
                    None => dotted.clone(),
                };
                // `import a.b` binds `a`; `from m import a` and `... as x` bind the name given.
                let (local, target) = match (&from, alias) {
                    (_, Some(a)) => (a, qname.clone()),
                    (Some(_), None) => (dotted.clone(), qname.clone()),
                    (None, None) => {
                        let top = dotted.split('.').next().unwrap_or("").to_string();
                        (top.clone(), top)
                    }
                };
                if !(self.is_match)(&qname) && !(self.is_match)(&local) {
                    continue;
                }
                imp.names.push(qname.clone());
                // `import nova.eventlet_utils` binds `nova`, which is not the pattern's: its
                // uses are found by their text, not followed as the pattern's.
                if (self.is_match)(&target) || (self.is_match)(&local) {
                    self.bindings.insert(local.clone(), target);
                    imp.locals.push((local, qname));
                }
            }
            if let (Some(m), true) = (
                &from,
                n.named_children(&mut n.walk())
                    .any(|c| c.kind() == "wildcard_import"),
            ) {
                if (self.is_match)(m) {
                    imp.names.push(format!("{m}.*"));
                }
            }
            if !imp.names.is_empty() {
                self.hit(imp.rows, Role::Import, None);
                self.imports.push(imp);
            }
        }
    }

    /// Imports made by a call: `x = importutils.try_import('eventlet')`,
    /// `importlib.import_module(...)`, `__import__(...)`, and a project helper that returns
    /// the module, assigned to a name (`eventlet = utils.get_eventlet()`). They bind the
    /// assigned name as an import statement would.
    fn dynamic_imports(&mut self, at: &[usize]) {
        for &i in at {
            let n = self.nodes[i];
            let Some(f) = n
                .child_by_field_name("function")
                .and_then(|f| self.plain_chain(f))
            else {
                continue;
            };
            let last = f.last().map_or("", String::as_str);
            // The name assigned: `eventlet = ...`.
            let target = self
                .nodes
                .get(self.parents[i])
                .filter(|p| p.kind() == "assignment")
                .and_then(|p| p.child_by_field_name("left"))
                .filter(|l| l.kind() == "identifier")
                .map(|l| self.text(l).to_string());
            let module = if matches!(last, "try_import" | "import_module" | "__import__") {
                let Some(args) = n.child_by_field_name("arguments") else {
                    continue;
                };
                let mut c = args.walk();
                let first = args.named_children(&mut c).find(|a| a.kind() != "comment");
                match first {
                    Some(a) if a.kind() == "string" => {
                        let s = string_content(self.text(a)).to_string();
                        if !(self.is_match)(&s) || s.contains(char::is_whitespace) {
                            continue;
                        }
                        s
                    }
                    _ => continue,
                }
            } else if let (Some(m), Some(_)) = (self.module_getter(n), &target) {
                m
            } else {
                continue;
            };
            let rows = self.statement_rows(i);
            let mut imp = Import {
                rows,
                names: vec![module.clone()],
                locals: Vec::new(),
            };
            if let Some(local) = target {
                self.bindings.insert(local.clone(), module.clone());
                imp.locals.push((local, module));
            }
            self.hit(rows, Role::Import, None);
            self.imports.push(imp);
        }
    }

    /// The module a call without arguments returns when the function is named after it:
    /// `utils.get_eventlet()` gives `eventlet`, when the pattern matches exactly that word.
    fn module_getter(&self, call: Node<'_>) -> Option<String> {
        let args = call.child_by_field_name("arguments")?;
        if args.named_child_count() > 0 {
            return None;
        }
        let f = self.plain_chain(call.child_by_field_name("function")?)?;
        let last = f.last()?;
        let word = ["get_", "_get_", "import_", "_import_", "load_", "_load_"]
            .iter()
            .find_map(|p| last.strip_prefix(p))?;
        self.is_exact(word).then(|| word.to_string())
    }

    /// True when the pattern matches all of `s` and no shorter part of it: `eventlet`, not
    /// `eventlet_debug`.
    fn is_exact(&self, s: &str) -> bool {
        let mut chars = s.char_indices();
        let (Some(_), Some((second, _))) = (chars.next(), chars.next()) else {
            return false;
        };
        let last = s.char_indices().last().map_or(0, |(i, _)| i);
        (self.is_match)(s) && !(self.is_match)(&s[second..]) && !(self.is_match)(&s[..last])
    }

    /// The dotted text of a pure name chain (`a.b.c`), or None for anything else.
    fn plain_chain(&self, n: Node<'_>) -> Option<Vec<String>> {
        self.chain_through(n, false)
    }

    /// The dotted text of a name chain (`a.b.c`), or None for anything else. A call of a
    /// module getter (`utils.get_eventlet().tpool`) stands for the module it returns.
    fn chain(&self, n: Node<'_>) -> Option<Vec<String>> {
        self.chain_through(n, true)
    }

    fn chain_through(&self, n: Node<'_>, getters: bool) -> Option<Vec<String>> {
        let mut parts = Vec::new();
        let mut cur = n;
        loop {
            match cur.kind() {
                "identifier" => {
                    parts.push(self.text(cur).to_string());
                    parts.reverse();
                    return Some(parts);
                }
                "attribute" => {
                    parts.push(self.text(cur.child_by_field_name("attribute")?).to_string());
                    cur = cur.child_by_field_name("object")?;
                }
                "call" if getters && !parts.is_empty() => {
                    parts.push(self.module_getter(cur)?);
                    parts.reverse();
                    return Some(parts);
                }
                // `sys.modules['eventlet.patcher'].is_monkey_patched` is the module's.
                "subscript" if getters && !parts.is_empty() => {
                    let value = self.plain_chain(cur.child_by_field_name("value")?)?;
                    let key = cur.child_by_field_name("subscript")?;
                    if value != ["sys", "modules"] || key.kind() != "string" {
                        return None;
                    }
                    parts.push(string_content(self.text(key)).to_string());
                    parts.reverse();
                    return Some(parts);
                }
                _ => return None,
            }
        }
    }

    /// The qualified name of a chain: resolved through the imports, else its own text when
    /// the pattern matches it. The bool says whether it was resolved.
    fn resolve(&self, parts: &[String]) -> Option<(String, bool)> {
        if let Some(q) = self.bindings.get(&parts[0]) {
            let mut name = q.clone();
            for p in &parts[1..] {
                name.push('.');
                name.push_str(p);
            }
            return Some((name, true));
        }
        let text = parts.join(".");
        (self.is_match)(&text).then_some((text, false))
    }

    fn mocks(&mut self, at: &[usize]) {
        for &i in at {
            let n = self.nodes[i];
            if n.kind() != "call" {
                continue;
            }
            // Most calls are not mocks: look at the last name before building the chain.
            let last = n
                .child_by_field_name("function")
                .map_or("", |f| self.text(f).rsplit('.').next().unwrap_or("").trim());
            if !MOCK_NAMES.contains(&last) {
                continue;
            }
            let Some(f) = n
                .child_by_field_name("function")
                .and_then(|f| self.chain(f))
            else {
                continue;
            };
            if !is_mock_function(&f) {
                continue;
            }
            let Some(args) = n.child_by_field_name("arguments") else {
                continue;
            };
            let mut c = args.walk();
            let Some(target) = args
                .named_children(&mut c)
                .find(|a| !matches!(a.kind(), "keyword_argument" | "comment"))
            else {
                continue;
            };
            let name = match target.kind() {
                "string" => {
                    let s = string_content(self.text(target)).to_string();
                    (self.is_match)(&s).then_some(s)
                }
                "concatenated_string" => {
                    let mut c = target.walk();
                    let s: String = target
                        .named_children(&mut c)
                        .filter(|p| p.kind() == "string")
                        .map(|p| string_content(self.text(p)))
                        .collect();
                    (self.is_match)(&s).then_some(s)
                }
                _ => self
                    .chain(target)
                    .and_then(|p| self.resolve(&p))
                    .map(|(q, _)| q),
            };
            if let Some(name) = name {
                let span = span_rows(n);
                // A decorator's rows all belong to the mock.
                let span = match self.nodes.get(self.parents[i]) {
                    Some(d) if d.kind() == "decorator" => span_rows(*d),
                    _ => span,
                };
                self.mock_spans.push((n.start_byte(), n.end_byte()));
                self.hit(span, Role::Mock, Some(name));
            }
        }
    }

    fn in_mock(&self, n: Node<'_>) -> bool {
        self.mock_spans
            .iter()
            .any(|&(a, b)| a <= n.start_byte() && n.end_byte() <= b)
    }

    fn chains(&mut self, at: &[usize]) {
        for &i in at {
            let n = self.nodes[i];
            let p = self.nodes[self.parents[i]];
            // Most names are neither bound to the pattern's imports nor contain it.
            let text = self.text(n);
            let root = text.split('.').next().unwrap_or("").trim();
            if !self.bindings.contains_key(root) && !(self.is_match)(text) {
                continue;
            }
            let row = n.start_position().row;
            // A keyword or parameter named after the pattern (`fix_eventlet=False`,
            // `def setup(use_eventlet=True)`) is a setting, not a use of the module.
            if matches!(
                p.kind(),
                "keyword_argument" | "default_parameter" | "typed_default_parameter"
            ) && p.child_by_field_name("name") == Some(n)
            {
                if (self.is_match)(text) {
                    // A keyword given `False` or `None` turns the setting off: the name says
                    // so (`fix_eventlet=False`), so that profiles can tell it from one that
                    // turns it on.
                    let value = p.child_by_field_name("value").map(|v| self.text(v));
                    let name = match value {
                        Some(v @ ("False" | "None")) if p.kind() == "keyword_argument" => {
                            format!("{text}={v}")
                        }
                        _ => text.to_string(),
                    };
                    self.hit((row, row), Role::Option, Some(name));
                }
                continue;
            }
            let Some(parts) = self.chain(n) else { continue };
            let Some((name, resolved)) = self.resolve(&parts) else {
                continue;
            };
            let cut = parts
                .iter()
                .position(|x| MOCK_ATTRS.contains(&x.as_str()) || x.starts_with("assert_"));
            let mocked = self.in_mock(n) || cut.is_some();
            // The target of an assertion on a mock, without the assertion.
            let name = match cut {
                Some(i) if i > 0 => {
                    let drop: usize = parts[i..].iter().map(|x| x.len() + 1).sum();
                    name[..name.len().saturating_sub(drop)].to_string()
                }
                _ => name,
            };
            let called = p.kind() == "call" && p.child_by_field_name("function") == Some(n);
            let bare = resolved && parts.len() == 1 && !called;
            if resolved {
                self.uses.push(Use {
                    row,
                    local: parts[0].clone(),
                    name: name.clone(),
                    mocked,
                    bare,
                });
            }
            let role = if mocked {
                Role::Mock
            } else if called {
                Role::Call
            } else if self
                .ancestors(i)
                .any(|a| self.nodes[a].kind() == "decorator")
            {
                Role::Decorator
            } else {
                Role::Attribute
            };
            let rows = if cut.is_some() {
                self.statement_rows(i)
            } else {
                (row, n.end_position().row)
            };
            let bare = bare.then(|| parts[0].clone());
            self.hit_bare(rows, role, Some(name), bare);
        }
    }

    fn strings_and_comments(&mut self, at: &[usize]) {
        for &i in at {
            let n = self.nodes[i];
            match n.kind() {
                "comment" if (self.is_match)(self.text(n)) => {
                    self.hit(span_rows(n), Role::Comment, None)
                }
                "string" if (self.is_match)(self.text(n)) => {
                    let content = string_content(self.text(n)).to_string();
                    let (start, end) = span_rows(n);
                    if start != end {
                        // Every line of a multi-line string is prose.
                        let role = if self.is_docstring(i) {
                            Role::Docstring
                        } else {
                            Role::Message
                        };
                        self.hit((start, end), role, None);
                        continue;
                    }
                    // A part of an implicitly concatenated string is judged with the whole:
                    // `"... should not " "import eventlet"` is a message, not a code sample.
                    let content = match self.nodes.get(self.parents[i]) {
                        Some(p) if p.kind() == "concatenated_string" => {
                            let mut c = p.walk();
                            p.named_children(&mut c)
                                .filter(|x| x.kind() == "string")
                                .map(|x| string_content(self.text(x)))
                                .collect()
                        }
                        _ => content,
                    };
                    let role = self.string_role(i, &content);
                    let name = match role {
                        Role::Option | Role::LoggerName | Role::Value => Some(content),
                        Role::Attribute => {
                            let parts: Vec<String> =
                                content.split('.').map(str::to_string).collect();
                            self.resolve(&parts).map(|(n, _)| n)
                        }
                        _ => None,
                    };
                    self.hit((start, end), role, name);
                }
                _ => {}
            }
        }
    }

    fn string_role(&self, s: usize, content: &str) -> Role {
        if self.is_docstring(s) {
            return Role::Docstring;
        }
        // A type annotation written as a string (`x: 'eventlet.semaphore.Semaphore'`) is code.
        if is_dotted_name(content)
            && self
                .ancestors(s)
                .map(|a| self.nodes[a].kind())
                .take_while(|k| !k.ends_with("_statement") && *k != "block")
                .any(|k| k == "type")
        {
            return Role::Attribute;
        }
        if is_log_level(content) {
            return Role::LoggerName;
        }
        let spaced = content.chars().any(char::is_whitespace);
        // A code sample (fed to a lint check, say) is a value, not prose.
        let prose = spaced && !is_code_sample(content);
        // The pattern's word alone (`'eventlet'`) names a backend, executor or hub to select.
        let exact = self.is_exact(content);
        let mut cur = self.nodes[s];
        let mut keyword: Option<String> = None;
        for pi in self.ancestors(s) {
            let p = self.nodes[pi];
            match p.kind() {
                "keyword_argument" if keyword.is_none() => {
                    let k = p.child_by_field_name("name").map_or("", |k| self.text(k));
                    if PROSE_KEYWORDS.contains(&k) {
                        return Role::Message;
                    }
                    if !prose && is_logger_setting(k) {
                        return Role::LoggerName;
                    }
                    keyword = Some(k.to_string());
                }
                "argument_list" => {
                    let f = self
                        .nodes
                        .get(self.parents[pi])
                        .and_then(|c| c.child_by_field_name("function"))
                        .and_then(|f| self.chain(f))
                        .unwrap_or_default();
                    let last = f.last().map_or("", String::as_str);
                    if last == "getLogger" {
                        return Role::LoggerName;
                    }
                    // An environment variable or configuration read: a setting, as an
                    // option is.
                    if !prose && (last == "getenv" || f.iter().any(|p| p == "environ")) {
                        return Role::Option;
                    }
                    if !prose && is_config_read(&f) {
                        return Role::Option;
                    }
                    if is_message_function(&f) || (spaced && is_text_assertion(last)) {
                        return Role::Message;
                    }
                    if last.ends_with("Opt")
                        || matches!(
                            last,
                            "set_default" | "set_override" | "set_defaults" | "import_opt"
                        )
                        || keyword.as_deref().is_some_and(|k| {
                            matches!(k, "default" | "choices" | "group") || k.contains("executor")
                        })
                    {
                        return if prose { Role::Message } else { Role::Option };
                    }
                    // `set_threadpool_model('eventlet')`, `Server(..., 'eventlet')`; not a
                    // package or module named by its word (`version('eventlet')`,
                    // `filterwarnings(module='eventlet')`).
                    if exact
                        && !is_package_lookup(last)
                        && !is_text_search(last)
                        && !keyword
                            .as_deref()
                            .is_some_and(|k| matches!(k, "module" | "name" | "package"))
                    {
                        return Role::Option;
                    }
                    break;
                }
                "raise_statement" | "assert_statement" => return Role::Message,
                "default_parameter" | "typed_default_parameter" if !prose => {
                    let name = p.child_by_field_name("name").map_or("", |k| self.text(k));
                    return if is_logger_setting(name) {
                        Role::LoggerName
                    } else {
                        Role::Option
                    };
                }
                // A value that selects something: `HANDLERS['eventlet'] = ...`,
                // `backend == 'eventlet'`, `executor = 'eventlet'`, `return 'eventlet'`.
                "subscript" | "assignment" if !prose => return Role::Option,
                "return_statement" if exact => return Role::Option,
                // `'eventlet' in line` searches for the word; `== 'eventlet'` and
                // `backend in ('eventlet', 'threading')` select.
                "comparison_operator" if !prose => {
                    let mut c = p.walk();
                    let search = p
                        .children(&mut c)
                        .any(|o| matches!(o.kind(), "in" | "not in"));
                    let choices = matches!(cur.kind(), "tuple" | "list" | "set");
                    return if search && !choices {
                        Role::Value
                    } else {
                        Role::Option
                    };
                }
                // A dictionary value selects (`{"HUB_TYPE": "eventlet"}`); a key names.
                "pair" if !prose && p.child_by_field_name("value") == Some(cur) => {
                    return Role::Option
                }
                "pair" | "expression_statement" | "block" | "module" | "decorator" => break,
                _ => {}
            }
            cur = p;
        }
        if prose {
            Role::Message
        } else {
            Role::Value
        }
    }

    /// Adds to `serves` what the names `imp` binds reach elsewhere in the file outside
    /// mocks; true when some use is inside a mock.
    fn serve(&self, imp: &Import, serves: &mut BTreeSet<String>) -> bool {
        let mut mocked = false;
        for u in &self.uses {
            let reached = imp.locals.iter().any(|(local, prefix)| {
                &u.local == local
                    && (u.bare || u.name == *prefix || u.name.starts_with(&format!("{prefix}.")))
            });
            if !reached || (imp.rows.0 <= u.row && u.row <= imp.rows.1) {
                continue;
            }
            if u.mocked {
                mocked = true;
            } else if !u.bare {
                serves.insert(u.name.clone());
            }
        }
        mocked
    }

    fn facts(self, path: &str, lines: &[u32]) -> FileFacts {
        let wanted: BTreeSet<u32> = lines.iter().copied().collect();
        let mut out = Vec::new();
        for &line in &wanted {
            let row = line.saturating_sub(1) as usize;
            let hits = self.hits.get(&row).map(Vec::as_slice).unwrap_or_default();
            let roles: BTreeSet<Role> = hits.iter().map(|h| h.role).collect();
            let role = roles.first().copied().unwrap_or(Role::Other);
            let mut names: BTreeSet<String> = hits
                .iter()
                .filter(|h| !h.role.is_prose())
                .filter_map(|h| h.name.clone())
                .collect();
            let (mut serves, mut mocked) = (BTreeSet::new(), false);
            if role == Role::Import {
                for imp in self
                    .imports
                    .iter()
                    .filter(|i| i.rows.0 <= row && row <= i.rows.1)
                {
                    names.extend(imp.names.iter().cloned());
                    mocked |= self.serve(imp, &mut serves);
                }
            } else if hits.iter().any(|h| h.bare.is_some())
                && hits
                    .iter()
                    .all(|h| h.bare.is_some() || h.name.is_none() || h.role.is_prose())
            {
                // Only bare references to imported names: the fallback of an optional import
                // (`eventlet = None`) or a guard on it (`if eventlet is None:`) serves what
                // the import serves.
                let locals: BTreeSet<&str> =
                    hits.iter().filter_map(|h| h.bare.as_deref()).collect();
                for imp in self
                    .imports
                    .iter()
                    .filter(|i| i.locals.iter().any(|(l, _)| locals.contains(l.as_str())))
                {
                    self.serve(imp, &mut serves);
                }
            }
            out.push(LineFacts {
                line,
                role,
                names: names.into_iter().collect(),
                serves: serves.into_iter().collect(),
                mocked,
                roles: roles.into_iter().collect(),
            });
        }
        let mut related: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
        let import_row = |r: usize| self.imports.iter().any(|i| i.rows.0 <= r && r <= i.rows.1);
        for u in &self.uses {
            if u.mocked || u.bare || wanted.contains(&(u.row as u32 + 1)) || import_row(u.row) {
                continue;
            }
            if related.len() >= MAX_RELATED && !related.contains_key(&u.row) {
                break;
            }
            related.entry(u.row).or_default().insert(u.name.clone());
        }
        let src_lines: Vec<&[u8]> = self.src.split(|&b| b == b'\n').collect();
        let related = related
            .into_iter()
            .map(|(row, names)| Site {
                line: row as u32 + 1,
                text: src_lines
                    .get(row)
                    .map(|l| crate::matcher::line_text(l))
                    .unwrap_or_default(),
                names: names.into_iter().collect(),
            })
            .collect();
        FileFacts {
            path: path.to_string(),
            parsed: true,
            lines: out,
            related,
        }
    }
}

fn span_rows(n: Node<'_>) -> (usize, usize) {
    (n.start_position().row, n.end_position().row)
}

/// A logging level setting such as `eventlet.wsgi.server=WARN`.
fn is_log_level(s: &str) -> bool {
    let Some((name, level)) = s.split_once('=') else {
        return false;
    };
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        && matches!(
            level,
            "DEBUG" | "INFO" | "WARN" | "WARNING" | "ERROR" | "CRITICAL"
        )
}

/// A string holding code rather than prose: an import statement or a single call.
fn is_code_sample(s: &str) -> bool {
    let t = s.trim();
    let ident = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
    };
    let mut words = t.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("import"), Some(m), _) => ident(m.trim_end_matches(',')),
        (Some("from"), Some(m), Some("import")) => ident(m),
        _ => t
            .split_once('(')
            .is_some_and(|(f, rest)| ident(f) && rest.ends_with(')')),
    }
}

/// The contents of a string literal's source: prefix and quotes removed.
fn string_content(text: &str) -> &str {
    let t = text.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let q = if t.starts_with("\"\"\"") || t.starts_with("'''") {
        3
    } else {
        1
    };
    if t.len() >= 2 * q {
        &t[q..t.len() - q]
    } else {
        t
    }
}

/// `mock.patch`, `mock.patch.object`, `self.mock_object`, `patchobject`, `fixtures.MonkeyPatch`
/// and their kin: calls whose first argument is what gets replaced.
fn is_mock_function(f: &[String]) -> bool {
    let last = f.last().map_or("", String::as_str);
    let prev = f.len().checked_sub(2).map_or("", |i| f[i].as_str());
    matches!(
        last,
        "patch"
            | "patchobject"
            | "mock_object"
            | "stub_out"
            | "MonkeyPatch"
            | "MockPatch"
            | "MockPatchObject"
            | "StubOutWithMock"
    ) || (prev == "patch" && matches!(last, "object" | "dict" | "multiple"))
        || (prev == "stubs" && last == "Set")
}

/// A dotted Python name: `eventlet.semaphore.Semaphore`.
fn is_dotted_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|p| {
            p.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && p.chars().all(|c| c.is_alphanumeric() || c == '_')
        })
}

/// A keyword or parameter that names a logger (`logger_name='eventlet.wsgi.server'`).
fn is_logger_setting(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("logger") || n == "log_name"
}

/// A read of a configuration value by its key: `conf.get('eventlet_debug')`,
/// `self.config.getboolean(...)`.
fn is_config_read(f: &[String]) -> bool {
    let last = f.last().map_or("", String::as_str);
    let obj = f
        .len()
        .checked_sub(2)
        .map_or(String::new(), |i| f[i].to_ascii_lowercase());
    (obj.contains("conf") || obj == "options")
        && matches!(
            last,
            "get" | "getboolean" | "getint" | "getfloat" | "getlist" | "get_bool" | "getbool"
        )
}

/// unittest assertions whose string arguments are expected text (an error message, a log
/// line): `self.assertIn("import eventlet", str(ex))`.
fn is_text_assertion(last: &str) -> bool {
    matches!(
        last,
        "assertIn"
            | "assertNotIn"
            | "assertRaisesRegex"
            | "assertRaisesRegexp"
            | "assertRegex"
            | "assertRegexpMatches"
            | "assertNotRegex"
            | "assertWarnsRegex"
            | "assertLogs"
    )
}

/// String methods and regular expression functions that search text for the word
/// (`logical_line.index('eventlet')`), as a lint check does.
fn is_text_search(last: &str) -> bool {
    matches!(
        last,
        "index"
            | "rindex"
            | "find"
            | "rfind"
            | "count"
            | "startswith"
            | "endswith"
            | "split"
            | "replace"
            | "search"
            | "match"
            | "fullmatch"
            | "findall"
            | "compile"
            | "sub"
    )
}

/// Calls that look a package or module up by its name: the word there is the package, not a
/// backend being selected.
fn is_package_lookup(last: &str) -> bool {
    matches!(
        last,
        "version"
            | "distribution"
            | "get_distribution"
            | "require"
            | "find_spec"
            | "find_module"
            | "try_import"
            | "import_module"
            | "__import__"
    )
}

/// Calls whose string arguments are messages: logging, translation, warnings, exceptions,
/// printing.
fn is_message_function(f: &[String]) -> bool {
    let last = f.last().map_or("", String::as_str);
    let obj = f.len().checked_sub(2).map(|i| f[i].to_ascii_lowercase());
    let logger = obj
        .as_deref()
        .is_some_and(|o| o.contains("log") || o == "warnings");
    (logger
        && matches!(
            last,
            "debug" | "info" | "warning" | "warn" | "error" | "exception" | "critical" | "log"
        ))
        || matches!(
            last,
            "_" | "_LE" | "_LW" | "_LI" | "_LC" | "print" | "warn" | "deprecated"
        )
        || last.ends_with("Error")
        || last.ends_with("Exception")
        || last.ends_with("Warning")
        || last.ends_with("Failure")
}
