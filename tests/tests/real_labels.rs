//! The hand-labelled real set (tests/testdata/real-labels.tsv), its repository list and the
//! verdict table are the yardstick of the classifier (tests/bench/accuracy-real.sh). They are
//! data, edited by hand: these tests keep them well-formed and consistent with the spec
//! (docs/classification.md), so that a slip in an edit cannot silently skew the accuracy figures.

use std::collections::{BTreeMap, BTreeSet};

const PATH_CLASSES: [&str; 7] = [
    "production",
    "test",
    "docs",
    "releasenotes",
    "translations",
    "packaging",
    "ci_config",
];
const SUBPATTERNS: [&str; 15] = [
    "monkey_patch",
    "green_import",
    "green_threads",
    "wsgi",
    "tpool",
    "sleep_yield",
    "sync_primitives",
    "hubs",
    "mock_eventlet",
    "dependency",
    "config_option",
    "logger_name",
    "doc_mention",
    "import_only",
    "other",
];
const CATEGORIES: [&str; 6] = [
    "green_threads",
    "wsgi",
    "deferred",
    "tests_mock",
    "config_deps",
    "docs",
];
const LABELS_HEADER: &str =
    "repo\tcommit\tpath\tline\tsplit\tpath_class\tsubpatterns\tcategories\tnote";
const VERDICTS_HEADER: &str =
    "repo\tcommit\tstatus\tdeactivable\tswitch\tswitch_at\tdefault\treason";

fn testdata(name: &str) -> String {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The data rows of a TSV after its `#` comments, checked against the expected header.
fn rows<'a>(text: &'a str, header: &str, name: &str) -> Vec<(usize, Vec<&'a str>)> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty());
    let (_, first) = lines.next().unwrap_or_else(|| panic!("{name}: empty"));
    assert_eq!(first, header, "{name}: header row");
    let width = header.split('\t').count();
    lines
        .map(|(i, l)| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), width, "{name}:{}: expected {width} fields", i + 1);
            (i + 1, f)
        })
        .collect()
}

fn set<'a>(field: &'a str, vocabulary: &[&str], what: &str, at: &str) -> BTreeSet<&'a str> {
    if field == "-" {
        return BTreeSet::new();
    }
    field
        .split(',')
        .inspect(|x| assert!(vocabulary.contains(x), "{at}: unknown {what} '{x}'"))
        .collect()
}

/// Fails unless `repo` is listed in real-repos.tsv at `commit`.
fn assert_listed(commits: &BTreeMap<String, String>, repo: &str, commit: &str, at: &str) {
    assert_eq!(
        commits.get(repo).map(String::as_str),
        Some(commit),
        "{at}: {repo} at {commit} is not in real-repos.tsv"
    );
}

/// repo -> commit, from real-repos.tsv.
fn repo_commits() -> BTreeMap<String, String> {
    let text = testdata("real-repos.tsv");
    rows(&text, "repo\tcommit\tsource", "real-repos.tsv")
        .into_iter()
        .map(|(i, f)| {
            assert!(
                f[1].len() == 40 && f[1].bytes().all(|b| b.is_ascii_hexdigit()),
                "real-repos.tsv:{i}: commit '{}' is not a full hex id",
                f[1]
            );
            (f[0].to_string(), f[1].to_string())
        })
        .collect()
}

#[test]
fn real_labels_follow_the_spec_vocabulary_and_rules() {
    let commits = repo_commits();
    let text = testdata("real-labels.tsv");
    let rows = rows(&text, LABELS_HEADER, "real-labels.tsv");
    let mut keys = BTreeSet::new();
    // split -> repo -> rows.
    let mut per_split: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for (i, f) in &rows {
        let at = format!("real-labels.tsv:{i}");
        let (repo, commit, path, line, split, class) = (f[0], f[1], f[2], f[3], f[4], f[5]);
        assert_listed(&commits, repo, commit, &at);
        assert!(
            line.parse::<u32>().is_ok_and(|n| n > 0),
            "{at}: line '{line}'"
        );
        assert!(keys.insert((repo, path, line)), "{at}: labelled twice");
        assert!(
            ["tune", "held-out", "fresh"].contains(&split),
            "{at}: split '{split}' is not tune, held-out or fresh"
        );
        assert!(PATH_CLASSES.contains(&class), "{at}: path class '{class}'");
        let subs = set(f[6], &SUBPATTERNS, "sub-pattern", &at);
        let cats = set(f[7], &CATEGORIES, "category", &at);
        assert!(!subs.is_empty(), "{at}: no sub-pattern");
        let prose_only = subs.len() == 1 && subs.contains("doc_mention");
        // Rules 1 and 2: documentation files and prose in code are documentation only.
        if matches!(class, "docs" | "releasenotes" | "translations") || prose_only {
            assert_eq!(cats, BTreeSet::from(["docs"]), "{at}: documentation only");
        }
        // Rule 4: the tests category belongs to every non-prose test line and only to tests;
        // a line that mocks an Eventlet target gets it alone.
        assert_eq!(
            cats.contains("tests_mock"),
            class == "test" && !prose_only,
            "{at}: tests category"
        );
        if subs == BTreeSet::from(["mock_eventlet"]) {
            assert_eq!(
                cats,
                BTreeSet::from(["tests_mock"]),
                "{at}: a mock is tests only"
            );
        }
        *per_split.entry(split).or_default().entry(repo).or_default() += 1;
    }
    let total = |split: &str| {
        per_split
            .get(split)
            .map_or(0, |r| r.values().sum::<usize>())
    };
    // The tune / held-out set: the size and spread issue 9 asks for, and a split that is about
    // half and half.
    let (tune, held) = (total("tune"), total("held-out"));
    let mut tuned_repos = BTreeMap::new();
    for split in ["tune", "held-out"] {
        for (repo, n) in per_split.get(split).into_iter().flatten() {
            *tuned_repos.entry(*repo).or_insert(0) += n;
        }
    }
    assert!(
        tune + held >= 400,
        "tune and held-out have {} rows",
        tune + held
    );
    assert!(
        tuned_repos.len() >= 25,
        "{} repositories",
        tuned_repos.len()
    );
    for (repo, n) in &tuned_repos {
        assert!(
            *n * 100 <= (tune + held) * 8,
            "{repo} has {n} of {} tune and held-out rows",
            tune + held
        );
    }
    assert!(
        tune.abs_diff(held) * 50 <= tune + held,
        "tune {tune}, held-out {held}"
    );
    // The fresh split measures the frozen rules on repositories no rule was tuned on: it is big
    // and spread enough to give a figure, and shares no repository with tune or held-out (a
    // shared repository would carry its tuned idioms into the fresh figure).
    let fresh = per_split.get("fresh").cloned().unwrap_or_default();
    let fresh_rows = total("fresh");
    assert!(fresh_rows >= 120, "fresh has {fresh_rows} rows");
    assert!(fresh.len() >= 10, "fresh has {} repositories", fresh.len());
    for (repo, n) in &fresh {
        assert!(
            !tuned_repos.contains_key(repo),
            "{repo} is in fresh and in tune or held-out"
        );
        // The draw caps a repository at 8 % of the rows asked for; fewer may be drawn.
        assert!(
            *n * 100 <= fresh_rows * 10,
            "{repo} has {n} of {fresh_rows} fresh rows"
        );
    }
}

#[test]
fn real_verdicts_are_complete_and_cite_locations() {
    let commits = repo_commits();
    let text = testdata("real-verdicts.tsv");
    let rows = rows(&text, VERDICTS_HEADER, "real-verdicts.tsv");
    let mut seen = BTreeMap::new();
    for (i, f) in &rows {
        let at = format!("real-verdicts.tsv:{i}");
        assert_listed(&commits, f[0], f[1], &at);
        let status = f[2];
        assert!(
            [
                "not affected",
                "migrated",
                "switchable",
                "in progress",
                "not started"
            ]
            .contains(&status),
            "{at}: status '{status}'"
        );
        assert!(
            ["Yes", "No", "Maybe"].contains(&f[3]),
            "{at}: deactivable '{}'",
            f[3]
        );
        // A switchable project names its switch; any named switch says where it is read and
        // its default (a switch can exist without making the project switchable).
        assert!(
            status != "switchable" || f[4] != "-",
            "{at}: switchable without a switch"
        );
        if f[4] != "-" {
            assert!(
                f[5].contains('#') && f[6] != "-",
                "{at}: switch_at and default"
            );
        }
        // Every reason cites a location, except for a repository with nothing to cite.
        assert!(
            f[7].contains('#') || (status == "not affected" && f[7].contains("no occurrence")),
            "{at}: the reason cites no path#line"
        );
        assert!(
            seen.insert(f[0], (status, f[3], f[4])).is_none(),
            "{at}: twice"
        );
    }
    assert!(rows.len() >= 25, "{} repositories", rows.len());
    // The cases issue 9 names.
    let nova = seen["openstack/nova"];
    assert_eq!((nova.0, nova.1), ("switchable", "Yes"));
    assert!(
        nova.2.contains("OS_NOVA_DISABLE_EVENTLET_PATCHING")
            && nova.2.contains("concurrency_backend")
    );
    for client in [
        "openstack/python-glanceclient",
        "openstack/python-cinderclient",
    ] {
        assert_eq!(seen[client].1, "Yes", "{client}");
    }
    assert!(
        !seen["openstack/cinder"].2.contains("GREENDNS"),
        "a DNS setting is not a switch"
    );
    for repo in [
        "openstack/glance",
        "openstack/neutron",
        "openstack/swift",
        "openstack/oslo.messaging",
        "openstack/oslo.service",
        "openstack/nova-specs",
    ] {
        assert!(seen.contains_key(repo), "{repo} has no verdict");
    }
}
