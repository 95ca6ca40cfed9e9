//! Checks that leaving functions out before parsing changes no fact, and times both, over
//! the Python files under a directory: `cargo run --release -p fleetscan-core --example
//! prune_check DIR [PATTERN]`. `tests/bench/prune-check.sh` feeds it real repositories.
//! Prints one line per file whose facts differ, then a summary; exits 1 on any difference.

use fleetscan_core::code::python::{extract, extract_whole};
use fleetscan_core::matcher::{MatchOptions, Matcher};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: prune_check DIR [PATTERN]");
    let pattern = args.next().unwrap_or_else(|| "eventlet".into());
    let m = Matcher::new(&MatchOptions::new([pattern])).expect("pattern");
    let mut files = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(&dir)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).expect("readable directory") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p)
            } else {
                files.push(p)
            }
        }
    }
    files.sort();
    let mut input = Vec::new();
    for p in files {
        let src = std::fs::read(&p).expect("readable file");
        let lines: Vec<u32> = m.lines(&src).into_iter().map(|(l, _)| l).collect();
        if !lines.is_empty() {
            input.push((p.display().to_string(), src, lines));
        }
    }
    let is_match = |s: &str| m.is_match(s);
    let (mut whole_t, mut pruned_t) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    let (mut differ, mut bytes) = (0, 0);
    for (p, src, lines) in &input {
        let t = std::time::Instant::now();
        let a = extract_whole(p, src, lines, &is_match);
        whole_t += t.elapsed();
        let t = std::time::Instant::now();
        let b = extract(p, src, lines, &is_match);
        pruned_t += t.elapsed();
        if std::env::var_os("PRUNE_CHECK_TIMES").is_some() {
            println!("time {:?} {} {p}", t.elapsed(), src.len());
        }
        bytes += src.len();
        // A syntax error in a function left out is not seen: the pruned parse may succeed
        // where the whole one failed, which only gives more lines their role.
        if a != b && a.parsed {
            differ += 1;
            println!("differs: {p}");
            for (x, y) in a.lines.iter().zip(&b.lines) {
                if x != y {
                    println!("  whole  {x:?}\n  pruned {y:?}");
                }
            }
            if a.related != b.related {
                println!(
                    "  related: {} whole, {} pruned",
                    a.related.len(),
                    b.related.len()
                );
            }
        }
    }
    println!(
        "{} files, {:.1} MB: whole parse {:?}, pruned {:?}; {differ} differ",
        input.len(),
        bytes as f64 / 1e6,
        whole_t,
        pruned_t
    );
    std::process::exit(i32::from(differ > 0));
}
