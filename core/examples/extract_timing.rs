//! Times tree-sitter parsing alone against the full extraction of `fleetscan_core::code`
//! over the Python files under a directory: `cargo run --release -p fleetscan-core --example
//! extract_timing DIR`. BENCHMARKS.md ("Cost of the second pass") uses it.

fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let mut files = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(&dir)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else {
                files.push(p)
            }
        }
    }
    let srcs: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|p| (p.display().to_string(), std::fs::read(p).unwrap()))
        .collect();
    let t = std::time::Instant::now();
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .unwrap();
    for (_, s) in &srcs {
        parser.parse(s, None).unwrap();
    }
    println!("parse only: {:?} for {} files", t.elapsed(), srcs.len());
    let t = std::time::Instant::now();
    for (p, s) in &srcs {
        fleetscan_core::code::switches::extract(p, s);
    }
    println!("extract: {:?}", t.elapsed());
}
