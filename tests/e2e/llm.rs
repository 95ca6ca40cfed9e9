//! `fleetscan scan --llm-url` end to end: the generated corpus served by a real git daemon,
//! the real binary, and a stub model server on loopback (no model can run here).

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use fleetscan_tests::{
    read, report_files, strip_narratives, ModelStub, Reply, Request, Sandbox,
    NARRATIVE_HEADING as HEADING,
};
use serde_json::json;

const MODEL: &str = "stub-model:1b";
/// A file the stub's replies name and no repository of the corpus has.
const INVENTED: &str = "compute/virt/libvirt_driver.py";

fn sandbox() -> Sandbox {
    Sandbox::new(env!("CARGO_BIN_EXE_fleetscan"))
}

/// Two served repositories, so that a scan of them alone exits 0.
fn two_repos() -> Vec<String> {
    vec!["openstack/compute".into(), "openstack/storage".into()]
}

/// `fleetscan scan` of `repos`, warnings logged, and no proxy between the binary and the stub.
fn command(sb: &Sandbox, out: &str, repos: &[String]) -> Command {
    let mut cmd = sb.command(out, repos);
    for var in [
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("FLEETSCAN_LOG", "warn");
    cmd
}

fn scan(sb: &Sandbox, out: &str, repos: &[String], extra: &[&str]) -> Output {
    command(sb, out, repos).args(extra).output().unwrap()
}

/// Scans `repos` into `plain` without a model, then into `llm` with the stub at `url` and
/// `extra` flags.
fn scan_without_and_with(
    sb: &Sandbox,
    repos: &[String],
    url: &str,
    extra: &[&str],
) -> (Output, Output) {
    let plain = scan(sb, "plain", repos, &[]);
    let mut args = vec!["--llm-url", url, "--llm-model", MODEL];
    args.extend_from_slice(extra);
    (plain, scan(sb, "llm", repos, &args))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The first `path#Lline` a prompt cites: a real occurrence for the reply to name.
fn first_citation(prompt: &str) -> String {
    prompt
        .split('`')
        .find(|s| s.contains("#L"))
        .unwrap_or_else(|| panic!("no citation in the prompt:\n{prompt}"))
        .to_string()
}

/// The stub's answer: one real occurrence, in backticks, and one invented file, bare.
fn reply_text(prompt: &str) -> String {
    format!(
        "It patches the runtime at `{}`; the driver in {INVENTED}, is the hard part.",
        first_citation(prompt)
    )
}

/// Both scans exited 0, each of the two projects was asked `attempts` times, and the model's
/// failure left a warning and the very same reports.
fn assert_failure_changed_nothing(
    sb: &Sandbox,
    stub: &ModelStub,
    scans: (Output, Output),
    attempts: usize,
) {
    let (plain, llm) = scans;
    assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));
    assert_eq!(llm.status.code(), Some(0), "{}", stderr(&llm));
    assert_eq!(stub.requests().len(), 2 * attempts);
    for f in report_files(&sb.path("plain")) {
        assert_eq!(
            read(&sb.path("plain").join(&f)),
            read(&sb.path("llm").join(&f)),
            "{f}"
        );
    }
    assert!(stderr(&llm).contains("no narrative"), "{}", stderr(&llm));
}

#[test]
fn ollama_narratives_are_marked_generated_and_leave_the_grounded_report_unchanged() {
    let sb = sandbox();
    let stub = ModelStub::start(|r: &Request| {
        Reply::ollama(&reply_text(r.json()["prompt"].as_str().unwrap()))
    });
    let (plain, llm) =
        scan_without_and_with(&sb, &sb.all_repos(), &stub.url(), &["--llm-timeout", "10"]);
    // The corpus has repositories that fail, so both exit 1: the model changes nothing there.
    assert_eq!(plain.status.code(), Some(1), "{}", stderr(&plain));
    assert_eq!(llm.status.code(), Some(1), "{}", stderr(&llm));
    assert!(!stderr(&llm).contains("no narrative"), "{}", stderr(&llm));

    // One request per analysed project with occurrences, in Ollama's shape.
    let files = report_files(&sb.path("plain"));
    let teams: Vec<&String> = files.iter().filter(|f| f.starts_with("teams/")).collect();
    let projects: usize = teams
        .iter()
        .map(|f| {
            read(&sb.path("plain").join(f))
                .matches("\n## Project: ")
                .count()
        })
        .sum();
    let requests = stub.requests();
    assert!(projects > 20, "{projects}");
    assert_eq!(requests.len(), projects);
    for r in &requests {
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/api/generate")
        );
        let body = r.json();
        assert_eq!(
            (&body["model"], &body["stream"]),
            (&json!(MODEL), &json!(false))
        );
    }

    // The model is given the grounded findings.
    let storage = requests
        .iter()
        .map(|r| r.json()["prompt"].as_str().unwrap().to_string())
        .find(|p| p.contains("repository openstack/storage "))
        .expect("a prompt for openstack/storage");
    for needle in [
        "Is Eventlet globally deactivable: No. 1 of 1 `monkey_patch` call in production code runs with no switch guarding it",
        "- `storage/__init__.py#L3`: eventlet.monkey_patch()  # noqa",
        "- `sync_primitives` (Event / Semaphore / Queue) in production code: 3 distinct call sites x 3: 9.0",
        "- `sync_primitives` (Timeout) in production code: 1 distinct call site x 3: 3.0",
        "13 occurrences: 11 in production code (4 files)",
        "- Deferred Tasks and Scheduling: 4",
        "- `storage/backup/manager.py` (production)",
        "    - `storage/hub.py#L3`: eventlet.hubs.use_hub('poll')",
    ] {
        assert!(storage.contains(needle), "{needle:?} not in:\n{storage}");
    }

    // Every team file is the same once its narratives are cut out, and has one per project;
    // the other files are the same.
    for f in &files {
        let (a, b) = (
            read(&sb.path("plain").join(f)),
            read(&sb.path("llm").join(f)),
        );
        if !f.starts_with("teams/") {
            assert_eq!(a, b, "{f}");
            continue;
        }
        assert_eq!(strip_narratives(&b), a, "{f} changed beyond its narratives");
        assert_eq!(
            b.matches(HEADING).count(),
            a.matches("\n## Project: ").count(),
            "{f}: one narrative per project"
        );
    }

    // Marked as generated; the real path stands, the invented one is flagged and listed.
    let team = read(&sb.path("llm/teams/Storage.md"));
    let section = &team[team.find("## Project: storage").unwrap()..];
    let section = &section[..section.find("\nOccurrences Found:").unwrap()];
    let expected = format!(
        "\n### Narrative (generated by `{MODEL}`)\n\n\
         *Written by a language model from the findings above; not part of the grounded analysis. \
         Paths it names that are not occurrences of this project are marked **(unverified path)**.*\n\n\
         > It patches the runtime at `storage/__init__.py#L3`; the driver in {INVENTED} **(unverified path)**, is the hard part.\n\n\
         Unverified paths: `{INVENTED}`\n"
    );
    assert!(section.ends_with(&expected), "{section}");
}

#[test]
fn openai_compatible_servers_get_the_custom_prompt_at_chat_completions() {
    let sb = sandbox();
    let stub = ModelStub::start(|r: &Request| {
        Reply::openai(&reply_text(
            r.json()["messages"][0]["content"].as_str().unwrap(),
        ))
    });
    let prompt = sb.path("prompt.txt");
    std::fs::write(
        &prompt,
        "Project {project}: {verdict}, {score}/10.\n{evidence}\n",
    )
    .unwrap();
    let url = format!("{}/v1", stub.url());
    let out = command(&sb, "llm", &two_repos())
        .args([
            "--llm-url",
            &url,
            "--llm-model",
            MODEL,
            "--llm-timeout",
            "10",
        ])
        .arg("--llm-prompt")
        .arg(&prompt)
        .env("FLEETSCAN_LLM_API_KEY", "sk-stub")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let requests = stub.requests();
    assert_eq!(requests.len(), 2);
    let mut prompts = Vec::new();
    for r in &requests {
        assert_eq!(r.path, "/v1/chat/completions");
        assert_eq!(r.header("authorization"), Some("Bearer sk-stub"));
        let body = r.json();
        assert_eq!(
            (&body["model"], &body["messages"][0]["role"]),
            (&json!(MODEL), &json!("user"))
        );
        prompts.push(body["messages"][0]["content"].as_str().unwrap().to_string());
    }
    prompts.sort();
    assert!(prompts[1].starts_with("Project storage: No, 4/10.\n- `storage/__init__.py#L3`: eventlet.monkey_patch()  # noqa\n"), "{}", prompts[1]);

    let team = read(&sb.path("llm/teams/Storage.md"));
    assert!(
        team.contains(&format!("### Narrative (generated by `{MODEL}`)")),
        "{team}"
    );
    assert!(
        team.contains("> It patches the runtime at `storage/__init__.py#L3`;"),
        "{team}"
    );
    assert!(read(&sb.path("llm/teams/Compute.md")).contains(HEADING));
}

#[test]
fn a_failing_model_server_leaves_complete_reports_and_exit_code_0() {
    let sb = sandbox();
    let stub = ModelStub::start(|_: &Request| Reply::Json(500, json!({"error": "model crashed"})));
    let scans = scan_without_and_with(&sb, &two_repos(), &stub.url(), &["--llm-retries", "1"]);
    assert!(
        stderr(&scans.1).contains("model crashed"),
        "{}",
        stderr(&scans.1)
    );
    assert_failure_changed_nothing(&sb, &stub, scans, 2);
}

#[test]
fn a_hanging_model_server_is_cut_off_by_the_timeout() {
    let sb = sandbox();
    let stub = ModelStub::start(|_: &Request| Reply::Hang);
    let t0 = Instant::now();
    let scans = scan_without_and_with(
        &sb,
        &two_repos(),
        &stub.url(),
        &["--llm-timeout", "1", "--llm-retries", "0"],
    );
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    assert_failure_changed_nothing(&sb, &stub, scans, 1);
}

#[test]
fn bad_llm_flags_are_input_errors_before_any_scan() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "Explain {findngs}").unwrap();
    let bad = bad.to_string_lossy();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_fleetscan"))
            .args(["scan", "--pattern", "eventlet", "--repo", "openstack/nova"])
            .args(["--git-base", "git://127.0.0.1:1/"])
            .args(extra)
            .env("FLEETSCAN_LOG", "error")
            .output()
            .unwrap()
    };
    for (extra, needle) in [
        (
            vec![
                "--llm-url",
                "http://127.0.0.1:1",
                "--llm-model",
                "m",
                "--llm-prompt",
                &bad,
            ],
            "{findngs}",
        ),
        (vec!["--llm-url", "http://127.0.0.1:1"], "--llm-model"),
        (
            vec!["--llm-url", "127.0.0.1:11434", "--llm-model", "m"],
            "http://",
        ),
    ] {
        let out = run(&extra);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(
            err.contains(needle) && !err.contains("unreachable"),
            "{extra:?}: {err}"
        );
    }
}
