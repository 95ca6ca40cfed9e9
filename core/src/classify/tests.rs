//! The examples of docs/classification.md and made-up code, through the parser and the
//! built-in profile.

use super::*;
use crate::code::python;
use crate::matcher::{MatchOptions, Matcher};

/// The occurrences of `files` (path, source) and their classification as one repository.
fn classify_files(p: &Profile, files: &[(&str, &str)]) -> (Vec<Occurrence>, Classification) {
    let m = Matcher::new(&MatchOptions::new(["eventlet"])).unwrap();
    let mut occ = Vec::new();
    let mut facts = CodeFacts::default();
    for &(path, src) in files {
        let found: Vec<Occurrence> = m
            .lines(src.as_bytes())
            .into_iter()
            .map(|(line, text)| Occurrence {
                path: path.into(),
                line,
                text,
            })
            .collect();
        let lines: Vec<u32> = found.iter().map(|o| o.line).collect();
        facts
            .files
            .push(python::extract(path, src.as_bytes(), &lines, &|s| {
                m.is_match(s)
            }));
        occ.extend(found);
    }
    facts.sort();
    let c = classify_all(p, &occ, &facts);
    (occ, c)
}

/// `(line, sub-patterns, categories, role)` of every occurrence of `src` at `path`.
fn run(path: &str, src: &str) -> Vec<(u32, String, String, String)> {
    let p = Profile::eventlet();
    let (occ, c) = classify_files(&p, &[(path, src)]);
    occ.iter()
        .zip(&c.classified)
        .map(|(o, c)| {
            (
                o.line,
                p.subpatterns_of(c).join(","),
                p.categories_of(c).join(","),
                c.role.map_or("-", |r| r.as_str()).to_string(),
            )
        })
        .collect()
}

/// The classification of the occurrence on `line`.
fn at(rows: &[(u32, String, String, String)], line: u32) -> (&str, &str, &str) {
    let r = rows
        .iter()
        .find(|r| r.0 == line)
        .unwrap_or_else(|| panic!("no occurrence on line {line}: {rows:?}"));
    (&r.1, &r.2, &r.3)
}

#[test]
fn docstring_naming_spawn_is_prose_not_a_call() {
    let src = r#"def check(logical_line):
    """Check for eventlet.spawn() calls.

    eventlet.spawn(f) should be utils.spawn(f); see eventlet.monkey_patch.
    """
    if "eventlet.spawn(" in logical_line:
        yield 0, "N340: use utils.spawn() rather than eventlet.spawn()"
"#;
    let rows = run("nova/hacking/checks.py", src);
    for line in [2, 4] {
        assert_eq!(
            at(&rows, line),
            ("doc_mention", "docs", "docstring"),
            "{line}"
        );
    }
    // A message in a string is prose; a value string is not a call either, and in a lint
    // check, which names the word to ban it, it stands for no API.
    assert_eq!(at(&rows, 7), ("doc_mention", "docs", "message"));
    assert_eq!(at(&rows, 6), ("other", "", "value"));
}

#[test]
fn import_takes_what_it_serves() {
    let sleep_only = "import eventlet\n\ndef f():\n    eventlet.sleep(1)\n";
    let rows = run("svc/a.py", sleep_only);
    assert_eq!(at(&rows, 1), ("import_only", "deferred", "import"));
    assert_eq!(at(&rows, 4), ("sleep_yield", "deferred", "call"));

    let patches = "import eventlet\neventlet.monkey_patch()\n";
    let rows = run("svc/a.py", patches);
    assert_eq!(at(&rows, 1), ("import_only", "green_threads", "import"));
    assert_eq!(at(&rows, 2), ("monkey_patch", "green_threads", "call"));

    let gt = "from eventlet import greenthread\n\ndef f():\n    greenthread.sleep(0)\n";
    let rows = run("svc/a.py", gt);
    assert_eq!(at(&rows, 1), ("green_threads", "deferred", "import"));
}

#[test]
fn names_resolve_through_imports_and_aliases() {
    let src = "from eventlet import sleep\nimport eventlet.event as ev_event\n\nsleep(1)\nx = ev_event.Event()\n";
    let rows = run("svc/a.py", src);
    assert_eq!(at(&rows, 1), ("sleep_yield", "deferred", "import"));
    assert_eq!(at(&rows, 2), ("sync_primitives", "green_threads", "import"));
    // The call sites have no word: they are related sites, not occurrences.
    let p = Profile::eventlet();
    let m = Matcher::new(&MatchOptions::new(["eventlet"])).unwrap();
    let f = python::extract("svc/a.py", src.as_bytes(), &[1, 2], &|s| m.is_match(s));
    let occ = [1, 2].map(|l| Occurrence {
        path: "svc/a.py".into(),
        line: l,
        text: String::new(),
    });
    let c = classify_all(&p, &occ, &CodeFacts { files: vec![f] });
    let related: Vec<(u32, &str, Vec<&str>)> = c
        .related
        .iter()
        .map(|r| {
            let ids = r.rules.iter().map(|&i| p.rules[i].id.as_str()).collect();
            (r.line, r.text.as_str(), ids)
        })
        .collect();
    assert_eq!(
        related,
        vec![
            (4, "sleep(1)", vec!["sleep_yield"]),
            (5, "x = ev_event.Event()", vec!["sync_primitives"]),
        ]
    );
}

#[test]
fn tpool_and_greenthread_sites_without_the_word_are_related() {
    let src = "from eventlet import tpool\nfrom eventlet import greenthread\n\nclass D:\n    def __init__(self):\n        self.c = tpool.Proxy(conn)\n        greenthread.sleep(0)\n        t = greenthread.spawn(f)\n";
    let m = Matcher::new(&MatchOptions::new(["eventlet"])).unwrap();
    let f = python::extract("cinder/backup/d.py", src.as_bytes(), &[1, 2], &|s| {
        m.is_match(s)
    });
    let names: Vec<(u32, Vec<String>)> = f
        .related
        .iter()
        .map(|s| (s.line, s.names.clone()))
        .collect();
    assert_eq!(
        names,
        vec![
            (6, vec!["eventlet.tpool.Proxy".to_string()]),
            (7, vec!["eventlet.greenthread.sleep".to_string()]),
            (8, vec!["eventlet.greenthread.spawn".to_string()]),
        ]
    );
    // The greenthread import serves a sleep and a spawn.
    assert_eq!(f.line(2).unwrap().serves.len(), 2);
}

#[test]
fn mocks_of_eventlet_are_use_in_tests_only() {
    let src = r#"import eventlet
from eventlet import queue
import fixtures
import mock


class T(base.TestCase):
    def setUp(self):
        self.mock_object(eventlet, 'sleep')
        self.patchobject(eventlet.queue, 'LightQueue')
        self.useFixture(fixtures.MonkeyPatch(
            'eventlet.spawn', fake_spawn))

    @mock.patch('eventlet.sleep')
    def test_a(self, m):
        eventlet.spawn.assert_called()

    @mock.patch.object(
        eventlet, 'spawn_n')
    def test_b(self, m):
        pass
"#;
    let rows = run("svc/tests/unit/test_a.py", src);
    for line in [9, 10, 12, 14, 16, 19] {
        assert_eq!(
            at(&rows, line),
            ("mock_eventlet", "tests_mock", "mock"),
            "line {line}"
        );
    }
    // An import used only by mocks in a test is Use in Tests only.
    assert_eq!(at(&rows, 1), ("import_only", "tests_mock", "import"));
    // An import used by nothing keeps its own categories.
    assert_eq!(
        at(&rows, 2),
        ("sync_primitives", "green_threads,tests_mock", "import")
    );
}

#[test]
fn test_lines_are_use_in_tests_and_their_api() {
    let src = "import eventlet\n\n\ndef test_x():\n    eventlet.sleep(0)  # let it run\n    # eventlet needs a moment\n";
    let rows = run("svc/tests/test_x.py", src);
    assert_eq!(at(&rows, 5), ("sleep_yield", "deferred,tests_mock", "call"));
    assert_eq!(
        at(&rows, 1),
        ("import_only", "deferred,tests_mock", "import")
    );
    // Prose in tests is documentation only.
    assert_eq!(at(&rows, 6), ("doc_mention", "docs", "comment"));
}

#[test]
fn strings_options_and_loggers() {
    let src = r#"import logging
from oslo_config import cfg

opts = [
    cfg.StrOpt('executor', default='eventlet',
               help='Executor to use, eventlet or threading.'),
    cfg.IntOpt('eventlet_pool_size', default=64),
]
LOG = logging.getLogger('eventlet.wsgi.server')
logging.getLogger('eventlet').setLevel(logging.WARN)
LOG.warning("eventlet is deprecated")
raise RuntimeError('eventlet is not patched')
"#;
    let rows = run("svc/conf/opts.py", src);
    assert_eq!(at(&rows, 5), ("config_option", "config_deps", "option"));
    assert_eq!(at(&rows, 6), ("doc_mention", "docs", "message"));
    assert_eq!(at(&rows, 7), ("config_option", "config_deps", "option"));
    assert_eq!(at(&rows, 9), ("logger_name", "wsgi", "logger_name"));
    assert_eq!(at(&rows, 10), ("logger_name", "config_deps", "logger_name"));
    assert_eq!(at(&rows, 11), ("doc_mention", "docs", "message"));
    assert_eq!(at(&rows, 12), ("doc_mention", "docs", "message"));
}

#[test]
fn wsgi_server_context() {
    let src = "import eventlet\nimport eventlet.wsgi\nfrom eventlet.green import socket\n\neventlet.hubs.use_hub('poll')\nsock = eventlet.listen(('0.0.0.0', 80))\neventlet.wsgi.server(sock, app)\n";
    let rows = run("svc/wsgi.py", src);
    assert_eq!(at(&rows, 7), ("wsgi", "wsgi", "call"));
    assert_eq!(at(&rows, 5), ("hubs", "green_threads,wsgi", "call"));
    assert_eq!(at(&rows, 6), ("wsgi", "wsgi", "call"));
    // The green socket import is not one of the server's own lines.
    assert_eq!(at(&rows, 3), ("green_import", "green_threads", "import"));
    // Outside the server's module, a hub is green threads only.
    let rows = run(
        "svc/hub.py",
        "import eventlet
eventlet.hubs.use_hub('poll')
",
    );
    assert_eq!(at(&rows, 2), ("hubs", "green_threads", "call"));
}

#[test]
fn identifiers_that_merely_contain_the_word_are_other() {
    let src = "def _use_eventlet_pool(n):\n    return n\n";
    let rows = run("svc/a.py", src);
    assert_eq!(at(&rows, 1).0, "other");
    // One that names Eventlet's sleep stands for it.
    let src = "scenarios = [\n    ('green', {'use_eventlet_sleep': True}),\n]\n";
    let rows = run("svc/tests/test_a.py", src);
    assert_eq!(at(&rows, 2), ("other", "deferred,tests_mock", "value"));
}

#[test]
fn a_file_with_a_syntax_error_falls_back_to_line_rules() {
    let src = "import eventlet\ndef broken(:\n    eventlet.spawn(f)\n";
    let m = Matcher::new(&MatchOptions::new(["eventlet"])).unwrap();
    let f = python::extract("svc/b.py", src.as_bytes(), &[1, 3], &|s| m.is_match(s));
    assert!(!f.parsed);
    let facts = CodeFacts { files: vec![f] };
    assert_eq!(facts.unparsed().collect::<Vec<_>>(), vec!["svc/b.py"]);
    let rows = run("svc/b.py", src);
    assert_eq!(at(&rows, 3), ("green_threads", "green_threads", "-"));
    assert_eq!(at(&rows, 1), ("import_only", "green_threads", "-"));
}

#[test]
fn line_rules_for_other_files() {
    let p = Profile::eventlet();
    let ids = |path: &str, text: &str| {
        let c = p.classify(path, text);
        format!(
            "{} {}",
            p.subpatterns_of(&c).join(","),
            p.categories_of(&c).join(",")
        )
    };
    assert_eq!(
        ids("requirements.txt", "eventlet>=0.30.1 # MIT"),
        "dependency config_deps"
    );
    assert_eq!(
        ids("doc/source/a.rst", "Eventlet is going away"),
        "doc_mention docs"
    );
    // A code sample in documentation also gets its code sub-pattern, and stays docs.
    assert_eq!(
        ids("doc/source/a.rst", "eventlet.monkey_patch()"),
        "monkey_patch,doc_mention docs"
    );
    assert_eq!(
        ids("releasenotes/notes/x.yaml", "- eventlet.wsgi is gone"),
        "doc_mention docs"
    );
    // A Helm logger stanza is configuration, not code.
    assert_eq!(
        ids("nova/values.yaml", "qualname: eventlet.wsgi.server"),
        "logger_name wsgi"
    );
    assert_eq!(
        ids("nova/values.yaml", "logger_eventlet:"),
        "logger_name config_deps"
    );
    // The stanza of the WSGI server's logger is about the server.
    assert_eq!(
        ids("etc/nova/logging_sample.conf", "[logger_eventletwsgi]"),
        "logger_name wsgi"
    );
    assert_eq!(
        ids("nova/values.yaml", "  logger_eventletwsgi:"),
        "logger_name wsgi"
    );
    assert_eq!(
        ids("etc/svc/logging.conf", "keys = root, eventlet"),
        "logger_name config_deps"
    );
    assert_eq!(
        ids("tox.ini", "  eventlet_backdoor = 1"),
        "config_option config_deps"
    );
    // A lint check registered in tox.ini stands for no API; a CI job name is configuration.
    assert_eq!(
        ids("tox.ini", "  N373 = checks:check_eventlet_primitives"),
        "other "
    );
    assert_eq!(
        ids(".zuul.yaml", "    - nova-tox-functional-eventlet"),
        "other config_deps"
    );
}

#[test]
fn optional_import_fallback_and_guard_take_what_the_import_serves() {
    let src = r#"from oslo_utils import importutils
try:
    import eventlet
except ImportError:
    eventlet = None

tpool = importutils.try_import('eventlet.tpool')


def nap():
    if eventlet is None:
        return
    eventlet.sleep(0)
"#;
    let rows = run("svc/a.py", src);
    assert_eq!(at(&rows, 3), ("import_only", "deferred", "import"));
    assert_eq!(at(&rows, 5), ("sleep_yield", "deferred", "attribute"));
    assert_eq!(at(&rows, 11), ("sleep_yield", "deferred", "attribute"));
    // A dynamic import is an import of the module it names.
    assert_eq!(at(&rows, 7), ("tpool", "green_threads", "import"));
}

#[test]
fn a_dynamic_import_binds_its_name() {
    let src = "_eventlet = importutils.try_import('eventlet')\n\ndef f():\n    with _eventlet.timeout.Timeout(3):\n        pass\n";
    let rows = run("svc/a.py", src);
    assert_eq!(at(&rows, 1), ("import_only", "deferred", "import"));
    assert_eq!(at(&rows, 4), ("sync_primitives", "deferred", "call"));
}

#[test]
fn a_helper_returning_the_module_stands_for_it() {
    let src = "from nova import utils\n\ndef f(conn):\n    eventlet = utils.get_eventlet()\n    eventlet.hubs.use_hub()\n    return utils.get_eventlet().tpool.Proxy(conn)\n";
    let rows = run("nova/virt/host.py", src);
    assert_eq!(at(&rows, 4), ("import_only", "green_threads", "import"));
    assert_eq!(at(&rows, 5), ("hubs", "green_threads", "call"));
    assert_eq!(at(&rows, 6), ("tpool", "green_threads", "call"));
}

#[test]
fn keywords_and_values_that_select_eventlet_are_options() {
    let src = r#"from oslo_log import log
from oslo_service import backend


def setup(conf, fix_eventlet: bool = True):
    log.setup(conf, 'svc', fix_eventlet=False)
    backend.set_threadpool_model('eventlet')
    if conf.backend not in ('eventlet', 'threading'):
        raise ValueError(conf.backend)
    debug = conf.get('eventlet_debug', 'no')
    return 'eventlet'


def check(logical_line):
    if 'eventlet' in logical_line:
        return logical_line.index('eventlet')
"#;
    let rows = run("svc/service.py", src);
    for line in [5, 6, 7, 8, 10, 11] {
        assert_eq!(
            at(&rows, line).0,
            "config_option",
            "line {line}: {:?}",
            at(&rows, line)
        );
        assert_eq!(at(&rows, line).1, "config_deps", "line {line}");
    }
    // Searching text for the word selects nothing.
    assert_eq!(at(&rows, 15), ("other", "green_threads", "value"));
    assert_eq!(at(&rows, 16), ("other", "green_threads", "value"));
    // Of the two keywords, the one given False turns Eventlet off: it needs nothing of it at
    // run time; the parameter defaulting to True and the selector values do.
    let p = Profile::eventlet();
    let (occ, c) = classify_files(&p, &[("svc/service.py", src)]);
    let runtime = |line: u32| {
        let i = occ.iter().position(|o| o.line == line).unwrap();
        c.classified[i].rules.iter().any(|&r| p.rules[r].runtime)
    };
    assert!(!runtime(6));
    for line in [5, 7, 8, 10] {
        assert!(runtime(line), "line {line}");
    }
}

#[test]
fn a_message_beside_a_name_that_merely_contains_the_word_is_prose() {
    let src = r#"import testtools

from taskflow.utils import eventlet_utils as eu


class T(testtools.TestCase):
    @testtools.skipIf(not eu.EVENTLET_AVAILABLE, 'eventlet is not available')
    def test_a(self):
        ex = self.assertRaises(ImportError, f)
        self.assertEqual(
            "The service runs on native threads so it should not "
            "import eventlet", str(ex))
"#;
    let rows = run("taskflow/tests/unit/test_a.py", src);
    assert_eq!(at(&rows, 7), ("doc_mention", "docs", "decorator"));
    // A part of a concatenated message is prose, even when it reads like code.
    assert_eq!(at(&rows, 12), ("doc_mention", "docs", "message"));
}

#[test]
fn lint_checks_stand_for_no_api() {
    let src = r#"import re

no_eventlet_re = re.compile(r'(import|from)\s+[(]?eventlet')


def check_no_eventlet_imports(logical_line):
    """Ban eventlet imports."""
    if no_eventlet_re.match(logical_line):
        yield logical_line.index('eventlet'), "O345: eventlet is banned"
"#;
    let rows = run("octavia/hacking/checks.py", src);
    for line in [3, 6, 8] {
        assert_eq!(at(&rows, line).0, "other", "line {line}");
        assert_eq!(at(&rows, line).1, "", "line {line}");
    }
    assert_eq!(at(&rows, 7), ("doc_mention", "docs", "docstring"));
}

#[test]
fn project_helpers_and_modules_named_after_eventlet() {
    let p = Profile::eventlet();
    let helper = "import eventlet\n\n\ndef is_patched():\n    return eventlet.patcher.is_monkey_patched('thread')\n";
    let user = "from watcher import eventlet as eventlet_helper\nfrom cinder.wsgi import eventlet_server\n\nif eventlet_helper.is_patched():\n    pass\n";
    let (occ, c) = classify_files(
        &p,
        &[
            ("watcher/eventlet.py", helper),
            ("watcher/common/executor.py", user),
        ],
    );
    let of = |path: &str, line: u32| {
        let i = occ
            .iter()
            .position(|o| o.path == path && o.line == line)
            .unwrap();
        p.subpatterns_of(&c.classified[i]).join(",")
    };
    // An import of the repository's own module named after Eventlet is what it serves.
    assert_eq!(of("watcher/common/executor.py", 1), "monkey_patch");
    assert_eq!(of("watcher/common/executor.py", 4), "monkey_patch");
    // The project's module for the Eventlet WSGI server.
    assert_eq!(of("watcher/common/executor.py", 2), "wsgi");
    assert_eq!(of("watcher/eventlet.py", 1), "import_only");
}

#[test]
fn wsgi_environ_keys_annotations_and_module_lookups() {
    let src = r#"import sys
from typing import Union

_sem: Union['eventlet.semaphore.Semaphore', None] = None


def app(env, start):
    env['eventlet.minimum_write_chunk_size'] = 0
    if 'eventlet.patcher' in sys.modules and sys.modules[
            'eventlet.patcher'].is_monkey_patched('thread'):
        pass
"#;
    let rows = run("svc/app.py", src);
    assert_eq!(
        at(&rows, 4),
        ("sync_primitives", "green_threads", "attribute")
    );
    assert_eq!(at(&rows, 8), ("wsgi", "wsgi", "option"));
    assert_eq!(at(&rows, 10), ("monkey_patch", "green_threads", "call"));
}
