//! A hostile corpus: repository content and governance names written to break reports that
//! do not escape what they print. Markup and HTML in matched lines, file names with a newline
//! and `<div>`, backticks and pipes, a CSV formula as a file name, team names that collide as
//! file names or are too long for one, a project whose only file is too large, and a team whose
//! only repository is never served.

use std::path::Path;

use crate::corpus::MAX_FILE_SIZE;
use crate::repo::{Content, RepoSpec};

/// Lines that must come out of every report as text: never as HTML, markup or a link.
pub const HOSTILE_LINES: [&str; 9] = [
    "eventlet <script>alert(1)</script>",
    "eventlet <img src=x onerror=alert(1)>",
    "x = 1  # eventlet <!-- hides the rest",
    "def run(**kwargs): eventlet.spawn(**kwargs)",
    "eventlet ](javascript:alert(1))",
    "eventlet ``` ` `` closes nothing",
    "eventlet | a | b |",
    "=HYPERLINK(\"http://127.0.0.1/\",\"eventlet\")",
    "eventlet &lt;b&gt; &#60;i&#62;",
];

/// File names that must come out as text, each holding `import eventlet`.
pub const HOSTILE_PATHS: [&str; 5] = [
    "x\n<div>eventlet.py",
    "](javascript:alert(1)).py",
    "a`b``c.py",
    "p|q.py",
    "=1+1.py",
];

/// The only file of `openstack/huge-only`, above [`MAX_FILE_SIZE`].
pub const HUGE_PATH: &str = "huge/generated.py";

/// A repository governance lists (team "All Failed") that is never served.
pub const NEVER_SERVED: &str = "openstack/never-served";

/// Team names and the repository each owns, in the `projects.yaml` layout; one SIG.
pub fn team_names() -> Vec<(String, &'static str)> {
    vec![
        ("<script>alert(1)</script>".into(), "openstack/hostile"),
        ("a/b".into(), "openstack/t-slash"),
        ("a:b".into(), "openstack/t-colon"),
        ("a_b".into(), "openstack/t-underscore"),
        (String::new(), "openstack/t-empty"),
        ("...".into(), "openstack/t-dots"),
        ("x".repeat(300), "openstack/t-long"),
        ("adjutant".into(), "openstack/t-lower"),
        ("Adjutant".into(), "openstack/t-upper"),
        (
            "**kwargs](javascript:alert(1))".into(),
            "openstack/huge-only",
        ),
        ("All Failed".into(), NEVER_SERVED),
    ]
}

/// The SIG of the corpus and its repository.
pub const SIG: (&str, &str) = ("<!-- SIG", "openstack/t-sig");

/// Every repository of the corpus.
pub fn specs() -> Vec<RepoSpec> {
    let mut body: String = HOSTILE_LINES.iter().map(|l| format!("{l}\n")).collect();
    body.insert_str(0, "import eventlet\n");
    let mut files: Vec<(String, Content)> =
        vec![("evil.py".into(), Content::Bytes(body.into_bytes()))];
    for p in HOSTILE_PATHS {
        files.push((p.into(), Content::Bytes(b"import eventlet\n".to_vec())));
    }
    let mut v = vec![RepoSpec {
        name: "openstack/hostile".into(),
        branch: "master".into(),
        files,
    }];
    let mut huge = Vec::new();
    while (huge.len() as u64) <= MAX_FILE_SIZE {
        huge.extend_from_slice(b"eventlet.sleep(0)  # a line of an oversized file\n");
    }
    v.push(RepoSpec {
        name: "openstack/huge-only".into(),
        branch: "master".into(),
        files: vec![(HUGE_PATH.into(), Content::Bytes(huge))],
    });
    for (_, repo) in team_names().into_iter().skip(1).chain([("".into(), SIG.1)]) {
        if repo.starts_with("openstack/t-") {
            v.push(RepoSpec::new(repo, &[("svc.py", "import eventlet\n")]));
        }
    }
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// Builds every repository under `root`, and writes the governance file naming the hostile
/// teams to `governance`.
pub fn build(root: &Path, governance: &Path) {
    for spec in specs() {
        spec.build(root);
    }
    let mut yaml = String::from("# Hostile team names for the e2e tests.\n");
    for (i, (team, repo)) in team_names().into_iter().enumerate() {
        yaml.push_str(&format!(
            "{}:\n  deliverables:\n    d{i}:\n      repos: [{repo}]\n",
            serde_json::to_string(&team).unwrap()
        ));
    }
    yaml.push_str(&format!(
        "{}:\n  - repo: {}\n",
        serde_json::to_string(SIG.0).unwrap(),
        SIG.1
    ));
    std::fs::write(governance, yaml).unwrap();
}
