//! The shapes projects guard their patching with, as small made-up packages.

use super::facts::{CodeFacts, ServicePatching, SwitchKind};
use super::services::from_setup_cfg;
use super::trace::{may_call, Tracer};
use super::*;

/// Runs the tracer as the worker does: the files with a patch call first, then the files
/// that may call the names it asks for, then option definitions and services' modules. Every
/// scenario runs twice, with the caller files pruned as the worker prunes them and parsed
/// whole, and both must give the same facts.
fn trace(files: &[(&str, &str)], setup_cfg: &str) -> CodeFacts {
    let pruned = trace_with(files, setup_cfg, true);
    assert_eq!(
        pruned,
        trace_with(files, setup_cfg, false),
        "pruned against whole"
    );
    pruned
}

fn trace_with(files: &[(&str, &str)], setup_cfg: &str, prune: bool) -> CodeFacts {
    let mut t = Tracer::new();
    for (p, src) in files {
        if src.contains("monkey_patch") && is_production_python(p) {
            if prune {
                t.add_calling(p, src.as_bytes(), &Default::default());
            } else {
                t.add(p, src.as_bytes());
            }
        }
    }
    for _ in 0..4 {
        let names = t.wanted();
        if names.is_empty() {
            break;
        }
        for (p, src) in files.iter().filter(|(p, _)| is_production_python(p)) {
            if names.iter().any(|n| may_call(src.as_bytes(), n)) {
                if prune {
                    t.add_calling(p, src.as_bytes(), &names);
                } else {
                    t.add(p, src.as_bytes());
                }
            }
        }
        t.searched(&names);
    }
    for name in t.option_names() {
        for (p, src) in files {
            if src.contains(&format!("'{name}'")) || src.contains(&format!("\"{name}\"")) {
                t.add(p, src.as_bytes());
            }
        }
    }
    let declared = from_setup_cfg("setup.cfg", setup_cfg);
    for d in &declared {
        for f in Tracer::service_files(d) {
            if let Some((p, src)) = files.iter().find(|(p, _)| *p == f) {
                t.add(p, src.as_bytes());
            }
        }
    }
    t.finish(&declared, is_production_python, false)
}

const CONF_BASE: &str = r#"from oslo_config import cfg

concurrency_opts = [
    cfg.StrOpt('concurrency_mode',
               default='auto',
               choices=['auto', 'threading', 'eventlet'],
               help='Which concurrency model to run with.'),
]
"#;

const MONKEY: &str = r#"import os

from oslo_config import cfg

CONF = cfg.CONF
PATCHED = False


def _monkey_patch():
    import eventlet
    eventlet.monkey_patch()
    return True


def _from_config():
    return CONF.concurrency_mode


def patch(default='eventlet'):
    """Patch unless told otherwise."""
    env = os.environ.get('OS_SVC_DISABLE_EVENTLET_PATCHING', '').lower()
    if env == '':
        mode = _from_config()
        if mode == 'threading':
            do_patch = False
        elif mode == 'eventlet':
            do_patch = True
        else:
            do_patch = default == 'eventlet'
    elif env in ('1', 'true'):
        do_patch = False
    else:
        do_patch = True
    if do_patch:
        if _monkey_patch():
            global PATCHED
            PATCHED = True
"#;

const SETUP_CFG: &str = "[entry_points]\nconsole_scripts =\n    svc-api = svc.cmd.api:main\n    svc-agent = svc.cmd.agent:main\n";

#[test]
fn a_switch_in_the_caller_with_an_option_defined_elsewhere_guards_the_patch() {
    let f = trace(
        &[
            ("svc/conf/base.py", CONF_BASE),
            ("svc/monkey.py", MONKEY),
            (
                "svc/cmd/api.py",
                "from svc import monkey; monkey.patch()\n\ndef main():\n    pass\n",
            ),
            (
                "svc/cmd/agent.py",
                "from svc import monkey\nmonkey.patch(default='threading')\n\ndef main():\n    pass\n",
            ),
            ("svc/tests/test_monkey.py", "from svc import monkey\nmonkey._monkey_patch()\n"),
        ],
        SETUP_CFG,
    );
    assert_eq!(f.patches.len(), 1, "{f:#?}");
    let p = &f.patches[0];
    assert_eq!((p.site.path.as_str(), p.site.line), ("svc/monkey.py", 11));
    assert_eq!(p.function.as_deref(), Some("_monkey_patch"));
    assert!(p.guarded, "{p:#?}");
    let env = p
        .switches
        .iter()
        .find(|s| s.kind == SwitchKind::Env)
        .unwrap();
    assert_eq!(env.name, "OS_SVC_DISABLE_EVENTLET_PATCHING");
    assert_eq!((env.read.line, env.default.as_deref()), (21, Some("''")));
    let opt = p
        .switches
        .iter()
        .find(|s| s.kind == SwitchKind::Option)
        .unwrap();
    assert_eq!(opt.name, "concurrency_mode");
    assert_eq!(opt.read.line, 16);
    assert_eq!(opt.default.as_deref(), Some("'auto'"));
    assert_eq!(
        opt.choices.as_deref(),
        Some("['auto', 'threading', 'eventlet']")
    );
    let def = opt.defined.as_ref().unwrap();
    assert_eq!((def.path.as_str(), def.line), ("svc/conf/base.py", 4));
    assert_eq!(p.guards[0].text, "if do_patch:");
    // The test file's direct call is not production code and not a caller of patch().
    assert!(p.callers.iter().all(|c| !c.path.contains("tests")));
    let svc: Vec<_> = f
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.patching))
        .collect();
    assert_eq!(
        svc,
        vec![
            ("svc-api", ServicePatching::Switchable),
            ("svc-agent", ServicePatching::Switchable)
        ]
    );
    assert_eq!(f.services[0].via.as_ref().unwrap().line, 1);
}

#[test]
fn a_guard_two_callers_up_counts_and_an_unguarded_entry_does_not() {
    let patching = "import eventlet\n\n\ndef _do():\n    eventlet.monkey_patch(thread=False)\n\n\ndef middle():\n    _do()\n";
    let guarded = "import os\n\nfrom svc2 import patching\n\n\ndef main():\n    if not os.getenv('SVC2_NO_EVENTLET'):\n        patching.middle()\n";
    let f = trace(
        &[("svc2/patching.py", patching), ("svc2/cmd/api.py", guarded)],
        "",
    );
    let p = &f.patches[0];
    assert!(p.guarded, "{p:#?}");
    assert_eq!(p.switches[0].name, "SVC2_NO_EVENTLET");
    assert_eq!(p.switches[0].default, None);
    assert_eq!(p.guards[0].line, 7);
    assert_eq!(p.callers.len(), 2);
    // A second caller without the guard makes the same call reachable unguarded.
    let unguarded = "from svc2 import patching\n\n\ndef run():\n    patching.middle()\n";
    let f = trace(
        &[
            ("svc2/patching.py", patching),
            ("svc2/cmd/api.py", guarded),
            ("svc2/cmd/other.py", unguarded),
        ],
        "",
    );
    let p = &f.patches[0];
    assert!(!p.guarded);
    let path: Vec<(&str, u32)> = p
        .unguarded_path
        .iter()
        .map(|l| (l.path.as_str(), l.line))
        .collect();
    assert_eq!(
        path,
        vec![
            ("svc2/cmd/other.py", 5),
            ("svc2/patching.py", 9),
            ("svc2/patching.py", 5)
        ]
    );
}

#[test]
fn an_unguarded_module_level_patch_and_a_dns_setting_are_not_switches() {
    let init = "import os\n\nos.environ['EVENTLET_NO_GREENDNS'] = 'yes'\n\nimport eventlet\n\ndns = os.environ.get('EVENTLET_NO_GREENDNS', 'no')\neventlet.monkey_patch()\n";
    let f = trace(&[("svc3/cmd/__init__.py", init)], "");
    assert_eq!(f.patches.len(), 1);
    assert!(!f.patches[0].guarded);
    assert!(f.patches[0].switches.is_empty());
    assert_eq!(f.patches[0].unguarded_path[0].line, 8);
    // A guard that reads only the DNS setting would count: what matters is what decides the
    // call, not the name.
    let guarded = "import os\nimport eventlet\n\nif os.environ.get('EVENTLET_NO_GREENDNS') != 'yes':\n    eventlet.monkey_patch()\n";
    let f = trace(&[("svc3/cmd/__init__.py", guarded)], "");
    assert!(f.patches[0].guarded);
}

#[test]
fn only_eventlet_monkey_patch_counts_and_aliases_are_followed() {
    let src = "import eventlet as ev\nfrom eventlet import patcher\nfrom eventlet import monkey_patch\nfrom svc import utils\n\nev.monkey_patch()\npatcher.monkey_patch(all=False)\nmonkey_patch()\nutils.monkey_patch()\n";
    let code = switches::extract("svc/a.py", src.as_bytes());
    let lines: Vec<u32> = code
        .calls
        .iter()
        .filter(|c| c.patches)
        .map(|c| c.at.line)
        .collect();
    assert_eq!(lines, vec![6, 7, 8]);
}

/// The lines of `src` that import eventlet optionally.
fn optional_lines(src: &str) -> Vec<u32> {
    switches::extract("lib/a.py", src.as_bytes())
        .optional_imports
        .iter()
        .map(|l| l.line)
        .collect()
}

#[test]
fn optional_imports_need_a_fallback() {
    let with = "try:\n    import eventlet\n    from eventlet import greenio\nexcept ImportError:\n    eventlet = None\n";
    assert_eq!(optional_lines(with), vec![2, 3]);
    let probe =
        "from oslo_utils import importutils\n\neventlet = importutils.try_import('eventlet')\n";
    assert_eq!(optional_lines(probe), vec![3]);
    let nested = "try:\n    with warnings.catch_warnings():\n        import eventlet\nexcept ImportError:\n    eventlet = None\n";
    assert_eq!(optional_lines(nested), vec![3]);
    let loaded = "import sys\n\n\ndef fix():\n    if 'eventlet.patcher' in sys.modules:\n        import eventlet.green.threading\n";
    assert_eq!(optional_lines(loaded), vec![6]);
    let reraise = "try:\n    import eventlet\nexcept ImportError:\n    raise\n";
    assert!(optional_lines(reraise).is_empty());
    let other = "try:\n    import eventlet\nexcept ValueError:\n    pass\n";
    assert!(optional_lines(other).is_empty());
}

#[test]
fn a_helper_returning_a_literal_under_a_switch_is_a_switch() {
    let src = "import os\nimport eventlet\n\n\ndef _enabled():\n    if os.environ.get('SVC_EVENTLET', '').lower() in ('1', 'yes'):\n        return True\n    return False\n\n\ndef patch():\n    if _enabled():\n        eventlet.monkey_patch()\n";
    let f = trace(&[("svc/ev.py", src)], "");
    assert!(f.patches[0].guarded, "{f:#?}");
    assert_eq!(f.patches[0].switches[0].name, "SVC_EVENTLET");
}

#[test]
fn early_return_and_relative_imports() {
    let src = "import os\nimport eventlet\n\n\ndef go():\n    if os.environ.get('SVC_THREADING'):\n        return\n    eventlet.monkey_patch()\n";
    let code = switches::extract("svc/p.py", src.as_bytes());
    let c = code.calls.iter().find(|c| c.patches).unwrap();
    assert_eq!(c.guards.len(), 1);
    assert_eq!(c.guards[0].at.line, 6);
    let rel = switches::extract(
        "svc/cmd/api.py",
        b"from .. import monkey\nfrom . import x as y\n",
    );
    assert_eq!(rel.imports["monkey"], "svc.monkey");
    assert_eq!(rel.imports["y"], "svc.cmd.x");
}

#[test]
fn production_python_paths() {
    assert!(is_production_python("nova/monkey_patch.py"));
    assert!(!is_production_python("nova/tests/unit/test_a.py"));
    assert!(!is_production_python("tools/x.py"));
    assert!(!is_production_python("doc/source/conf.py"));
    assert!(!is_production_python("nova/a.txt"));
    assert!(may_call(b"x = patch()", "patch"));
    assert!(!may_call(b"x = mock_patch()", "patch"));
    assert!(may_call(b"monkey_patch.patch (\n)", "patch"));
    assert!(!may_call(b"self.send('patch', body)", "patch"));
    assert!(!may_call(b"atexit.register(patch)", "patch"));
}

#[test]
fn a_caller_file_is_pruned_to_what_leads_to_the_patch_and_read_again_for_new_names() {
    let patcher = "import eventlet\n\ndef patch():\n    eventlet.monkey_patch()\n";
    // `start` reaches `patch` through `serve`; `use_eventlet` decides through `backend`,
    // which reads the setting; `unrelated` is left out.
    let service = "import os\nfrom app import patcher\n\ndef unrelated():\n    return 1\n\n\
def backend():\n    return os.environ.get('APP_BACKEND', 'eventlet')\n\n\
def use_eventlet():\n    return backend() == 'eventlet'\n\n\
def serve():\n    if use_eventlet():\n        patcher.patch()\n\n\
def start():\n    serve()\n";
    let facts = trace(
        &[("app/patcher.py", patcher), ("app/service.py", service)],
        "",
    );
    let p = &facts.patches[0];
    assert!(p.guarded, "{p:?}");
    assert_eq!(p.switches[0].name, "APP_BACKEND");
    assert_eq!(p.switches[0].default.as_deref(), Some("'eventlet'"));
    // A file pruned for the first round's names is read again for the second's: `x` calls
    // `run`, which only the second round asks for.
    let a = "from app import b, patcher\n\ndef other():\n    patcher.patch()\n\ndef x():\n    b.run()\n";
    let b = "from app import patcher\n\ndef run():\n    patcher.patch()\n";
    let facts = trace(
        &[
            ("app/patcher.py", patcher),
            ("app/a.py", a),
            ("app/b.py", b),
        ],
        "",
    );
    assert!(
        facts.patches[0].callers.iter().any(|c| c.text == "b.run()"),
        "{:?}",
        facts.patches[0].callers
    );
}

#[test]
fn a_re_exported_eventlet_and_a_script_entry() {
    // A project module re-exporting eventlet is eventlet.
    let utils = "from svc.common.concurrency import (\n    eventlet, sleep\n)\n\n\ndef patch_all():\n    eventlet.patcher.monkey_patch(all=False, socket=True)\n";
    let code = switches::extract("svc/common/utils.py", utils.as_bytes());
    assert!(code.calls.iter().any(|c| c.patches && c.at.line == 7));
    // Patching only when the file runs as a script is a developer's tool, not a service.
    let tool = "import eventlet\n\n\ndef _main():\n    eventlet.monkey_patch(all=True)\n\n\nif __name__ == '__main__':\n    _main()\n";
    let f = trace(&[("svc/debug_tool.py", tool)], "");
    assert!(f.patches[0].script && !f.patches[0].guarded, "{f:#?}");
}
