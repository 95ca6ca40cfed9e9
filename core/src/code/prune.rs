//! Shrinking a Python file before it is parsed, without moving a line.
//!
//! A file with an occurrence is parsed to give each occurrence line its role, but most of a
//! large file is functions that neither hold an occurrence nor use a name imported from the
//! pattern: nova's `test_driver.py` is 1.5 MB for 4 lines. Parsing all of it cost more than
//! scanning the whole repository. So a light lexer (strings, comments, brackets, logical lines
//! and their indentation; no grammar) finds every function definition, and each one that
//! cannot matter is replaced by a `pass` at its indentation followed by empty lines. Every
//! line keeps its number, and every kept line its bytes, so the parse of what is left gives
//! the same roles, names and related sites as the parse of the whole file.
//!
//! A function matters when its lines (decorators included) hold an occurrence line, or when
//! it mentions, as a word anywhere (strings included, which only keeps more), a name that an
//! import on an occurrence line binds. Classes and module-level statements are always kept.
//! The names an import binds are those after its `import` that do not follow a dot (`c` and
//! `d` in `from a.b import c as d`, `a` in `import a.b`): the words of the module path are
//! not bound, and counting them (`compute` in `from nova.tests.unit.compute import
//! eventlet_utils`) kept nearly all of a test module that says `self.compute` everywhere.
//! When the lexer meets something it does not understand (an unterminated string, brackets
//! that do not balance), it gives up and the whole file is parsed.
//!
//! The guard search (`trace`) prunes the files it reads for callers the same way, with its own
//! rule ([`prune_for_calls`]).

/// The kind of a logical line, from its first token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Def,
    Decorator,
    Import,
    Other,
}

/// A logical line: one statement's header or simple statement, across bracketed and
/// backslash-continued physical lines.
#[derive(Debug)]
struct Logical {
    /// 0-based rows of its first and last physical line.
    rows: (usize, usize),
    /// Indentation of its first line, in columns (a tab advances to the next multiple of 8).
    indent: usize,
    kind: Kind,
    /// For a `def`: the byte range of the function's name.
    name: Option<(usize, usize)>,
}

/// The source with every function that cannot matter replaced, or None when nothing would be
/// removed or the lexer gave up. `lines` are the 1-based occurrence lines.
pub fn prune(src: &[u8], lines: &[u32]) -> Option<Vec<u8>> {
    let (logical, import_names) = lex(src, lines)?;
    let starts = row_starts(src);
    let occurs = |a: usize, b: usize| {
        lines
            .iter()
            .any(|&l| (l as usize) > a && (l as usize) <= b + 1)
    };
    // Byte offsets of each word an import on an occurrence line binds.
    let mut mentions: Vec<usize> = Vec::new();
    for name in &import_names {
        for at in memchr::memmem::find_iter(src, name.as_bytes()) {
            let before = at.checked_sub(1).map(|i| src[i]);
            let after = src.get(at + name.len()).copied();
            if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
                mentions.push(at);
            }
        }
    }
    mentions.sort_unstable();
    let mentioned = |a: usize, b: usize| {
        let (from, to) = (starts[a], starts.get(b + 1).copied().unwrap_or(src.len()));
        let i = mentions.partition_point(|&m| m < from);
        mentions.get(i).is_some_and(|&m| m < to)
    };
    let defs = functions(&logical, starts.len());
    let keep: Vec<bool> = defs
        .iter()
        .map(|d| occurs(d.rows.0, d.rows.1) || mentioned(d.rows.0, d.rows.1))
        .collect();
    blank(src, &starts, &defs, &keep)
}

/// The source with the functions that cannot matter to the guard search replaced: those
/// that neither may call one of `names` or `monkey_patch`, nor read a setting or name
/// eventlet, nor may call (directly or not) a function kept. The last rule keeps a helper
/// whose value depends on another that reads a setting (`def use_eventlet(): return
/// backend() == 'eventlet'`), which the guard search follows within a file. None when nothing
/// would be removed or the lexer gave up.
pub fn prune_for_calls(src: &[u8], names: &[&str]) -> Option<Vec<u8>> {
    let (logical, _) = lex(src, &[])?;
    let starts = row_starts(src);
    let defs = functions(&logical, starts.len());
    let bytes =
        |d: &Def| &src[starts[d.rows.0]..starts.get(d.rows.1 + 1).copied().unwrap_or(src.len())];
    // What the extraction reads as a switch, an option definition or an (optional) import of
    // eventlet; a mention of eventlet alone is not enough (swift uses it in most functions).
    const MARKERS: [&str; 5] = [
        "environ",
        "getenv",
        "Opt(",
        "import eventlet",
        "from eventlet",
    ];
    let mut keep: Vec<bool> = defs
        .iter()
        .map(|d| {
            let b = bytes(d);
            names
                .iter()
                .chain(&["monkey_patch", "try_import"])
                .any(|n| super::trace::may_call(b, n))
                || MARKERS
                    .iter()
                    .any(|m| memchr::memmem::find(b, m.as_bytes()).is_some())
                || reads_option(b)
        })
        .collect();
    // Callers of kept functions, a few levels deep.
    for _ in 0..4 {
        let kept: Vec<&str> = defs
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .filter_map(|(d, _)| {
                d.name
                    .map(|(a, b)| std::str::from_utf8(&src[a..b]).unwrap_or(""))
            })
            .filter(|n| !n.is_empty())
            .collect();
        let mut changed = false;
        for (d, k) in defs.iter().zip(keep.iter_mut()) {
            if !*k && kept.iter().any(|n| super::trace::may_call(bytes(d), n)) {
                *k = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    blank(src, &starts, &defs, &keep)
}

/// Whether `b` may read an oslo.config option: `CONF.x` or `conf.x` (any prefix) not followed
/// by a call, which the extraction's option reads need (`conf.get(...)`, a dictionary's
/// method, is not one).
fn reads_option(b: &[u8]) -> bool {
    ["CONF.", "conf."].iter().any(|m| {
        memchr::memmem::find_iter(b, m.as_bytes()).any(|i| {
            let rest = &b[i + m.len()..];
            let name = rest.iter().take_while(|&&c| is_ident(c)).count();
            let after = rest[name..].iter().find(|c| !matches!(c, b' ' | b'\t'));
            name > 0 && after != Some(&b'(')
        })
    })
}

/// A function definition: its rows, decorators included, up to the next statement that is
/// not inside it, the row of its `def`, and its name.
struct Def {
    rows: (usize, usize),
    def_row: usize,
    name: Option<(usize, usize)>,
}

/// Every function definition, in source order (outer before inner).
fn functions(logical: &[Logical], rows: usize) -> Vec<Def> {
    let mut out = Vec::new();
    for (i, l) in logical.iter().enumerate() {
        if l.kind != Kind::Def {
            continue;
        }
        let mut first = i;
        while first > 0
            && logical[first - 1].kind == Kind::Decorator
            && logical[first - 1].indent == l.indent
        {
            first -= 1;
        }
        let end = logical[i + 1..]
            .iter()
            .find(|n| n.indent <= l.indent)
            .map_or(rows, |n| n.rows.0);
        out.push(Def {
            rows: (logical[first].rows.0, end.saturating_sub(1)),
            def_row: l.rows.0,
            name: l.name,
        });
    }
    out
}

/// `src` with each function not kept replaced by a `pass` on its `def` row and empty rows;
/// None when every function is kept.
fn blank(src: &[u8], starts: &[usize], defs: &[Def], keep: &[bool]) -> Option<Vec<u8>> {
    let rows = starts.len();
    // Rows to blank, as (first row, def row, last row), outermost first.
    let mut cut: Vec<(usize, usize, usize)> = Vec::new();
    for (d, &k) in defs.iter().zip(keep) {
        let (a, b) = d.rows;
        if cut.last().is_some_and(|&(_, _, last)| a <= last) {
            continue; // inside a function already removed
        }
        if !k {
            cut.push((a, d.def_row, b));
        }
    }
    if cut.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(src.len() / 4);
    let mut next = cut.iter().peekable();
    let mut row = 0;
    while row < rows {
        let line_end = starts.get(row + 1).copied().unwrap_or(src.len());
        let line = &src[starts[row]..line_end];
        match next.peek() {
            Some(&&(a, def, b)) if row == a => {
                for r in a..=b.min(rows - 1) {
                    if r == def {
                        let l = &src[starts[r]..];
                        let ws = l.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
                        out.extend_from_slice(&l[..ws]);
                        out.extend_from_slice(b"pass");
                    }
                    if starts.get(r + 1).is_some() {
                        out.push(b'\n');
                    }
                }
                row = b + 1;
                next.next();
            }
            _ => {
                out.extend_from_slice(line);
                row += 1;
            }
        }
    }
    Some(out)
}

/// Byte offset of the start of each row.
fn row_starts(src: &[u8]) -> Vec<usize> {
    std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', src).map(|i| i + 1))
        .filter(|&i| i <= src.len())
        .collect()
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// The logical lines of `src`, and the names on import lines that hold an occurrence line.
/// None when the source is not lexically sound.
fn lex(src: &[u8], lines: &[u32]) -> Option<(Vec<Logical>, Vec<String>)> {
    let mut out = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let (mut i, mut row) = (0, 0);
    let n = src.len();
    while i < n {
        // At the start of a physical line, outside any statement.
        let mut indent = 0;
        while i < n {
            match src[i] {
                b' ' => indent += 1,
                b'\t' => indent = (indent / 8 + 1) * 8,
                b'\x0c' => indent = 0,
                _ => break,
            }
            i += 1;
        }
        if i >= n {
            break;
        }
        match src[i] {
            b'\n' => {
                i += 1;
                row += 1;
                continue;
            }
            b'\r' if src.get(i + 1) == Some(&b'\n') => {
                i += 2;
                row += 1;
                continue;
            }
            b'#' => {
                i = memchr::memchr(b'\n', &src[i..]).map_or(n, |j| i + j);
                continue;
            }
            _ => {}
        }
        let first_row = row;
        let word = ident_at(src, i);
        let def_at = match word {
            b"def" => Some(i),
            b"async" => Some(skip_blanks(src, i + 5)).filter(|&j| ident_at(src, j) == b"def"),
            _ => None,
        };
        let name = def_at.map(|j| {
            let a = skip_blanks(src, j + 3);
            (a, a + ident_at(src, a).len())
        });
        let kind = match word {
            _ if def_at.is_some() => Kind::Def,
            b"import" | b"from" => Kind::Import,
            _ if src[i] == b'@' => Kind::Decorator,
            _ => Kind::Other,
        };
        let mut idents: Vec<(usize, usize)> = Vec::new();
        // In an import, past its `import` keyword: where the bound names are.
        let mut binding = false;
        let mut depth: usize = 0;
        // The rest of the logical line.
        loop {
            if i >= n {
                if depth > 0 {
                    return None;
                }
                break;
            }
            let c = src[i];
            match c {
                b'\n' => {
                    row += 1;
                    i += 1;
                    if depth == 0 {
                        break;
                    }
                }
                b'\\' => {
                    // A continuation: the next physical line belongs to this one.
                    if src.get(i + 1) == Some(&b'\n') {
                        row += 1;
                        i += 2;
                    } else if src.get(i + 1) == Some(&b'\r') && src.get(i + 2) == Some(&b'\n') {
                        row += 1;
                        i += 3;
                    } else {
                        i += 1;
                    }
                }
                b'#' => i = memchr::memchr(b'\n', &src[i..]).map_or(n, |j| i + j),
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    i += 1;
                }
                b')' | b']' | b'}' => {
                    depth = depth.checked_sub(1)?;
                    i += 1;
                }
                b'\'' | b'"' => (i, row) = string(src, i, row)?,
                _ if is_ident(c) => {
                    let w = ident_at(src, i);
                    let q = src.get(i + w.len()).copied();
                    let prefix = w.len() <= 2
                        && w.iter().all(|b| b"rRbBuUfFtT".contains(b))
                        && matches!(q, Some(b'\'' | b'"'));
                    if prefix {
                        (i, row) = string(src, i + w.len(), row)?;
                    } else {
                        if kind == Kind::Import {
                            if w == b"import" {
                                binding = true;
                            } else if binding && !follows_dot(src, i) {
                                idents.push((i, i + w.len()));
                            }
                        }
                        i += w.len().max(1);
                    }
                }
                _ => i += 1,
            }
        }
        let last_row = if row > first_row && i > 0 && src[i - 1] == b'\n' {
            row - 1
        } else {
            row
        };
        if kind == Kind::Import
            && lines
                .iter()
                .any(|&l| (l as usize) > first_row && (l as usize) <= last_row + 1)
        {
            for (a, b) in idents {
                let w = &src[a..b];
                if w != b"as" {
                    let w = String::from_utf8_lossy(w).into_owned();
                    if !names.contains(&w) {
                        names.push(w);
                    }
                }
            }
        }
        out.push(Logical {
            rows: (first_row, last_row),
            indent,
            kind,
            name,
        });
    }
    Some((out, names))
}

/// Whether the word at `i` is an attribute: a dot before it, blanks apart.
fn follows_dot(src: &[u8], i: usize) -> bool {
    src[..i]
        .iter()
        .rev()
        .find(|&&b| b != b' ' && b != b'\t')
        .is_some_and(|&b| b == b'.')
}

/// The identifier starting at `i` (empty when none does).
fn ident_at(src: &[u8], i: usize) -> &[u8] {
    let len = src
        .get(i..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&c| is_ident(c))
        .count();
    &src[i..i + len]
}

fn skip_blanks(src: &[u8], mut i: usize) -> usize {
    while src.get(i).is_some_and(|&c| c == b' ' || c == b'\t') {
        i += 1;
    }
    i
}

/// Skips the string literal whose opening quote is at `i`; returns the offset after it and
/// the row it ends on. None when it does not end where Python says it must.
/// In raw strings too a backslash keeps the next quote from ending the string, so one rule
/// serves both.
fn string(src: &[u8], i: usize, mut row: usize) -> Option<(usize, usize)> {
    let q = src[i];
    let triple = src.get(i + 1) == Some(&q) && src.get(i + 2) == Some(&q);
    let mut j = if triple { i + 3 } else { i + 1 };
    loop {
        let c = *src.get(j)?;
        match c {
            b'\\' => {
                if src.get(j + 1) == Some(&b'\n') {
                    row += 1;
                }
                j += 2;
            }
            b'\n' => {
                if !triple {
                    return None;
                }
                row += 1;
                j += 1;
            }
            _ if c == q => {
                if !triple {
                    return Some((j + 1, row));
                }
                if src.get(j + 1) == Some(&q) && src.get(j + 2) == Some(&q) {
                    return Some((j + 3, row));
                }
                j += 1;
            }
            _ => j += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pruned(src: &str, lines: &[u32]) -> Option<String> {
        prune(src.as_bytes(), lines).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn removes_functions_without_occurrences_and_keeps_rows() {
        let src = "import eventlet\n\n\nclass A:\n    @deco(\n        1)\n    def a(self):\n        return 1\n\n    def b(self):\n        eventlet.sleep(1)\n\ndef c():\n    '''doc\n    more'''\n    return 2\n";
        let out = pruned(src, &[1, 11]).unwrap();
        assert_eq!(out.lines().count(), src.lines().count());
        assert_eq!(
            out,
            "import eventlet\n\n\nclass A:\n\n\n    pass\n\n\n    def b(self):\n        eventlet.sleep(1)\n\npass\n\n\n\n"
        );
    }

    #[test]
    fn keeps_functions_that_use_an_imported_name() {
        let src = "from eventlet import greenthread as gt\n\ndef a():\n    gt.sleep(0)\n\ndef b():\n    return 'gt2'\n";
        let out = pruned(src, &[1]).unwrap();
        assert!(out.contains("gt.sleep(0)"), "{out}");
        assert!(!out.contains("'gt2'"), "{out}");
    }

    #[test]
    fn only_the_names_an_import_binds_keep_functions() {
        let src = "from nova.compute import eventlet_utils as eu\nimport eventlet.green.os\n\ndef a():\n    eu.SyncPool()\n\ndef b(self):\n    return self.compute\n\ndef c():\n    return eventlet\n\ndef d():\n    os.getcwd()\n";
        let out = pruned(src, &[1, 2]).unwrap();
        assert!(
            out.contains("eu.SyncPool()") && out.contains("return eventlet"),
            "{out}"
        );
        // Words of the module path, and attributes, are not bound.
        assert!(
            !out.contains("self.compute") && !out.contains("getcwd"),
            "{out}"
        );
        let m = |s: &str| s.contains("eventlet");
        let whole = super::super::python::extract_whole("x.py", src.as_bytes(), &[1, 2], &m);
        assert_eq!(
            super::super::python::extract("x.py", src.as_bytes(), &[1, 2], &m),
            whole
        );
    }

    #[test]
    fn gives_up_on_unsound_source() {
        assert_eq!(pruned("def a():\n    x = 'open\n", &[1]), None);
        assert_eq!(pruned("def a():\n    x = (1,\n", &[1]), None);
        assert_eq!(pruned("x = 1)\ndef a():\n    pass\n", &[1]), None);
    }

    #[test]
    fn strings_comments_and_continuations_do_not_end_functions() {
        let src = "import eventlet\ndef a():\n    s = '''\ndef fake():\n'''\n    t = 'x' \\\n  'y'\n# def z():\n    return s\ndef b():\n    eventlet.spawn(a)\n";
        let out = pruned(src, &[1, 11]).unwrap();
        assert_eq!(
            out,
            "import eventlet\npass\n\n\n\n\n\n\n\ndef b():\n    eventlet.spawn(a)\n"
        );
    }

    #[test]
    fn nothing_to_remove_gives_none() {
        assert_eq!(pruned("import eventlet\neventlet.sleep()\n", &[1, 2]), None);
    }
}
