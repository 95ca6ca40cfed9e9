//! Walking a git tree with byte names.
//!
//! git2's own `Tree::walk` hands the callback the directory as `&str` and gives up on a name
//! that is not UTF-8, so one such directory in a hostile repository would fail the whole walk.
//! This walk keeps names as bytes and uses an explicit stack, so deep nesting cannot exhaust
//! the thread's stack either.

use std::ops::ControlFlow;

use git2::{ObjectType, Oid, Repository};

/// One entry of a tree, as the walk hands it over.
pub struct Entry<'a> {
    /// Path from the root, `/`-separated, as the raw bytes git stores.
    pub raw: &'a [u8],
    /// Git file mode (`0o120000` for a link, `0o160000` for a submodule).
    pub mode: i32,
    /// Object kind, when git knows it.
    pub kind: Option<ObjectType>,
    /// Object id.
    pub id: Oid,
}

/// Visits every entry below `tree` in pre-order (tree order), descending into sub-trees after
/// visiting them. `visit` may stop the walk; a sub-tree that cannot be read is an error.
pub fn walk<E>(
    repo: &Repository,
    tree: git2::Tree<'_>,
    on_error: impl Fn(git2::Error) -> E,
    mut visit: impl FnMut(Entry<'_>) -> Result<ControlFlow<()>, E>,
) -> Result<(), E> {
    let mut stack: Vec<(Vec<u8>, git2::Tree<'_>, usize)> = vec![(Vec::new(), tree, 0)];
    while let Some((prefix, tree, next)) = stack.last_mut() {
        // The entry borrows the stack: take what is needed and let it go before pushing.
        let Some((raw, mode, kind, id)) = tree.get(*next).map(|entry| {
            let mut raw = prefix.clone();
            raw.extend_from_slice(entry.name_bytes());
            (raw, entry.filemode(), entry.kind(), entry.id())
        }) else {
            stack.pop();
            continue;
        };
        *next += 1;
        if visit(Entry {
            raw: &raw,
            mode,
            kind,
            id,
        })?
        .is_break()
        {
            return Ok(());
        }
        if kind == Some(ObjectType::Tree) {
            let sub = repo.find_tree(id).map_err(&on_error)?;
            let mut raw = raw;
            raw.push(b'/');
            stack.push((raw, sub, 0));
        }
    }
    Ok(())
}
