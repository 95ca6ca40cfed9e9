//! File names for team reports: unique, safe and stable for any team name governance holds.
//!
//! A name made only of ASCII letters, digits, `-`, `_`, `.` and spaces (every OpenStack team
//! today) keeps its name: `teams/Compute.md`, `teams/I18n Team.md`. Any other name, one that
//! differs from another only in letter case (case-insensitive file systems), a reserved
//! Windows device name, or a name cut to fit, gets the safe form of its name plus a hash of
//! the exact name: `a/b` and `a:b` become `a_b-<hash>.md`, apart from `a_b.md`. A hash is
//! stable across runs; a clash that remains (crafted names) takes a counter, in name order.

use std::collections::{BTreeMap, BTreeSet};

/// Longest stem kept before the hash, in bytes: with the hash and `.md` a name stays far
/// below the 255-byte limit of common file systems.
const MAX_STEM: usize = 100;

/// File names (`<stem>.md`, no directory) for `names`, in the same order. Distinct even
/// when compared without regard to case.
pub fn team_file_names(names: &[&str]) -> Vec<String> {
    let bases: Vec<String> = names.iter().map(|n| safe_base(n)).collect();
    let plain = |name: &str, base: &str| base == name && !reserved(base);
    // Plain names that differ only in case would share a file on macOS or Windows.
    let mut per_folded: BTreeMap<String, usize> = BTreeMap::new();
    for (name, base) in names.iter().zip(&bases) {
        if plain(name, base) {
            *per_folded.entry(base.to_lowercase()).or_default() += 1;
        }
    }
    let mut taken = BTreeSet::new();
    let mut out = Vec::with_capacity(names.len());
    for (name, base) in names.iter().zip(&bases) {
        let keep = plain(name, base) && per_folded[&base.to_lowercase()] == 1;
        let stem = if keep {
            base.clone()
        } else {
            format!("{base}-{:08x}", fnv1a(name.as_bytes()) as u32)
        };
        let mut candidate = stem.clone();
        let mut n = 2;
        while !taken.insert(candidate.to_lowercase()) {
            candidate = format!("{stem}-{n}");
            n += 1;
        }
        out.push(format!("{candidate}.md"));
    }
    out
}

/// The name with every character outside ASCII letters, digits, `-`, `_`, `.` and space
/// turned into `_`, no dot or space at either end (hidden files, Windows), cut to
/// [`MAX_STEM`]; "team" when nothing is left.
fn safe_base(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches(['.', ' ']);
    let cut = &trimmed[..trimmed.len().min(MAX_STEM)];
    let cut = cut.trim_end_matches(['.', ' ']);
    if cut.is_empty() {
        "team".to_string()
    } else {
        cut.to_string()
    }
}

/// Windows device names, which no file may be called whatever its extension.
fn reserved(base: &str) -> bool {
    let head = base
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    matches!(head.as_str(), "con" | "prn" | "aux" | "nul")
        || (head.len() == 4
            && (head.starts_with("com") || head.starts_with("lpt"))
            && head.as_bytes()[3].is_ascii_digit())
}

/// FNV-1a, 64 bits: stable across builds and platforms, unlike the standard hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_keep_their_name() {
        assert_eq!(
            team_file_names(&["Compute", "I18n Team", "Unknown Team", "oslo.db", "a_b"]),
            [
                "Compute.md",
                "I18n Team.md",
                "Unknown Team.md",
                "oslo.db.md",
                "a_b.md"
            ]
        );
    }

    #[test]
    fn every_name_gets_a_distinct_safe_stable_file() {
        let long = "x".repeat(300);
        let names = [
            "a/b",
            "a:b",
            "a_b",
            "",
            "...",
            ".",
            "..",
            "Foo",
            "foo",
            "FOO",
            "con",
            "nul.txt",
            "a\nb",
            "é",
            "e",
            &long,
            "a_b-ffffffff",
        ];
        let files = team_file_names(&names);
        let folded: BTreeSet<String> = files.iter().map(|f| f.to_lowercase()).collect();
        assert_eq!(folded.len(), names.len(), "{files:?}");
        for f in &files {
            assert!(f.len() < 255, "{f}");
            assert!(!f.starts_with('.'), "{f}");
            assert!(
                f.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ')),
                "{f}"
            );
        }
        assert_eq!(files[2], "a_b.md");
        assert!(files[0].starts_with("a_b-") && files[1].starts_with("a_b-"));
        assert!(!files[10].to_lowercase().starts_with("con."));
        // Stable: the same name gets the same file, whatever else is in the list.
        assert_eq!(team_file_names(&["a/b"])[0], files[0]);
        assert_eq!(team_file_names(&["zzz", "a:b"])[1], files[1]);
    }
}
