//! Parsing a file again from its previous version's tree.
//!
//! A history scan reads the same busy files at every point, each time a little different, and
//! parsing them from scratch was a third of its cost. tree-sitter can re-parse from an old
//! tree once told where the text changed: it re-uses every subtree outside the changed
//! ranges. [`edits`] finds those ranges with a line diff (lines, not bytes: cheaper, and a
//! changed line is re-lexed whole anyway); [`parse`] applies them to a copy of the old tree
//! and parses with it.
//!
//! The result must be what a parse from scratch gives. For a text without syntax errors
//! tree-sitter's incremental parse yields the same tree; its error recovery may not (what it
//! recovers depends on the subtrees it re-uses), so a tree with an error is parsed again from
//! scratch. Errors are rare in real code, so this costs little.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use similar::{capture_diff_slices, Algorithm, DiffOp};
use tree_sitter::{InputEdit, Parser, Point, Tree};

/// A parsed source kept so that the same file's next version can be parsed from it.
#[derive(Clone)]
pub struct Kept {
    source: Vec<u8>,
    tree: Tree,
}

/// Bytes of tree-sitter nodes per byte of source, about: `valgrind --tool=massif` of swift's
/// history scan found 45 MB of tree-sitter's allocations live for 2.3 MB of kept (pruned)
/// source. A bound on source bytes alone let the trees take twenty times what it said.
const TREE_PER_SOURCE: usize = 20;

impl Kept {
    /// The tree.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The source it was parsed from, in bytes.
    pub fn len(&self) -> usize {
        self.source.len()
    }

    /// Whether the source is empty.
    pub fn is_empty(&self) -> bool {
        self.source.is_empty()
    }

    /// What keeping it costs in memory, about: its source and its tree.
    pub fn cost(&self) -> usize {
        self.source.len() * (1 + TREE_PER_SOURCE)
    }
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kept({} bytes)", self.source.len())
    }
}

/// A bound on the memory that the kept parses of several stores take together, shared by the
/// jobs of one process: each store draws on it as it keeps a parse and gives back what it
/// drops, so the bound holds however many history scans run at once.
#[derive(Debug)]
pub struct Ledger {
    used: AtomicUsize,
    limit: usize,
}

impl Ledger {
    /// A ledger of `limit` bytes.
    pub const fn new(limit: usize) -> Ledger {
        Ledger {
            used: AtomicUsize::new(0),
            limit,
        }
    }

    /// Bytes drawn now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Draws `n` bytes if the limit allows.
    fn draw(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_add(n).filter(|&t| t <= self.limit)
            })
            .is_ok()
    }

    /// Gives back `n` bytes drawn before.
    fn give(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// The last parse of each file, by a key the caller picks (a path, a path and a purpose),
/// bounded by what they cost ([`Kept::cost`]), both in this store and in the [`Ledger`] it
/// shares with other stores: past either bound, new parses are not kept and their files' next
/// versions parse from scratch, which gives the same result.
#[derive(Debug)]
pub struct Parses<K: Eq + Hash> {
    by_key: HashMap<K, Kept>,
    bytes: usize,
    limit: usize,
    ledger: Arc<Ledger>,
}

impl<K: Eq + Hash> Parses<K> {
    /// An empty store whose parses cost at most `limit` bytes, drawn from `ledger`.
    pub fn new(limit: usize, ledger: Arc<Ledger>) -> Parses<K> {
        Parses {
            by_key: HashMap::new(),
            bytes: 0,
            limit,
            ledger,
        }
    }

    /// Removes and returns the parse kept for `key`: a file's version is parsed once, and
    /// its parse replaces the one before.
    pub fn take<Q>(&mut self, key: &Q) -> Option<Kept>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let k = self.by_key.remove(key)?;
        self.bytes -= k.cost();
        self.ledger.give(k.cost());
        Some(k)
    }

    /// Keeps `kept` for `key`, if given and both bounds allow, in place of what `key` held.
    pub fn keep(&mut self, key: K, kept: Option<Kept>) {
        let Some(k) = kept else { return };
        self.take(&key);
        let cost = k.cost();
        if self.bytes + cost <= self.limit && self.ledger.draw(cost) {
            self.bytes += cost;
            self.by_key.insert(key, k);
        }
    }

    /// What the parses kept cost, about.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl<K: Eq + Hash> Drop for Parses<K> {
    fn drop(&mut self) {
        self.ledger.give(self.bytes);
    }
}

/// A Python parser; None if the grammar does not load (a build mismatch).
fn parser() -> Option<Parser> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .ok()?;
    Some(parser)
}

/// Parses the Python `source` from scratch.
pub fn parse_new(source: &[u8]) -> Option<Tree> {
    parser()?.parse(source, None)
}

/// Parses the Python `source`, from `previous` (an earlier version of the same file) when
/// given; the tree is the one [`parse_new`] gives. Returns it kept for the next version.
pub fn parse(source: &[u8], previous: Option<&Kept>) -> Option<Kept> {
    let mut parser = parser()?;
    let tree = match previous {
        Some(old) if old.source == source => old.tree.clone(),
        Some(old) => {
            let mut edited = old.tree.clone();
            for e in edits(&old.source, source) {
                edited.edit(&e);
            }
            match parser.parse(source, Some(&edited)) {
                Some(t) if !t.root_node().has_error() => t,
                _ => parser.parse(source, None)?,
            }
        }
        None => parser.parse(source, None)?,
    };
    Some(Kept {
        source: source.to_vec(),
        tree,
    })
}

/// The edits that turn `old` into `new`, one per changed run of lines, last first: applied in
/// that order, each one's positions are those of `old`, since nothing before it moved yet.
pub fn edits(old: &[u8], new: &[u8]) -> Vec<InputEdit> {
    let (old_lines, new_lines) = (lines(old), lines(new));
    let (old_at, new_at) = (starts(&old_lines), starts(&new_lines));
    // The lines both share at the start and at the end, most of a file between two points,
    // are compared once here and left out of the diff.
    let head = old_lines
        .iter()
        .zip(&new_lines)
        .take_while(|(a, b)| a == b)
        .count();
    let tail = old_lines[head..]
        .iter()
        .rev()
        .zip(new_lines[head..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let old_mid = &old_lines[head..old_lines.len() - tail];
    let new_mid = &new_lines[head..new_lines.len() - tail];
    // Lines as numbers (equal lines, equal numbers): the diff compares them many times.
    let mut ids: foldhash::HashMap<&[u8], u32> = foldhash::HashMap::default();
    let mut number = |line| {
        let next = ids.len() as u32;
        *ids.entry(line).or_insert(next)
    };
    let old_ids: Vec<u32> = old_mid.iter().map(|l| number(l)).collect();
    let new_ids: Vec<u32> = new_mid.iter().map(|l| number(l)).collect();
    let mut out = Vec::new();
    for op in capture_diff_slices(Algorithm::Patience, &old_ids, &new_ids) {
        let (o, n) = match op {
            DiffOp::Equal { .. } => continue,
            DiffOp::Delete {
                old_index,
                old_len,
                new_index,
            } => (old_index..old_index + old_len, new_index..new_index),
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => (old_index..old_index, new_index..new_index + new_len),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => (
                old_index..old_index + old_len,
                new_index..new_index + new_len,
            ),
        };
        let (o, n) = (o.start + head..o.end + head, n.start + head..n.end + head);
        let start_byte = old_at[o.start];
        let (old_end_byte, new_len) = (old_at[o.end], new_at[n.end] - new_at[n.start]);
        let start_position = Point::new(o.start, 0);
        out.push(InputEdit {
            start_byte,
            old_end_byte,
            new_end_byte: start_byte + new_len,
            start_position,
            old_end_position: after(start_position, &old[start_byte..old_end_byte]),
            new_end_position: after(start_position, &new[new_at[n.start]..new_at[n.end]]),
        });
    }
    out.reverse();
    out
}

/// The lines of `text`, each with its `\n` (the last one may have none).
fn lines(text: &[u8]) -> Vec<&[u8]> {
    text.split_inclusive(|&b| b == b'\n').collect()
}

/// Byte offset of each line's start, and the text's length after the last.
fn starts(lines: &[&[u8]]) -> Vec<usize> {
    let mut at = Vec::with_capacity(lines.len() + 1);
    let mut n = 0;
    at.push(0);
    for l in lines {
        n += l.len();
        at.push(n);
    }
    at
}

/// Where `text` ends when it starts at `from`.
fn after(from: Point, text: &[u8]) -> Point {
    match memchr::memrchr(b'\n', text) {
        Some(last) => Point::new(
            from.row + memchr::memchr_iter(b'\n', text).count(),
            text.len() - last - 1,
        ),
        None => Point::new(from.row, from.column + text.len()),
    }
}

#[cfg(test)]
#[path = "reparse_tests.rs"]
mod tests;
