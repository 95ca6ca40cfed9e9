//! The second, bounded pass over a tree that finds what guards Eventlet's `monkey_patch`.
//!
//! It runs only when a production Python occurrence calls `monkey_patch` or imports eventlet,
//! so most repositories pay nothing. Most of the lines it needs are not occurrences (the
//! pattern is case-sensitive, and callers need not contain the word), so it reads the
//! production Python blobs that mention the names the core's [`Tracer`] asks for, a few levels
//! up the call graph, then the files that define the options read in guards and the modules
//! of the declared services. All parsing and reasoning is in `fleetscan_core::code`.

use std::collections::{BTreeSet, HashMap};

use fleetscan_core::code::facts::{CodeFacts, Line};
use fleetscan_core::code::reparse::{Kept, Parses};
use fleetscan_core::code::services::{from_pyproject, from_setup_cfg};
use fleetscan_core::code::switches::{FileCode, Read};
use fleetscan_core::code::trace::{may_call, Tracer};
use fleetscan_core::code::{checks_mode, is_production_python, may_import_optionally};
use fleetscan_core::result::Occurrence;
use git2::{ObjectType, Oid, Repository};

use crate::error::RepoError;
use crate::git::Budget;

/// Rounds of "who calls these functions".
const MAX_LEVELS: usize = 4;
/// Function names searched for in one round; more means a name-based graph gone wide.
const MAX_NAMES: usize = 64;
/// Files parsed in all; past it the facts say they are truncated.
const MAX_FILES: usize = 2000;
/// Larger Python files are generated or vendored, not where a service decides to patch.
const MAX_BYTES: usize = 2 << 20;

/// The code facts of `commit`, from its `occurrences` (sorted or not). `memo` holds what
/// earlier commits of the same job learnt about their blobs (a fresh one for a single commit).
pub fn code_facts(
    repo: &Repository,
    commit: Oid,
    occurrences: &[Occurrence],
    memo: &mut Memo,
    budget: Budget<'_>,
) -> Result<CodeFacts, RepoError> {
    let handed = std::mem::take(&mut memo.handed);
    let prod = |o: &&Occurrence| is_production_python(&o.path);
    let patching: BTreeSet<&str> = occurrences
        .iter()
        .filter(prod)
        .filter(|o| o.text.contains("monkey_patch"))
        .map(|o| o.path.as_str())
        .collect();
    let importing: BTreeSet<&str> = occurrences
        .iter()
        .filter(prod)
        .filter(|o| {
            let t = o.text.trim_start();
            (t.starts_with("import ") || t.starts_with("from ") || t.contains("try_import("))
                && t.contains("eventlet")
        })
        .map(|o| o.path.as_str())
        .collect();
    if patching.is_empty() && importing.is_empty() {
        return Ok(CodeFacts::default());
    }
    // With patching, the files that use it in code too: whether they check the mode decides
    // whether a switched-off service still reaches Eventlet.
    let using: BTreeSet<&str> = if patching.is_empty() {
        BTreeSet::new()
    } else {
        occurrences
            .iter()
            .filter(prod)
            .filter(|o| !o.text.trim_start().starts_with('#'))
            .map(|o| o.path.as_str())
            .collect()
    };
    let tree = Tree::list(repo, commit)?;
    tree.seed(handed);
    let mut t = Tracer::new();
    // Parsing costs more than scanning: the files that patch are parsed, those that import it
    // only when their text can hold an optional import, and those that use it are only read
    // for a check of the mode.
    // Both parsed only in the functions that patch, import eventlet, read a setting or lead to
    // one that does (`Tracer::add_calling`); read again when a later round asks for more.
    let none = BTreeSet::new();
    for p in &patching {
        tree.add_calling(repo, memo, &mut t, p, &none)?;
    }
    // A file both imports and uses it: one look at it is enough.
    for p in importing.union(&using) {
        if t.has(p) {
            continue;
        }
        let Some(id) = tree.id(p) else { continue };
        let Some(text) = tree.text_facts(repo, memo, id)? else {
            continue;
        };
        if importing.contains(p) && text.optional_import {
            tree.add_calling(repo, memo, &mut t, p, &none)?;
        } else if text.checks_mode {
            t.note_mode_check(p);
        }
    }
    let mut truncated = false;
    let mut declared = Vec::new();
    if !patching.is_empty() {
        for _ in 0..MAX_LEVELS {
            let names = t.wanted();
            if names.is_empty() {
                break;
            }
            if names.len() > MAX_NAMES {
                truncated = true;
                break;
            }
            truncated |= tree.add_mentioning(repo, memo, &mut t, budget, Added::Calling(&names))?;
            t.searched(&names);
        }
        let options = t.option_names();
        if !options.is_empty() {
            truncated |= tree.add_mentioning(repo, memo, &mut t, budget, Added::Whole(&options))?;
        }
        for (path, parse) in [
            ("setup.cfg", from_setup_cfg as fn(&str, &str) -> _),
            ("pyproject.toml", from_pyproject),
        ] {
            if let Some(src) = tree.read(repo, path)? {
                declared.extend(parse(path, &String::from_utf8_lossy(&src)));
            }
        }
        for d in &declared {
            for f in Tracer::service_files(d) {
                if !t.has(&f) {
                    tree.add_whole(repo, memo, &mut t, &f)?;
                }
            }
        }
    }
    Ok(t.finish(&declared, is_production_python, truncated))
}

/// How a file found by [`Tree::add_mentioning`] is parsed.
#[derive(Clone, Copy)]
enum Added<'a> {
    /// Only the functions that matter for its calls to these names (a round of the caller
    /// search; `Tracer::add_calling`).
    Calling(&'a BTreeSet<String>),
    /// Whole, when they mention one of these option names in quotes (the files that define
    /// the options read in guards).
    Whole(&'a BTreeSet<String>),
}

/// The blobs of a tree the pass may read: production Python files and the package metadata.
struct Tree {
    files: Vec<(String, Oid)>,
    /// Contents already inflated, by blob: each round of the search reads the same files, and
    /// inflating them again would cost more than the search. Bounded by [`MAX_CACHED`].
    cache: std::cell::RefCell<BlobCache>,
}

/// Bytes held, and the contents by blob id.
type BlobCache = (usize, std::collections::HashMap<Oid, std::rc::Rc<Vec<u8>>>);

/// Bytes of file contents kept between rounds, per scan. Each CPU slot runs a pass of its own,
/// so this times `--scan-threads` sits on top of the scanner's memory: kept small enough that
/// the whole process stays under its 150 MiB budget.
const MAX_CACHED: usize = 32 << 20;

impl Tree {
    fn list(repo: &Repository, commit: Oid) -> Result<Tree, RepoError> {
        let git = |what: &'static str| move |e: git2::Error| RepoError::from_git(what, &e);
        let tree = repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .map_err(git("read commit"))?;
        let mut files = Vec::new();
        crate::tree::walk(repo, tree, git("read tree"), |e| {
            if e.kind == Some(ObjectType::Blob) && e.mode != 0o120000 {
                let path = String::from_utf8_lossy(e.raw).into_owned();
                if is_production_python(&path) || path == "setup.cfg" || path == "pyproject.toml" {
                    files.push((path, e.id));
                }
            }
            Ok(std::ops::ControlFlow::Continue(()))
        })?;
        Ok(Tree {
            files,
            cache: Default::default(),
        })
    }

    fn read(&self, repo: &Repository, path: &str) -> Result<Option<Vec<u8>>, RepoError> {
        let Some((_, id)) = self.files.iter().find(|(p, _)| p == path) else {
            return Ok(None);
        };
        Ok(self.blob(&odb(repo)?, *id)?.map(|b| b.to_vec()))
    }

    /// Puts `blobs` (blob ids and contents) in the cache while [`MAX_CACHED`] allows.
    fn seed(&self, blobs: Vec<(Oid, Vec<u8>)>) {
        let mut cache = self.cache.borrow_mut();
        for (id, data) in blobs {
            if cache.0 + data.len() <= MAX_CACHED {
                cache.0 += data.len();
                cache.1.insert(id, std::rc::Rc::new(data));
            }
        }
    }

    /// A blob's contents, from the cache when this pass read it already.
    fn blob(
        &self,
        odb: &git2::Odb<'_>,
        id: Oid,
    ) -> Result<Option<std::rc::Rc<Vec<u8>>>, RepoError> {
        if let Some(b) = self.cache.borrow().1.get(&id) {
            return Ok(Some(b.clone()));
        }
        let Some(data) = read_blob(odb, id)? else {
            return Ok(None);
        };
        let data = std::rc::Rc::new(data);
        let mut cache = self.cache.borrow_mut();
        if cache.0 + data.len() <= MAX_CACHED {
            cache.0 += data.len();
            cache.1.insert(id, data.clone());
        }
        Ok(Some(data))
    }

    /// The blob at `path`, if the pass may read it.
    fn id(&self, path: &str) -> Option<Oid> {
        self.files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, id)| *id)
    }

    /// Adds the file at `path` to `t` for its calls to `names` (`Tracer::add_calling`), from
    /// the memo when its blob was parsed so before.
    fn add_calling(
        &self,
        repo: &Repository,
        memo: &mut Memo,
        t: &mut Tracer,
        path: &str,
        names: &BTreeSet<String>,
    ) -> Result<(), RepoError> {
        let Some(id) = self.id(path) else {
            return Ok(());
        };
        let Some(needed) = self.calls(repo, memo, id, names)? else {
            return Ok(());
        };
        self.add_needed(repo, memo, t, path, id, &needed)
    }

    /// Adds the file at `path` (blob `id`) to `t` for the calls it may make to `needed`.
    fn add_needed(
        &self,
        repo: &Repository,
        memo: &mut Memo,
        t: &mut Tracer,
        path: &str,
        id: Oid,
        needed: &[&String],
    ) -> Result<(), RepoError> {
        let Some(keep) = t.keep_for(path, needed.iter().copied()) else {
            return Ok(());
        };
        let key = (id, path.to_string(), Some(keep.clone()));
        let code = match memo.code(&key) {
            Some(c) => c,
            None => {
                let Some(src) = self.blob(&odb(repo)?, id)? else {
                    return Ok(());
                };
                let c = memo.parse(
                    path,
                    Purpose::Calls,
                    || Tracer::calling(path, &src, &keep),
                    |old| Tracer::calling_again(path, &src, &keep, old),
                );
                memo.keep_code(key, &c);
                c
            }
        };
        t.add_pruned(path, code, keep);
        Ok(())
    }

    /// Adds the file at `path` to `t` whole (`Tracer::add`), from the memo when its blob was
    /// parsed so before.
    fn add_whole(
        &self,
        repo: &Repository,
        memo: &mut Memo,
        t: &mut Tracer,
        path: &str,
    ) -> Result<(), RepoError> {
        let Some(id) = self.id(path) else {
            return Ok(());
        };
        let key = (id, path.to_string(), None);
        let code = match memo.code(&key) {
            Some(c) => c,
            None => {
                let Some(src) = self.blob(&odb(repo)?, id)? else {
                    return Ok(());
                };
                let c = memo.parse(
                    path,
                    Purpose::Whole,
                    || Tracer::whole(path, &src),
                    |old| Tracer::whole_again(path, &src, old),
                );
                memo.keep_code(key, &c);
                c
            }
        };
        t.add_whole(path, code);
        Ok(())
    }

    /// Which of `names` blob `id` may call (`may_call`); None when it is too large to read.
    fn calls<'n>(
        &self,
        repo: &Repository,
        memo: &mut Memo,
        id: Oid,
        names: &'n BTreeSet<String>,
    ) -> Result<Option<Vec<&'n String>>, RepoError> {
        self.mentions(repo, memo, id, names, Mention::Call)
    }

    /// The names of `names` that blob `id` mentions as `how` says, from the memo where it
    /// knows; None when the blob is too large to read.
    fn mentions<'n>(
        &self,
        repo: &Repository,
        memo: &mut Memo,
        id: Oid,
        names: &'n BTreeSet<String>,
        how: Mention,
    ) -> Result<Option<Vec<&'n String>>, RepoError> {
        let mut src = None;
        let mut out = Vec::new();
        for n in names {
            let found = match memo.mention(id, n, how) {
                Some(f) => f,
                None => {
                    if src.is_none() {
                        src = self.blob(&odb(repo)?, id)?;
                        if src.is_none() {
                            return Ok(None);
                        }
                    }
                    let f = how.find(src.as_deref().expect("read above"), n);
                    memo.keep_mention(id, n, how, f);
                    f
                }
            };
            if found {
                out.push(n);
            }
        }
        Ok(Some(out))
    }

    /// What the text of blob `id` says (`may_import_optionally`, `checks_mode`); None when it
    /// is too large to read.
    fn text_facts(
        &self,
        repo: &Repository,
        memo: &mut Memo,
        id: Oid,
    ) -> Result<Option<TextFacts>, RepoError> {
        if let Some(f) = memo.text.get(&id).copied() {
            memo.hits += 1;
            return Ok(Some(f));
        }
        let Some(src) = self.blob(&odb(repo)?, id)? else {
            return Ok(None);
        };
        let f = TextFacts {
            optional_import: may_import_optionally(&src),
            checks_mode: checks_mode(&src),
        };
        if memo.room() {
            memo.bytes += TEXT_WEIGHT;
            memo.text.insert(id, f);
        }
        Ok(Some(f))
    }

    /// Adds every production Python file that mentions what `how` asks for, as it says (files
    /// added whole before are kept as they are). True when the file bound stopped it.
    fn add_mentioning(
        &self,
        repo: &Repository,
        memo: &mut Memo,
        t: &mut Tracer,
        budget: Budget<'_>,
        how: Added<'_>,
    ) -> Result<bool, RepoError> {
        for (path, id) in &self.files {
            let again = matches!(how, Added::Calling(_));
            if (t.has(path) && !again) || !path.ends_with(".py") {
                continue;
            }
            budget.check("while reading callers")?;
            if t.len() >= MAX_FILES {
                return Ok(true);
            }
            match how {
                Added::Calling(names) => {
                    if let Some(needed) = self.calls(repo, memo, *id, names)? {
                        if !needed.is_empty() {
                            self.add_needed(repo, memo, t, path, *id, &needed)?;
                        }
                    }
                }
                Added::Whole(options) => {
                    if let Some(found) = self.mentions(repo, memo, *id, options, Mention::Quoted)? {
                        if !found.is_empty() {
                            self.add_whole(repo, memo, t, path)?;
                        }
                    }
                }
            }
        }
        Ok(false)
    }
}

/// What the second pass learnt about blobs, kept across the commits of one job: a history
/// scan's points share most of their production files, and reading, searching and parsing
/// each of them again at every point cost as much as the first scan. Everything kept is a pure
/// function of the blob's contents (and its path and the names asked for), so a commit's code
/// facts are the same with or without it. It lives as long as the job (a history scan's walk
/// over its points) and is bounded by [`MAX_MEMO`]: past it nothing more is kept, and the
/// rest is computed as without the memo. Each scan slot runs a job of its own, so this bound
/// times `--scan-threads` adds to the process's memory, like [`MAX_CACHED`].
pub struct Memo {
    /// Whether a blob mentions a name (as [`Mention`] says).
    mentions: HashMap<(Oid, u32, Mention), bool>,
    /// The names of `mentions`, numbered.
    names: HashMap<String, u32>,
    text: HashMap<Oid, TextFacts>,
    /// Parsed files, by blob, path and the names they were pruned for (None: whole).
    code: HashMap<CodeKey, FileCode>,
    /// The last parse of each file, by path and purpose, for its next version: a file read
    /// again at a later point has changed, and parses faster from its previous tree
    /// (`reparse` in the core). Not counted in `bytes`: bounded by [`MAX_KEPT`] apart, and
    /// by the process's bound ([`crate::history::KEPT`]).
    parses: Parses<(String, Purpose)>,
    /// Blobs the scan of the next commit read already, with their contents, for the next
    /// pass to start its cache with ([`Memo::hand`]); not kept past it.
    handed: Vec<(Oid, Vec<u8>)>,
    /// About what all of it holds, in bytes.
    bytes: usize,
    /// Answers it gave, for the tests.
    hits: usize,
    /// The bound on `bytes`.
    limit: usize,
}

impl Default for Memo {
    /// A memo bounded by [`MAX_MEMO`].
    fn default() -> Memo {
        Memo::with_limit(MAX_MEMO)
    }
}

type CodeKey = (Oid, String, Option<BTreeSet<String>>);

/// Bytes the memo may hold, about: every production Python file of nova parsed for its calls
/// takes a few MB.
const MAX_MEMO: usize = 24 << 20;
/// Bytes counted for one entry of `Memo::mentions` or `Memo::text`, with the map's overhead.
const MENTION_WEIGHT: usize = 48;
const TEXT_WEIGHT: usize = 48;

/// What the parses [`Memo::parses`] keeps may cost, source and trees (`Kept::cost` in the
/// core).
const MAX_KEPT: usize = 8 << 20;

/// What a file was parsed for: each keeps its own last parse.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Purpose {
    /// Pruned for its calls ([`Tracer::calling`]).
    Calls,
    /// Whole ([`Tracer::whole`]).
    Whole,
}

/// How a name is looked for in a file.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Mention {
    /// Called (`may_call`).
    Call,
    /// In quotes, as an option name is given.
    Quoted,
}

impl Mention {
    fn find(self, src: &[u8], name: &str) -> bool {
        match self {
            Mention::Call => may_call(src, name),
            Mention::Quoted => [format!("'{name}'"), format!("\"{name}\"")]
                .iter()
                .any(|q| memchr::memmem::find(src, q.as_bytes()).is_some()),
        }
    }
}

/// What a file's text says, without parsing it.
#[derive(Clone, Copy)]
struct TextFacts {
    optional_import: bool,
    checks_mode: bool,
}

impl Memo {
    /// A memo that keeps nothing: for a single commit, which has nothing to share.
    pub fn off() -> Memo {
        Memo::with_limit(0)
    }

    fn with_limit(limit: usize) -> Memo {
        Memo {
            mentions: HashMap::new(),
            names: HashMap::new(),
            text: HashMap::new(),
            code: HashMap::new(),
            parses: Parses::new(MAX_KEPT, crate::history::KEPT.clone()),
            handed: Vec::new(),
            bytes: 0,
            hits: 0,
            limit,
        }
    }

    /// Hands the next pass `blobs` (ids and contents) that were just read: it takes them
    /// instead of inflating them again. A memo that keeps nothing drops them.
    pub fn hand(&mut self, blobs: Vec<(Oid, Vec<u8>)>) {
        if self.limit > 0 {
            self.handed = blobs;
        }
    }

    /// How many answers came from the memo.
    pub fn hits(&self) -> usize {
        self.hits
    }

    /// About how many bytes it holds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn room(&self) -> bool {
        self.bytes < self.limit
    }

    fn mention(&mut self, id: Oid, name: &str, how: Mention) -> Option<bool> {
        let n = *self.names.get(name)?;
        let found = self.mentions.get(&(id, n, how)).copied();
        self.hits += usize::from(found.is_some());
        found
    }

    fn keep_mention(&mut self, id: Oid, name: &str, how: Mention, found: bool) {
        if !self.room() {
            return;
        }
        let next = self.names.len() as u32;
        let n = match self.names.get(name) {
            Some(n) => *n,
            None => {
                self.bytes += MENTION_WEIGHT + name.len();
                self.names.insert(name.to_string(), next);
                next
            }
        };
        self.bytes += MENTION_WEIGHT;
        self.mentions.insert((id, n, how), found);
    }

    /// Parses the file at `path` for `purpose`: `fresh` for a memo that keeps nothing (a
    /// single commit), else `again` from the last parse of the same path and purpose, whose
    /// parse is kept in its place while [`MAX_KEPT`] allows.
    fn parse(
        &mut self,
        path: &str,
        purpose: Purpose,
        fresh: impl FnOnce() -> FileCode,
        again: impl FnOnce(Option<&Kept>) -> (FileCode, Option<Kept>),
    ) -> FileCode {
        if self.limit == 0 {
            return fresh();
        }
        let key = (path.to_string(), purpose);
        let old = self.parses.take(&key);
        let (code, kept) = again(old.as_ref());
        self.parses.keep(key, kept);
        code
    }

    fn code(&mut self, key: &CodeKey) -> Option<FileCode> {
        let code = self.code.get(key).cloned();
        self.hits += usize::from(code.is_some());
        code
    }

    fn keep_code(&mut self, key: CodeKey, code: &FileCode) {
        if !self.room() {
            return;
        }
        let names: usize = key.2.iter().flatten().map(|n| n.len() + 32).sum();
        self.bytes += 64 + key.1.len() + names + weight(code);
        self.code.insert(key, code.clone());
    }
}

/// About the bytes a parsed file holds.
fn weight(c: &FileCode) -> usize {
    let line = |l: &Line| 48 + l.path.len() + l.text.len();
    let read =
        |r: &Read| 64 + r.name.len() + line(&r.at) + r.default.as_ref().map_or(0, String::len);
    let functions: usize = c.functions.iter().map(|f| 40 + f.name.len()).sum();
    let calls: usize = c
        .calls
        .iter()
        .map(|k| {
            let guards: usize = k
                .guards
                .iter()
                .map(|g| line(&g.at) + g.reads.iter().map(read).sum::<usize>())
                .sum();
            96 + k.callee.len() + k.receiver.as_ref().map_or(0, String::len) + line(&k.at) + guards
        })
        .sum();
    let imports: usize = c.imports.iter().map(|(a, b)| 64 + a.len() + b.len()).sum();
    let options: usize = c
        .options
        .iter()
        .map(|o| {
            let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
            64 + o.name.len() + line(&o.at) + opt(&o.default) + opt(&o.choices)
        })
        .sum();
    let optional: usize = c.optional_imports.iter().map(line).sum();
    128 + functions + calls + imports + options + optional
}

fn odb(repo: &Repository) -> Result<git2::Odb<'_>, RepoError> {
    repo.odb()
        .map_err(|e| RepoError::from_git("open object database", &e))
}

fn read_blob(odb: &git2::Odb<'_>, id: Oid) -> Result<Option<Vec<u8>>, RepoError> {
    let (size, _) = odb
        .read_header(id)
        .map_err(|e| RepoError::from_git("read blob", &e))?;
    if size > MAX_BYTES {
        return Ok(None);
    }
    let obj = odb
        .read(id)
        .map_err(|e| RepoError::from_git("read blob", &e))?;
    Ok(Some(obj.data().to_vec()))
}
