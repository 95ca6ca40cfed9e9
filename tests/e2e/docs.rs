//! `fleetscan completions` and `fleetscan man`, read by the real shell and the real roff
//! formatter.

use std::process::{Command, Output};

fn fleetscan(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_fleetscan"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fleetscan {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The subcommand names, read from `fleetscan --help`.
fn subcommands() -> Vec<String> {
    let help = String::from_utf8(fleetscan(&["--help"]).stdout).unwrap();
    let section = help.split("Commands:").nth(1).expect("a Commands section");
    let names: Vec<String> = section
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|n| n != "help")
        .collect();
    assert!(names.len() >= 12, "{names:?}");
    names
}

#[test]
fn bash_loads_the_completion_script_and_completes_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fleetscan.bash");
    std::fs::write(&script, fleetscan(&["completions", "bash"]).stdout).unwrap();
    // Source it, then ask the completion function what follows `fleetscan `.
    let probe = format!(
        "set -e; source {}; COMP_WORDS=(fleetscan ''); COMP_CWORD=1; COMP_LINE='fleetscan '; COMP_POINT=10; _fleetscan fleetscan '' fleetscan; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let offered = String::from_utf8(out.stdout).unwrap();
    let offered: Vec<&str> = offered.lines().collect();
    for s in subcommands() {
        assert!(offered.contains(&s.as_str()), "bash does not offer {s}");
    }
}

#[test]
fn zsh_and_fish_scripts_name_every_subcommand() {
    for shell in ["zsh", "fish"] {
        let text = String::from_utf8(fleetscan(&["completions", shell]).stdout).unwrap();
        for s in subcommands() {
            assert!(text.contains(&s), "{shell} lacks {s}");
        }
    }
}

#[test]
fn man_pages_format_without_warnings_one_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man");
    fleetscan(&["man", "--out", out.to_str().unwrap()]);
    let mut pages = vec!["fleetscan.1".to_string()];
    pages.extend(subcommands().iter().map(|s| format!("fleetscan-{s}.1")));
    for page in pages {
        let path = out.join(&page);
        assert!(path.exists(), "{page} missing");
        let g = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(&path)
            .output()
            .expect("groff (Debian package groff-base; .ci/run installs it)");
        assert!(g.status.success(), "{page}");
        assert_eq!(String::from_utf8_lossy(&g.stderr), "", "{page}");
    }
    let top = String::from_utf8(fleetscan(&["man"]).stdout).unwrap();
    assert!(top.contains("\n.TH fleetscan 1 "), "{top}");
    assert!(top.contains("completions"));
}

/// `--help` said exit 2 meant usage or input errors and put failed writes under 3, while report
/// files that cannot be written exit 2 (`a_report_that_cannot_be_written_costs_only_that_report`).
#[test]
fn help_puts_unwritable_reports_under_exit_2() {
    for args in [&["--help"][..], &["scan", "--help"], &["report", "--help"]] {
        let help = String::from_utf8(fleetscan(args).stdout).unwrap();
        let codes = help
            .split("Exit codes:")
            .nth(1)
            .expect("an exit code section");
        let two = codes
            .split("\n  2 ")
            .nth(1)
            .and_then(|s| s.split("\n  3 ").next())
            .unwrap_or_else(|| panic!("{args:?}: {codes}"));
        assert!(two.contains("could not be written"), "{args:?}: {two}");
        let three = codes.split("\n  3 ").nth(1).unwrap();
        assert!(!three.contains("write"), "{args:?}: {three}");
    }
}
