//! Peer check with OpenStack's own lint: `flake8 --select H905` (hacking >= 8.1) flags
//! Eventlet imports. Over the Python files of the generated corpus and of a fixture corpus,
//! every line it flags must be one fleetscan classifies as an import, and every import
//! fleetscan finds that H905 does not flag must carry `# noqa` (H905 skips those lines).
//!
//! flake8 with hacking comes from a virtualenv under `target/` that `.ci/run` installs:
//! `python3 -m venv target/peer-tools && target/peer-tools/bin/pip install 'hacking>=8.1'`,
//! or from `FLEETSCAN_FLAKE8`. Without it this test fails and says so: a peer check that
//! passes because its peer is missing checks nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use fleetscan_core::classify::classify_all;
use fleetscan_core::code::python;
use fleetscan_core::code::roles::{CodeFacts, Role};
use fleetscan_core::matcher::{MatchOptions, Matcher};
use fleetscan_core::profile::Profile;
use fleetscan_core::result::Occurrence;
use fleetscan_tests::corpus;
use fleetscan_tests::Content;

const INSTALL: &str = "python3 -m venv target/peer-tools && target/peer-tools/bin/pip install 'hacking>=8.1' (or set FLEETSCAN_FLAKE8 to a flake8 that has hacking >= 8.1)";

fn flake8() -> PathBuf {
    let path = std::env::var_os("FLEETSCAN_FLAKE8").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/peer-tools/bin/flake8"),
        PathBuf::from,
    );
    let version = Command::new(&path)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "flake8 not found at {}: {e}; install it: {INSTALL}",
                path.display()
            )
        });
    let v = String::from_utf8_lossy(&version.stdout);
    let hacking = v
        .split("hacking: ")
        .nth(1)
        .and_then(|s| s.split([',', ')']).next())
        .unwrap_or_else(|| {
            panic!(
                "{} has no hacking plugin ({v}); install it: {INSTALL}",
                path.display()
            )
        });
    let parts: Vec<u32> = hacking.split('.').filter_map(|p| p.parse().ok()).collect();
    assert!(
        parts >= vec![8, 1],
        "hacking {hacking} has no H905 (8.1 or later needed); install it: {INSTALL}"
    );
    path
}

/// The Python files to check: the generated corpus's and the fixtures, as (path, text).
fn files() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for spec in corpus::specs() {
        for (path, content) in &spec.files {
            if let (true, Content::Bytes(b)) = (path.ends_with(".py"), content) {
                if b.len() < 1 << 20 {
                    let name = format!("corpus/{}/{path}", spec.name);
                    out.push((name, String::from_utf8_lossy(b).into_owned()));
                }
            }
        }
    }
    let fixtures = fleetscan_tests::tests_dir().join("testdata/h905");
    for e in std::fs::read_dir(&fixtures).unwrap() {
        let p = e.unwrap().path();
        let name = format!("fixtures/{}", p.file_name().unwrap().to_string_lossy());
        out.push((name, std::fs::read_to_string(&p).unwrap()));
    }
    out.sort();
    out
}

/// `(path, line)` of every line fleetscan classifies as an import, with its text.
fn fleetscan_imports(files: &[(String, String)]) -> Vec<((String, u32), String)> {
    let profile = Profile::eventlet();
    let m = Matcher::new(&MatchOptions::new(["eventlet"])).unwrap();
    let mut out = Vec::new();
    for (path, text) in files {
        let occ: Vec<Occurrence> = m
            .lines(text.as_bytes())
            .into_iter()
            .map(|(line, text)| Occurrence {
                path: path.clone(),
                line,
                text,
            })
            .collect();
        let lines: Vec<u32> = occ.iter().map(|o| o.line).collect();
        let f = python::extract(path, text.as_bytes(), &lines, &|s| m.is_match(s));
        assert!(f.parsed, "{path} does not parse");
        let c = classify_all(&profile, &occ, &CodeFacts { files: vec![f] });
        for (o, c) in occ.iter().zip(&c.classified) {
            if c.role == Some(Role::Import) {
                out.push(((path.clone(), o.line), o.text.clone()));
            }
        }
    }
    out
}

#[test]
fn h905_flags_only_what_fleetscan_calls_imports_and_the_rest_carry_noqa() {
    let flake8 = flake8();
    let dir = tempfile::tempdir().unwrap();
    let files = files();
    for (path, text) in &files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let out = Command::new(&flake8)
        .current_dir(dir.path())
        .args([
            "--select",
            "H905",
            "--enable-extensions",
            "H905",
            "--format",
            "%(path)s\t%(row)d\t%(code)s",
            ".",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "flake8 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let flagged: BTreeSet<(String, u32)> = stdout
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let path = f.first()?.trim_start_matches("./").to_string();
            f.get(2)?
                .starts_with("H905")
                .then(|| (path, f[1].parse().unwrap()))
        })
        .collect();
    assert!(
        flagged.len() >= 10,
        "H905 flagged too little to compare: {flagged:?}"
    );
    let ours = fleetscan_imports(&files);
    let our_lines: BTreeSet<&(String, u32)> = ours.iter().map(|(k, _)| k).collect();
    let missed: Vec<&(String, u32)> = flagged.iter().filter(|k| !our_lines.contains(k)).collect();
    assert!(
        missed.is_empty(),
        "H905 flags lines fleetscan does not call imports: {missed:?}"
    );
    let unmarked: Vec<&((String, u32), String)> = ours
        .iter()
        .filter(|(k, text)| !flagged.contains(k) && !text.contains("# noqa"))
        .collect();
    assert!(
        unmarked.is_empty(),
        "imports fleetscan finds that H905 does not flag, without `# noqa`: {unmarked:?}"
    );
}
