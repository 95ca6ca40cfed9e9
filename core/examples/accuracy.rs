//! Prints, as Markdown, how a profile classifies a labelled set of occurrence lines.
//!
//! ```sh
//! cargo run -q -p fleetscan-core --example accuracy -- [LABELLED.tsv] [PROFILE.toml]
//! ```
//!
//! Defaults: `tests/testdata/labelled.tsv` and the built-in Eventlet profile. Used by
//! `tests/bench/accuracy.sh`; the floor is asserted by the `labelled` unit test.

use std::process::ExitCode;

use fleetscan_core::labelled;
use fleetscan_core::profile::Profile;

fn pct(n: usize, d: usize) -> String {
    if d == 0 {
        "–".into()
    } else {
        format!("{:.1} %", 100.0 * n as f64 / d as f64)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let set = args
        .first()
        .cloned()
        .unwrap_or_else(|| "tests/testdata/labelled.tsv".into());
    let profile = match args.get(1) {
        None => Profile::eventlet(),
        Some(p) => {
            let text = match std::fs::read_to_string(p) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("accuracy: {p}: {e}");
                    return ExitCode::from(2);
                }
            };
            match Profile::from_toml(p, &text) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("accuracy: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    let rows = match std::fs::read_to_string(&set)
        .map_err(|e| e.to_string())
        .and_then(|t| labelled::parse(&t).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("accuracy: {set}: {e}");
            return ExitCode::from(2);
        }
    };
    let ev = labelled::evaluate(&profile, &rows);

    println!("Labelled set `{set}`, profile `{}`.", profile.name);
    println!();
    println!("| measure | correct | rows | accuracy |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| categories (exact set) | {} | {} | {} |",
        ev.categories_correct,
        ev.total,
        pct(ev.categories_correct, ev.total)
    );
    println!(
        "| rules (exact set) | {} | {} | {} |",
        ev.rules_correct,
        ev.total,
        pct(ev.rules_correct, ev.total)
    );

    println!();
    println!("| path class | rows | categories correct | accuracy |");
    println!("| --- | ---: | ---: | ---: |");
    for (class, (ok, n)) in &ev.per_class {
        println!("| {class} | {n} | {ok} | {} |", pct(*ok, *n));
    }

    println!();
    println!("| rule | true positives | false positives | false negatives | precision | recall |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (rule, (tp, fp, fn_)) in &ev.per_rule {
        println!(
            "| `{rule}` | {tp} | {fp} | {fn_} | {} | {} |",
            pct(*tp, tp + fp),
            pct(*tp, tp + fn_)
        );
    }

    let cell = |s: &str| s.replace('|', "\\|");
    let dash = |s: &str| {
        if s.is_empty() {
            "–".to_string()
        } else {
            s.to_string()
        }
    };
    for (title, rows) in [
        ("Rows with wrong categories", &ev.misses),
        ("Rows with wrong rules", &ev.rule_misses),
    ] {
        if rows.is_empty() {
            continue;
        }
        println!();
        println!("{title}:");
        println!();
        println!("| path | text | expected | got |");
        println!("| --- | --- | --- | --- |");
        for (path, text, want, got) in rows {
            println!(
                "| `{}` | `{}` | {} | {} |",
                cell(path),
                cell(text),
                dash(want),
                dash(got)
            );
        }
    }
    ExitCode::SUCCESS
}
