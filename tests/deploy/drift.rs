//! The manifests in deploy/ and the binaries must not drift apart: every `FLEETSCAN_*`
//! variable a manifest sets and every `--flag` it passes must exist in some `--help`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_fleetscan");

fn help(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "fleetscan {args:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

fn yaml_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
}

/// True when `text` names `var` as a whole word (FLEETSCAN_LOG is not FLEETSCAN_LOG_FORMAT).
fn mentions(text: &str, var: &str) -> bool {
    text.match_indices(var).any(|(i, _)| {
        !text[i + var.len()..].starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
    })
}

#[test]
fn manifest_flags_and_env_vars_exist_in_the_binaries() {
    let mut all_help = help(&[]);
    for sub in [
        "scan",
        "submit",
        "watch",
        "status",
        "list",
        "cancel",
        "report",
        "coordinator",
        "worker",
    ] {
        all_help.push_str(&help(&[sub]));
    }
    let deploy = fleetscan_tests::tests_dir().join("../deploy");
    let mut files = Vec::new();
    yaml_files(&deploy, &mut files);
    assert!(files.len() > 5, "manifests found: {files:?}");
    let (mut envs, mut flags) = (BTreeSet::new(), BTreeSet::new());
    for f in &files {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            let t = line.trim();
            if let Some(name) = t
                .strip_prefix("- name: ")
                .or_else(|| t.strip_prefix("name: "))
            {
                if name.starts_with("FLEETSCAN_") {
                    envs.insert((name.to_string(), f.clone()));
                }
            }
            if let Some(arg) = t.strip_prefix("- ") {
                let arg = arg.trim_matches('"');
                if arg.starts_with("--") {
                    let flag = arg.split('=').next().unwrap();
                    flags.insert((flag.to_string(), f.clone()));
                }
            }
        }
    }
    assert!(envs.len() >= 8 && !flags.is_empty(), "{envs:?} {flags:?}");
    for (env, f) in &envs {
        assert!(
            mentions(&all_help, env),
            "{} sets {env}, which no fleetscan command reads",
            f.display()
        );
    }
    for (flag, f) in &flags {
        let as_flag = format!("{flag} ");
        let as_flag_end = format!("{flag}\n");
        assert!(
            all_help.contains(&as_flag) || all_help.contains(&as_flag_end),
            "{} passes {flag}, which no fleetscan command takes",
            f.display()
        );
    }
}
