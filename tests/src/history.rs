//! The history corpus: a few repositories of the corpus's teams with dated commits, so that a
//! history scan has a migration to show. Dates are fixed, so commit ids (and golden files) are
//! the same on every machine.
//!
//! - `openstack/compute` goes from an unconditional `monkey_patch` (2024) through a switch
//!   (2025-02) and the removal of its API use (2025-08) to documentation only (2026-02). A
//!   side branch merged on 2024-07-05 carries a commit dated 2024-06-20: a point on 2024-07-01
//!   must not see it, since it is not on the first-parent chain then.
//! - `openstack/storage` appears on 2024-03-15 and barely changes;
//! - `openstack/image` appears on 2025-03-01 (absent before) and drops Eventlet on 2026-04-01;
//! - `openstack/clean-lib` exists from 2023 and mentions Eventlet in prose from 2024-09.

use std::path::Path;

use crate::repo::git_at;

/// The points the tests scan: quarterly from START to END.
pub const HISTORY: &str = "2024-01-01..2026-07-01";

/// One step of a repository's history.
enum Step {
    /// A commit on the default branch: files written (`Some`) or deleted (`None`).
    Commit(
        &'static str,
        &'static [(&'static str, Option<&'static str>)],
    ),
    /// A commit on the default branch, one on a side branch (dated as given), then the merge
    /// of the side branch (dated last).
    Merge {
        main: (
            &'static str,
            &'static [(&'static str, Option<&'static str>)],
        ),
        side: (
            &'static str,
            &'static [(&'static str, Option<&'static str>)],
        ),
        merged: &'static str,
    },
}

const PATCH: &str = "import eventlet\n\neventlet.monkey_patch()\n";
const PATCH_SWITCHED: &str = "import os\n\nimport eventlet\n\nif os.environ.get('COMPUTE_USE_EVENTLET', '1') == '1':\n    eventlet.monkey_patch()\n";
const POOL: &str = "import eventlet\n\n\ndef run(fn):\n    return eventlet.spawn(fn)\n\n\ndef pause():\n    eventlet.sleep(0)\n";
const POOL_NATIVE: &str = "import concurrent.futures\n\n_POOL = concurrent.futures.ThreadPoolExecutor(8)\n\n\ndef run(fn):\n    return _POOL.submit(fn)\n";
const API: &str =
    "import eventlet.wsgi\n\n\ndef serve(sock, app):\n    eventlet.wsgi.server(sock, app)\n";
const SIDE: &str = "import eventlet\n\n\ndef later(fn):\n    return eventlet.spawn_after(1, fn)\n";
const SETUP: &str = "[metadata]\nname = compute\n\n[entry_points]\nconsole_scripts =\n    compute-api = compute.cmd:main\n";

fn history() -> Vec<(&'static str, Vec<Step>)> {
    use Step::*;
    vec![
        (
            "openstack/clean-lib",
            vec![
                Commit("2023-06-01T09:00:00Z", &[("clean/__init__.py", Some("import threading\n"))]),
                Commit("2024-09-01T09:00:00Z", &[("README.rst", Some("Clean. It never used eventlet.\n"))]),
            ],
        ),
        (
            "openstack/compute",
            vec![
                Commit(
                    "2024-01-10T10:00:00Z",
                    &[
                        ("compute/cmd/__init__.py", Some(PATCH)),
                        ("compute/pool.py", Some(POOL)),
                        ("requirements.txt", Some("eventlet>=0.30.1\n")),
                        ("setup.cfg", Some(SETUP)),
                        ("doc/source/index.rst", Some("Compute runs on eventlet green threads.\n")),
                    ],
                ),
                Merge {
                    main: ("2024-06-10T10:00:00Z", &[("compute/api.py", Some(API))]),
                    side: ("2024-06-20T10:00:00Z", &[("compute/side.py", Some(SIDE))]),
                    merged: "2024-07-05T10:00:00Z",
                },
                Commit("2025-02-01T10:00:00Z", &[("compute/cmd/__init__.py", Some(PATCH_SWITCHED))]),
                Commit(
                    "2025-08-15T10:00:00Z",
                    &[
                        ("compute/pool.py", Some(POOL_NATIVE)),
                        ("compute/api.py", None),
                        ("compute/side.py", None),
                    ],
                ),
                Commit(
                    "2026-02-01T10:00:00Z",
                    &[
                        ("compute/cmd/__init__.py", Some("def main():\n    return 0\n")),
                        ("requirements.txt", Some("oslo.config>=9.0.0\n")),
                        ("releasenotes/notes/no-eventlet-1234.yaml", Some("---\nupgrade:\n  - |\n    Compute no longer uses eventlet.\n")),
                    ],
                ),
            ],
        ),
        (
            "openstack/image",
            vec![
                Commit(
                    "2025-03-01T08:00:00Z",
                    &[("image/wsgi.py", Some("import eventlet\nimport eventlet.wsgi\n\n\ndef server(app, sock):\n    eventlet.wsgi.server(sock, app)\n"))],
                ),
                Commit("2026-04-01T08:00:00Z", &[("image/wsgi.py", Some("def server(app, sock):\n    return None\n"))]),
            ],
        ),
        (
            "openstack/storage",
            vec![
                Commit(
                    "2024-03-15T12:00:00Z",
                    &[
                        ("storage/__init__.py", Some(PATCH)),
                        ("storage/backup.py", Some("from eventlet import greenthread\n\n\ndef drain():\n    greenthread.sleep(0)\n")),
                    ],
                ),
                Commit(
                    "2025-05-01T12:00:00Z",
                    &[("storage/tests/test_backup.py", Some("import mock\n\n\n@mock.patch('eventlet.greenthread.sleep')\ndef test_drain(m):\n    pass\n"))],
                ),
            ],
        ),
    ]
}

/// The repositories of the history corpus, in name order.
pub fn names() -> Vec<String> {
    history().into_iter().map(|(n, _)| n.to_string()).collect()
}

/// Builds every repository of the history corpus under `root`.
pub fn build(root: &Path) {
    for (name, steps) in history() {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        git_at(
            &dir,
            &["init", "-q", "-b", "master"],
            "2023-01-01T00:00:00Z",
        );
        for step in steps {
            match step {
                Step::Commit(date, changes) => commit(&dir, date, changes),
                Step::Merge { main, side, merged } => {
                    git_at(&dir, &["checkout", "-q", "-b", "side"], side.0);
                    commit(&dir, side.0, side.1);
                    git_at(&dir, &["checkout", "-q", "master"], main.0);
                    commit(&dir, main.0, main.1);
                    git_at(
                        &dir,
                        &["merge", "-q", "--no-ff", "-m", "merge side", "side"],
                        merged,
                    );
                    git_at(&dir, &["branch", "-q", "-D", "side"], merged);
                }
            }
        }
    }
}

/// Commits `changes` to the repository at `dir`, dated `date`.
pub fn commit(dir: &Path, date: &str, changes: &[(&str, Option<&str>)]) {
    for (path, content) in changes {
        let p = dir.join(path);
        match content {
            Some(c) => {
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, c).unwrap();
            }
            None => std::fs::remove_file(&p).unwrap(),
        }
    }
    git_at(dir, &["add", "-A"], date);
    git_at(
        dir,
        &["commit", "-q", "-m", &format!("change of {date}")],
        date,
    );
}
