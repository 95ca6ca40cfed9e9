//! The generated corpus: repositories with known content covering what a real fleet holds:
//! Python with comments, docstrings and `# noqa` trailers, `.po` files with non-ASCII text,
//! rst, binary files, a big file, nested directories, symlinks, a submodule, CRLF lines, an
//! empty repository and default branches other than `master`.
//!
//! `governance.yaml` and `sigs-repos.yaml` in `tests/testdata/` give the teams; one repository
//! is left out of governance on purpose, and one listed repository is never served.

use std::path::Path;

use crate::repo::{Content, RepoSpec};

/// Size limit the e2e tests pass with `--max-file-size`; `openstack/blobs` has a file above it.
pub const MAX_FILE_SIZE: u64 = 65_536;

/// Listed in governance but never built: a scan must report it failed (not found).
pub const MISSING: &str = "openstack/ghost-service";

const SERVICE_CMD: &str = r#"# Copyright 2026 Example
#
#    Licensed under the Apache License, Version 2.0
"""Entry points for the compute service.

The service still relies on eventlet for its concurrency model.
"""

import os

import eventlet  # noqa

if os.environ.get('OS_COMPUTE_DISABLE_EVENTLET_PATCHING', '').lower() not in ('1', 'true'):
    eventlet.monkey_patch()
"#;

const SERVICE_POOL: &str = r#"import eventlet
from eventlet import greenpool
from eventlet import tpool

from compute import utils


class Pool(object):
    # eventlet pools are sized here
    def __init__(self, size):
        self.pool = eventlet.GreenPool(size)

    def run(self, fn, *args):
        return self.pool.spawn(fn, *args)

    def later(self, delay, fn):
        return eventlet.spawn_after(delay, fn)

    def blocking(self, fn):
        return tpool.execute(fn)

    def pause(self):
        eventlet.sleep(0)
"#;

const SERVICE_WSGI: &str = r#"import eventlet.wsgi
from eventlet.green import socket

from compute.conf import CONF


def serve(app):
    sock = eventlet.listen((CONF.host, CONF.port))
    eventlet.wsgi.server(sock, app, log_output=False)  # serve forever
"#;

const SERVICE_CONF: &str = r#"from oslo_config import cfg

opts = [
    cfg.BoolOpt('disable_eventlet_monkey_patching', default=False,
                help='Run without eventlet monkey patching.'),
    cfg.IntOpt('eventlet_pool_size', default=64,
               help='Size of the eventlet green thread pool.'),
]
"#;

const SERVICE_TEST: &str = r#"import mock

from compute import service
from compute.tests import base


class TestPool(base.TestCase):
    @mock.patch('eventlet.spawn_after')
    def test_later(self, spawn_after):
        service.Pool(1).later(1, None)
        spawn_after.assert_called_once()

    @mock.patch.object(service.eventlet, 'sleep')
    def test_pause(self, sleep):
        service.Pool(1).pause()
"#;

const PO_DE: &str = "msgid \"\"\nmsgstr \"\"\n\"Content-Type: text/plain; charset=UTF-8\\n\"\n\n\
msgid \"eventlet monkey patching is disabled\"\nmsgstr \"eventlet-Monkey-Patching ist deaktiviert – Größe geändert\"\n\n\
msgid \"Waiting for eventlet hub\"\nmsgstr \"Warte auf den eventlet-Hub …\"\n";

const PO_JA: &str = "msgid \"eventlet monkey patching is disabled\"\nmsgstr \"eventlet のモンキーパッチは無効です\"\n";

fn bytes(s: &str) -> Content {
    Content::Bytes(s.as_bytes().to_vec())
}

/// Every repository of the corpus, in name order.
pub fn specs() -> Vec<RepoSpec> {
    let mut v = vec![
        RepoSpec::new(
            "openstack/compute",
            &[
                ("compute/cmd/__init__.py", SERVICE_CMD),
                ("compute/pool.py", SERVICE_POOL),
                ("compute/wsgi.py", SERVICE_WSGI),
                ("compute/conf/opts.py", SERVICE_CONF),
                ("compute/tests/unit/test_pool.py", SERVICE_TEST),
                ("requirements.txt", "pbr>=2.0.0 # Apache-2.0\neventlet>=0.30.1 # MIT\noslo.config>=9.0.0 # Apache-2.0\n"),
                ("doc/source/admin/concurrency.rst", "Concurrency\n===========\n\nCompute runs on eventlet green threads.\nSet ``disable_eventlet_monkey_patching`` to try native threads.\n"),
                ("releasenotes/notes/threading-mode-0a1b2c3d.yaml", "---\nfeatures:\n  - |\n    The compute service can now run without eventlet.\n"),
                ("compute/locale/de/LC_MESSAGES/compute.po", PO_DE),
                ("compute/locale/ja/LC_MESSAGES/compute.po", PO_JA),
                (".zuul.yaml", "- job:\n    name: compute-tox-py312-threading\n    vars:\n      tox_envlist: py312\n      tox_environment:\n        OS_COMPUTE_DISABLE_EVENTLET_PATCHING: 'true'  # eventlet off\n"),
                ("tox.ini", "[testenv]\nsetenv =\n  EVENTLET_NO_GREENDNS=yes  # eventlet dns off\n"),
                // Services, in files without the pattern so that the occurrences stay as they
                // are: the API imports the package whose module-level patching a switch guards.
                ("setup.cfg", "[metadata]\nname = compute\n\n[entry_points]\nconsole_scripts =\n    compute-api = compute.cmd.api:main\nwsgi_scripts =\n    compute-wsgi = compute.wsgi_app:init_application\n"),
                ("compute/cmd/api.py", "import sys\n\n\ndef main():\n    return 0\n"),
                ("compute/wsgi_app.py", "def init_application():\n    return None\n"),
            ],
        ),
        RepoSpec::new(
            "openstack/python-computeclient",
            &[
                ("computeclient/shell.py", "import sys\n\n\ndef main():\n    \"\"\"The client never needed eventlet.\"\"\"\n    return 0\n"),
                ("computeclient/tests/test_shell.py", "# eventlet is not used here\nimport unittest\n"),
                ("README.rst", "A client for compute. It does not use eventlet.\n"),
            ],
        ),
        RepoSpec::new(
            "openstack/compute-specs",
            &[
                ("specs/2026.2/approved/remove-eventlet.rst", "==============\nRemove eventlet\n==============\n\nWe replace ``eventlet.GreenPool`` with ``concurrent.futures``.\nThe ``eventlet.wsgi`` server goes away in favour of uWSGI.\n"),
                ("specs/2026.2/approved/other.rst", "Nothing about it here.\n"),
                ("tox.ini", "[testenv:docs]\ncommands = sphinx-build doc/source doc/build\n"),
            ],
        ),
        RepoSpec::new(
            "openstack/storage",
            &[
                ("storage/__init__.py", "import eventlet\n\neventlet.monkey_patch()  # noqa\n"),
                ("storage/backup/manager.py", "from eventlet import greenthread\nfrom eventlet import queue\n\n\ndef drain(q):\n    while not q.empty():\n        greenthread.sleep(0)  # yield to eventlet\n    return eventlet.queue.LightQueue()\n"),
                ("storage/volume/flows.py", "import eventlet\n\n\ndef wait(timeout):\n    with eventlet.Timeout(timeout):\n        pass\n    done = eventlet.event.Event()\n    return done\n"),
                ("storage/hub.py", "import eventlet.hubs\n\neventlet.hubs.use_hub('poll')\n"),
                ("storage/tests/unit/test_manager.py", "import fixtures\n\n\nclass T(object):\n    def setUp(self):\n        self.useFixture(fixtures.MockPatch('eventlet.greenthread.sleep'))\n"),
                ("setup.cfg", "[metadata]\nname = storage\n\n[options]\ninstall_requires =\n    eventlet>=0.30.1\n"),
            ],
        ),
        RepoSpec::new(
            "openstack/network",
            &[
                ("network/agent/main.py", "import eventlet\neventlet.monkey_patch()\n\nfrom eventlet.green import subprocess\n\n\ndef run():\n    pool = eventlet.GreenPile(4)\n    return pool\n"),
                ("network/agent/deep/a/b/c/d/worker.py", "from eventlet import semaphore\n\nLOCK = eventlet.semaphore.Semaphore()\n"),
                ("network/server.py", "from eventlet import backdoor\n\nbackdoor.backdoor_server  # eventlet backdoor\n"),
            ],
        ),
        RepoSpec::new(
            "openstack/image",
            &[
                ("image/common/wsgi.py", "import eventlet\nimport eventlet.wsgi\n\n\ndef server(app, sock):\n    eventlet.wsgi.server(sock, app, custom_pool=eventlet.GreenPool(1000))\n"),
                ("image/async_/__init__.py", "import threading\n\n# This module replaced eventlet with native threads.\n"),
                ("bindep.txt", "python3-dev [platform:dpkg test]\n"),
            ],
        ),
        RepoSpec::new(
            "openstack/i18n-heavy",
            &[
                ("heavy/locale/fr/LC_MESSAGES/heavy.po", "msgid \"eventlet is slow\"\nmsgstr \"eventlet est lent, très lent\"\n"),
                ("heavy/locale/zh_CN/LC_MESSAGES/heavy.po", "msgid \"eventlet is slow\"\nmsgstr \"eventlet 很慢\"\n"),
                ("heavy/locale/ru/LC_MESSAGES/heavy.po", "msgid \"eventlet is slow\"\nmsgstr \"eventlet работает медленно\"\n"),
                ("heavy/__init__.py", "\n"),
            ],
        ),
        RepoSpec::new("openstack/clean-lib", &[("clean/__init__.py", "import threading\n"), ("README.rst", "Clean.\n")]),
        RepoSpec::new(
            "openstack/crlf-tool",
            &[("tool/run.py", "import os\r\nimport eventlet\r\n\r\neventlet.sleep(1)\r\n")],
        ),
        RepoSpec::new(
            "openstack/ci-tools",
            &[
                ("devstack/plugin.sh", "#!/bin/bash\n# eventlet settings\niniset $COMPUTE_CONF DEFAULT use_eventlet False\n"),
                ("playbooks/run.yaml", "- hosts: all\n  environment:\n    EVENTLET_NO_GREENDNS: 'yes'  # eventlet\n"),
            ],
        ),
        RepoSpec::new(
            "openstack/sig-helper",
            &[("helper/main.py", "import eventlet\n\neventlet.spawn_n(print, 'x')\n")],
        ),
        RepoSpec::new(
            "openstack/unlisted-thing",
            &[("thing.py", "import eventlet  # not in governance\n")],
        ),
        RepoSpec::new(
            "openstack/old-notes",
            &[("releasenotes/notes/drop-eventlet-1111.yaml", "---\nupgrade:\n  - |\n    eventlet is no longer a dependency.\n")],
        ),
    ];
    // Default branches other than master.
    let mut main = RepoSpec::new(
        "openstack/main-branch",
        &[(
            "svc/app.py",
            "import eventlet\n\npool = eventlet.GreenPool()\n",
        )],
    );
    main.branch = "main".into();
    v.push(main);
    let mut stable = RepoSpec::new(
        "openstack/odd-branch",
        &[("svc/x.py", "from eventlet import tpool\n")],
    );
    stable.branch = "development".into();
    v.push(stable);
    // Binary and oversized files are skipped and counted.
    let mut big = b"# big file\n".to_vec();
    while (big.len() as u64) <= MAX_FILE_SIZE {
        big.extend_from_slice(b"eventlet.sleep(0)  # filler line in an oversized file\n");
    }
    v.push(RepoSpec {
        name: "openstack/blobs".into(),
        branch: "master".into(),
        files: vec![
            (
                "blobs/data.bin".into(),
                Content::Bytes(b"\x00\x01eventlet\x00binary".to_vec()),
            ),
            ("blobs/big.py".into(), Content::Bytes(big)),
            ("blobs/small.py".into(), bytes("import eventlet\n")),
            (
                "blobs/latin1.txt".into(),
                Content::Bytes(b"caf\xe9 eventlet\n".to_vec()),
            ),
        ],
    });
    // Links are not followed; submodules are recorded, not cloned.
    v.push(RepoSpec {
        name: "openstack/linked".into(),
        branch: "master".into(),
        files: vec![
            ("real.py".into(), bytes("import eventlet\n")),
            ("alias.py".into(), Content::Link("real.py".into())),
            (
                "vendor/lib".into(),
                Content::Submodule("0123456789abcdef0123456789abcdef01234567".into()),
            ),
        ],
    });
    v.push(RepoSpec {
        name: "openstack/empty".into(),
        branch: "master".into(),
        files: vec![],
    });
    // Fillers: many small repositories, as most of a real fleet is.
    for i in 0..16 {
        let body = format!("import eventlet\n\n\ndef task_{i}():\n    eventlet.sleep({i})\n");
        let clean = format!("def task_{i}():\n    return {i}\n");
        let files: Vec<(&str, &str)> = if i % 4 == 3 {
            vec![("pkg/task.py", clean.as_str())]
        } else {
            vec![
                ("pkg/task.py", body.as_str()),
                (
                    "pkg/tests/test_task.py",
                    "import mock\n\n@mock.patch('eventlet.sleep')\ndef test(m):\n    pass\n",
                ),
            ]
        };
        v.push(RepoSpec::new(&format!("openstack/filler-{i:02}"), &files));
    }
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// Builds every repository under `root`.
pub fn build(root: &Path) {
    for spec in specs() {
        spec.build(root);
    }
}

/// The occurrences a correct scan for `pattern` (a literal) must find, computed directly from
/// the specs by the simplest possible reading of the rules: per line, skip comment lines when
/// `ignore_comments`, skip binary, oversized, linked and submodule entries.
pub fn expected(pattern: &str, ignore_comments: bool) -> Vec<(String, String, u32, String)> {
    let mut out = Vec::new();
    for spec in specs() {
        for (path, content) in &spec.files {
            let Content::Bytes(b) = content else { continue };
            if b.len() as u64 > MAX_FILE_SIZE || b[..b.len().min(8000)].contains(&0) {
                continue;
            }
            let text = String::from_utf8_lossy(b);
            for (i, line) in text.split('\n').enumerate() {
                let t = line.trim();
                if line.contains(pattern) && !(ignore_comments && t.starts_with('#')) {
                    out.push((spec.name.clone(), path.clone(), i as u32 + 1, t.to_string()));
                }
            }
        }
    }
    out.sort();
    out
}
