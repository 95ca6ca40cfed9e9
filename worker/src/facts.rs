//! The second, bounded pass over a tree that finds what guards Eventlet's `monkey_patch`.
//!
//! It runs only when a production Python occurrence calls `monkey_patch` or imports eventlet,
//! so most repositories pay nothing. Most of the lines it needs are not occurrences (the
//! pattern is case-sensitive, and callers need not contain the word), so it reads the
//! production Python blobs that mention the names the core's [`Tracer`] asks for, a few levels
//! up the call graph, then the files that define the options read in guards and the modules
//! of the declared services. All parsing and reasoning is in `fleetscan_core::code`.

use std::collections::BTreeSet;

use fleetscan_core::code::facts::CodeFacts;
use fleetscan_core::code::services::{from_pyproject, from_setup_cfg};
use fleetscan_core::code::trace::{may_call, Tracer};
use fleetscan_core::code::{checks_mode, is_production_python, may_import_optionally};
use fleetscan_core::result::Occurrence;
use git2::{ObjectType, Oid, Repository};

use crate::error::{Kind, RepoError};
use crate::git::Budget;

/// Rounds of "who calls these functions".
const MAX_LEVELS: usize = 4;
/// Function names searched for in one round; more means a name-based graph gone wide.
const MAX_NAMES: usize = 64;
/// Files parsed in all; past it the facts say they are truncated.
const MAX_FILES: usize = 2000;
/// Larger Python files are generated or vendored, not where a service decides to patch.
const MAX_BYTES: usize = 2 << 20;

/// The code facts of `commit`, from its `occurrences` (sorted or not).
pub fn code_facts(
    repo: &Repository,
    commit: Oid,
    occurrences: &[Occurrence],
    budget: Budget<'_>,
) -> Result<CodeFacts, RepoError> {
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
    let mut t = Tracer::new();
    // Parsing costs more than scanning: the files that patch are parsed, those that import it
    // only when their text can hold an optional import, and those that use it are only read
    // for a check of the mode.
    // Both parsed only in the functions that patch, import eventlet, read a setting or lead to
    // one that does (`Tracer::add_calling`); read again when a later round asks for more.
    let none = BTreeSet::new();
    for p in &patching {
        if let Some(src) = tree.read(repo, p)? {
            t.add_calling(p, &src, &none);
        }
    }
    // A file both imports and uses it: one look at it is enough.
    for p in importing.union(&using) {
        if t.has(p) {
            continue;
        }
        if let Some(src) = tree.read(repo, p)? {
            if importing.contains(p) && may_import_optionally(&src) {
                t.add_calling(p, &src, &none);
            } else if checks_mode(&src) {
                t.note_mode_check(p);
            }
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
            truncated |=
                tree.add_mentioning(repo, &mut t, budget, Added::Calling(&names), |src| {
                    names.iter().any(|n| may_call(src, n))
                })?;
            t.searched(&names);
        }
        let options = t.option_names();
        if !options.is_empty() {
            let quoted: Vec<String> = options
                .iter()
                .flat_map(|o| [format!("'{o}'"), format!("\"{o}\"")])
                .collect();
            truncated |= tree.add_mentioning(repo, &mut t, budget, Added::Whole, |src| {
                quoted
                    .iter()
                    .any(|q| memchr::memmem::find(src, q.as_bytes()).is_some())
            })?;
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
                    if let Some(src) = tree.read(repo, &f)? {
                        t.add(&f, &src);
                    }
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
    /// Whole (the files that define the options read in guards).
    Whole,
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

    /// Adds every production Python file whose contents `wanted` accepts, as `how` says
    /// (files added whole before are kept as they are). True when the file bound stopped it.
    fn add_mentioning(
        &self,
        repo: &Repository,
        t: &mut Tracer,
        budget: Budget<'_>,
        how: Added<'_>,
        wanted: impl Fn(&[u8]) -> bool,
    ) -> Result<bool, RepoError> {
        let odb = odb(repo)?;
        for (path, id) in &self.files {
            let again = matches!(how, Added::Calling(_));
            if (t.has(path) && !again) || !path.ends_with(".py") {
                continue;
            }
            if budget.over() {
                let why = format!("{} while reading callers", budget.reason());
                return Err(RepoError::new(Kind::Timeout, why));
            }
            if t.len() >= MAX_FILES {
                return Ok(true);
            }
            if let Some(src) = self.blob(&odb, *id)? {
                if wanted(&src) {
                    match how {
                        Added::Calling(names) => t.add_calling(path, &src, names),
                        Added::Whole => t.add(path, &src),
                    }
                }
            }
        }
        Ok(false)
    }
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
