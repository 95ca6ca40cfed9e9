//! Parsing from the previous version gives what parsing from scratch gives: the same tree and
//! the same facts, over a series of edits of a real-looking module (the shapes of nova's
//! service modules), each version parsed from the one before.

use std::collections::BTreeSet;

use super::*;
use crate::code::trace::Tracer;
use crate::code::{python, switches};

const BASE: &str = r#""""Starts the compute service.

The service runs with eventlet unless the threading mode is chosen.
"""

import os
import sys

import eventlet
from eventlet import greenpool
from oslo_config import cfg
from oslo_log import log as logging

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

opts = [
    cfg.BoolOpt('use_eventlet', default=True, help='Run the service with eventlet.'),
]


def _monkey_patch():
    if os.environ.get('OS_NOVA_DISABLE_EVENTLET_PATCHING', '').lower() in ('1', 'true'):
        return
    if CONF.use_eventlet:
        eventlet.monkey_patch()


class Service(object):
    """A service.

    Runs its workers in a green pool.
    """

    def __init__(self, host, workers=4):
        self.host = host
        self.pool = greenpool.GreenPool(workers)

    def start(self):
        LOG.info("Starting %s on eventlet", self.host)
        for i in range(4):
            self.pool.spawn_n(self.run, i)

    def run(self, i):
        eventlet.sleep(0)
        return i * 2


def main():
    _monkey_patch()
    svc = Service(os.uname()[1])
    svc.start()
    sys.exit(0)
"#;

/// Each step: what to replace in the version before, and with what.
const STEPS: [(&str, &str, &str); 11] = [
    (
        "insert at the start",
        "\"\"\"Starts",
        "# Copyright 2026\n\"\"\"Starts",
    ),
    (
        "insert in the middle",
        "class Service(object):",
        "def helper(x):\n    return eventlet.spawn(x)\n\n\nclass Service(object):",
    ),
    (
        "change at the end",
        "    sys.exit(0)\n",
        "    sys.exit(svc.wait())\n",
    ),
    (
        "append",
        "sys.exit(svc.wait())\n",
        "sys.exit(svc.wait())\n\n\nif __name__ == '__main__':\n    main()\n",
    ),
    (
        "inside a docstring",
        "Runs its workers in a green pool.",
        "Runs its workers in a pool\n    of eventlet green threads.",
    ),
    (
        "inside a string",
        "\"Starting %s on eventlet\"",
        "\"Starting %s (eventlet hub: %s)\"",
    ),
    (
        "a syntax error",
        "    def run(self, i):",
        "    def run(self, i:",
    ),
    (
        "the error removed",
        "    def run(self, i:",
        "    def run(self, i, j=0):",
    ),
    (
        "delete in the middle",
        "def helper(x):\n    return eventlet.spawn(x)\n\n\n",
        "",
    ),
    ("delete at the start", "# Copyright 2026\n", ""),
    (
        "a block replaced",
        "        eventlet.sleep(0)\n        return i * 2\n",
        "        thread = eventlet.spawn(self.pool.waitall)\n        return thread.wait() or i\n",
    ),
];

/// Every node's kind and span, in document order: two trees with the same list are the same
/// tree for every use the facts make of it.
fn shape(tree: &Tree) -> Vec<(String, usize, usize, Point, Point)> {
    let mut out = Vec::new();
    let mut c = tree.walk();
    'walk: loop {
        let n = c.node();
        out.push((
            n.kind().to_string(),
            n.start_byte(),
            n.end_byte(),
            n.start_position(),
            n.end_position(),
        ));
        if c.goto_first_child() {
            continue;
        }
        while !c.goto_next_sibling() {
            if !c.goto_parent() {
                break 'walk;
            }
        }
    }
    out
}

fn occurrence_lines(src: &str) -> Vec<u32> {
    (1..)
        .zip(src.lines())
        .filter(|(_, l)| l.contains("eventlet"))
        .map(|(n, _)| n)
        .collect()
}

fn versions() -> Vec<(&'static str, String)> {
    let mut out = vec![("base", BASE.to_string())];
    let mut src = BASE.to_string();
    for (what, from, to) in STEPS {
        assert!(src.contains(from), "{what}: {from:?} not found");
        src = src.replacen(from, to, 1);
        out.push((what, src.clone()));
    }
    // The last steps: a docstring cut open at the end, then closed again.
    let cut = src.replacen(
        "    sys.exit(svc.wait())\n",
        "    \"\"\"sys.exit(svc.wait())\n",
        1,
    );
    out.push(("a string opened near the end", cut));
    out.push(("closed again", src.clone()));
    out.push(("emptied", String::new()));
    out.push(("written again", src));
    out
}

#[test]
fn each_version_parses_as_from_scratch() {
    let is_match = |s: &str| s.contains("eventlet");
    let keep: BTreeSet<String> = ["_monkey_patch".to_string(), "start".to_string()].into();
    let (mut tree, mut roles, mut code, mut calls) = (None, None, None, None);
    let (mut errors, mut parsed) = (0, 0);
    for (what, src) in versions() {
        let b = src.as_bytes();
        let fresh = parse_new(b).expect("parses");
        errors += usize::from(fresh.root_node().has_error());
        let kept = parse(b, tree.as_ref()).expect("parses");
        assert_eq!(shape(kept.tree()), shape(&fresh), "{what}: tree");
        tree = Some(kept);

        let lines = occurrence_lines(&src);
        let (facts, k) =
            python::extract_again("nova/service.py", b, &lines, &is_match, roles.as_ref());
        let scratch = python::extract("nova/service.py", b, &lines, &is_match);
        assert_eq!(facts, scratch, "{what}: roles");
        parsed += usize::from(facts.parsed && !facts.lines.is_empty());
        roles = k;

        let (facts, k) = switches::extract_again("nova/service.py", b, code.as_ref());
        assert_eq!(
            facts,
            switches::extract("nova/service.py", b),
            "{what}: code facts"
        );
        code = k;

        let (facts, k) = Tracer::calling_again("nova/service.py", b, &keep, calls.as_ref());
        assert_eq!(
            facts,
            Tracer::calling("nova/service.py", b, &keep),
            "{what}: calls"
        );
        calls = k;
    }
    // The series did go through syntax errors, and the facts saw real findings.
    assert!(errors >= 2, "{errors} versions with errors");
    assert!(parsed >= 10, "{parsed} versions with line facts");
}

#[test]
fn edits_rebuild_the_new_text() {
    // Applying the edits to the old text's bytes, last first, gives the new text.
    let vs = versions();
    for w in vs.windows(2) {
        let (old, new) = (w[0].1.as_bytes(), w[1].1.as_bytes());
        let mut text = old.to_vec();
        for e in edits(old, new) {
            let len = e.new_end_byte - e.start_byte;
            // The new bytes sit at the same place in the new text once every later edit is
            // applied, and no earlier one moved them: take them from the end.
            let from_end = new.len() - (text.len() - e.old_end_byte);
            text.splice(
                e.start_byte..e.old_end_byte,
                new[from_end - len..from_end].iter().copied(),
            );
        }
        assert_eq!(text, new, "{}", w[1].0);
    }
}

#[test]
fn a_parse_kept_again_under_its_key_replaces_the_one_before_and_its_cost() {
    let (a, b) = ("import eventlet\n", "import eventlet\nx = 1\n");
    let (pa, pb) = (parse(a.as_bytes(), None), parse(b.as_bytes(), None));
    let (ca, cb) = (pa.as_ref().unwrap().cost(), pb.as_ref().unwrap().cost());
    assert!(ca > a.len(), "the tree counts as well as the source");
    let ledger = Arc::new(Ledger::new(usize::MAX));
    let mut kept = Parses::new(ca + cb, ledger.clone());
    kept.keep("f.py", pa.clone());
    kept.keep("f.py", pb);
    assert_eq!(kept.bytes(), cb, "the first parse is no longer counted");
    // Room is left for another parse of the first one's cost, which the bound would refuse
    // had the replaced parse still been counted.
    kept.keep("g.py", pa);
    assert_eq!((kept.bytes(), ledger.used()), (ca + cb, ca + cb));
    assert_eq!(kept.take("f.py").map(|k| k.len()), Some(b.len()));
    assert_eq!(kept.take("f.py").map(|k| k.len()), None);
    assert_eq!((kept.bytes(), ledger.used()), (ca, ca));
    drop(kept);
    assert_eq!(ledger.used(), 0, "a dropped store gives back what it drew");
}

#[test]
fn stores_sharing_a_ledger_keep_no_more_than_it_allows_together() {
    let src = "import eventlet\n";
    let one = parse(src.as_bytes(), None).unwrap().cost();
    let ledger = Arc::new(Ledger::new(3 * one));
    let (mut a, mut b) = (
        Parses::new(usize::MAX, ledger.clone()),
        Parses::new(usize::MAX, ledger.clone()),
    );
    for i in 0..2 {
        a.keep(i, parse(src.as_bytes(), None));
        b.keep(i, parse(src.as_bytes(), None));
    }
    // The fourth parse did not fit: b's second file will parse from scratch.
    assert_eq!(
        (a.bytes(), b.bytes(), ledger.used()),
        (2 * one, one, 3 * one)
    );
    assert!(b.take(&1).is_none());
    // What a store drops, another can keep.
    drop(a);
    b.keep(1, parse(src.as_bytes(), None));
    assert_eq!((b.bytes(), ledger.used()), (2 * one, 2 * one));
}
