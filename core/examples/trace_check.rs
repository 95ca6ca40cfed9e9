//! Checks that pruning the files of the guard search changes no code fact, and times both,
//! on the tree of a real repository: `cargo run --release -p fleetscan-core --example
//! trace_check DIR...`, each DIR a checkout (or `git archive`) of one repository. Runs the
//! search as the worker does (patch files, rounds of callers, option definitions, services'
//! modules), once with caller files pruned and once parsed whole; prints one line per
//! repository and exits 1 when any differs.

use std::collections::BTreeMap;

use fleetscan_core::code::facts::CodeFacts;
use fleetscan_core::code::services::from_setup_cfg;
use fleetscan_core::code::trace::{may_call, Tracer};
use fleetscan_core::code::{is_production_python, may_import_optionally};

fn trace(files: &BTreeMap<String, Vec<u8>>, setup_cfg: &str, prune: bool) -> CodeFacts {
    let mut t = Tracer::new();
    for (p, src) in files.iter().filter(|(p, _)| is_production_python(p)) {
        let text = String::from_utf8_lossy(src);
        if text.contains("monkey_patch")
            || (text.contains("eventlet") && may_import_optionally(src))
        {
            if prune {
                t.add_calling(p, src, &Default::default());
            } else {
                t.add(p, src);
            }
        }
    }
    for _ in 0..4 {
        let names = t.wanted();
        if names.is_empty() || names.len() > 64 {
            break;
        }
        for (p, src) in files.iter().filter(|(p, _)| is_production_python(p)) {
            if names.iter().any(|n| may_call(src, n)) {
                if prune {
                    t.add_calling(p, src, &names);
                } else {
                    t.add(p, src);
                }
            }
        }
        t.searched(&names);
    }
    for name in t.option_names() {
        let q = [format!("'{name}'"), format!("\"{name}\"")];
        for (p, src) in files.iter().filter(|(p, _)| is_production_python(p)) {
            if q.iter()
                .any(|q| memchr::memmem::find(src, q.as_bytes()).is_some())
            {
                t.add(p, src);
            }
        }
    }
    let declared = from_setup_cfg("setup.cfg", setup_cfg);
    for d in &declared {
        for f in Tracer::service_files(d) {
            if let Some(src) = files.get(&f) {
                t.add(&f, src);
            }
        }
    }
    t.finish(&declared, is_production_python, false)
}

fn main() {
    let mut differ = 0;
    for dir in std::env::args().skip(1) {
        let root = std::path::PathBuf::from(&dir);
        let mut files = BTreeMap::new();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(d).expect("readable directory") {
                let p = e.expect("entry").path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "py") {
                    let rel = p.strip_prefix(&root).unwrap().display().to_string();
                    files.insert(rel, std::fs::read(&p).expect("readable file"));
                }
            }
        }
        let setup = std::fs::read_to_string(root.join("setup.cfg")).unwrap_or_default();
        let t = std::time::Instant::now();
        let whole = trace(&files, &setup, false);
        let whole_t = t.elapsed();
        let t = std::time::Instant::now();
        let pruned = trace(&files, &setup, true);
        let pruned_t = t.elapsed();
        let same = whole == pruned;
        differ += usize::from(!same);
        println!(
            "{dir}: whole {whole_t:?}, pruned {pruned_t:?}, {} patch calls, {}",
            whole.patches.len(),
            if same { "same facts" } else { "FACTS DIFFER" }
        );
        if !same {
            println!("  whole  {whole:?}\n  pruned {pruned:?}");
        }
    }
    std::process::exit(i32::from(differ > 0));
}
