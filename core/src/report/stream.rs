//! Rendering a scan without holding it: the report files are written piece by piece into a
//! [`Sink`], and when the [`Fleet`](super::Fleet) is an outline (every project without its
//! occurrences, see [`FleetBuilder::outline`](super::FleetBuilder::outline)) the renderers read
//! each project's full result from [`Results`] when they reach it, one at a time. So the
//! memory a render needs is the outline plus one project, whatever the number of occurrences;
//! the coordinator renders a scan of any size from its store this way. A fleet built with every
//! occurrence (the embedded scan) renders through the same code, never asking for results,
//! so both give the same bytes.

use crate::history::Day;
use crate::ids::RepoName;
use crate::result::RepoResult;

/// Where rendered files go. Files are written one after the other: every piece of a file,
/// then its [`Sink::end`], before the next file's first piece.
pub trait Sink<E> {
    /// Appends `data` to file `path` (relative, `/`-separated).
    fn write(&mut self, path: &str, data: &str) -> Result<(), E>;
    /// Ends file `path`: all of it was written. Called once per file, also for an empty one.
    fn end(&mut self, path: &str) -> Result<(), E>;
}

/// Where the full results of an outline's projects are read from.
pub trait Results<E> {
    /// Calls `f` with the full result of each of `repos`, in that order, or fails. A source
    /// that cannot give one of them fails: a report is never rendered with a project missing.
    fn each(
        &mut self,
        repos: &[RepoName],
        f: &mut dyn FnMut(RepoResult) -> Result<(), E>,
    ) -> Result<(), E>;

    /// Calls `f` with each of `repos` as it was at point `i` (`at`) of a history scan
    /// ([`super::history::at_point`]), in that order, leaving out those that did not exist
    /// then. By default from each full result; a source that keeps the points apart reads
    /// only the one asked for.
    fn each_at(
        &mut self,
        repos: &[RepoName],
        i: usize,
        at: Day,
        f: &mut dyn FnMut(RepoResult) -> Result<(), E>,
    ) -> Result<(), E> {
        self.each(repos, &mut |mut r| {
            let point = std::mem::take(&mut r.history).into_iter().nth(i);
            match super::history::at_point(&r, point, at) {
                Some(p) => f(p),
                None => Ok(()),
            }
        })
    }
}

/// The source of a fleet that holds every occurrence: never asked.
pub struct Held;

impl<E> Results<E> for Held {
    fn each(
        &mut self,
        repos: &[RepoName],
        _: &mut dyn FnMut(RepoResult) -> Result<(), E>,
    ) -> Result<(), E> {
        assert!(
            repos.is_empty(),
            "a fleet built with its occurrences reads none from a source"
        );
        Ok(())
    }
}

/// Bytes a file's writer gathers before it hands them to the sink.
const FLUSH: usize = 64 << 10;

/// One file being written: gathers text and hands it to the sink in pieces. It keeps the
/// trailing newlines of what it has been given until the end, so that a renderer can still
/// trim or test them ([`Out::ends_with`], [`Out::pop`]) after earlier text went out. The first
/// error of the sink is kept and returned by [`Out::finish`]; text after it is dropped.
pub(crate) struct Out<'s, E> {
    sink: &'s mut dyn Sink<E>,
    path: String,
    buf: String,
    error: Option<E>,
}

impl<'s, E> Out<'s, E> {
    /// Starts file `path`.
    pub(crate) fn new(sink: &'s mut dyn Sink<E>, path: impl Into<String>) -> Out<'s, E> {
        Out {
            sink,
            path: path.into(),
            buf: String::new(),
            error: None,
        }
    }

    pub(crate) fn push_str(&mut self, s: &str) {
        self.buf.push_str(s);
        if self.buf.len() >= FLUSH {
            self.flush();
        }
    }

    pub(crate) fn push(&mut self, c: char) {
        self.buf.push(c);
    }

    /// Whether the text so far ends with `tail`, a run of newlines (what is kept back).
    pub(crate) fn ends_with(&self, tail: &str) -> bool {
        debug_assert!(tail.bytes().all(|b| b == b'\n'));
        self.buf.ends_with(tail)
    }

    /// Takes back the last character, a kept-back newline.
    pub(crate) fn pop(&mut self) -> Option<char> {
        self.buf.pop()
    }

    /// Hands the sink everything but the trailing newlines.
    fn flush(&mut self) {
        let keep = self.buf.trim_end_matches('\n').len();
        if keep == 0 {
            return;
        }
        if self.error.is_none() {
            if let Err(e) = self.sink.write(&self.path, &self.buf[..keep]) {
                self.error = Some(e);
            }
        }
        self.buf.drain(..keep);
    }

    /// Ends the file.
    pub(crate) fn finish(mut self) -> Result<(), E> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if !self.buf.is_empty() {
            self.sink.write(&self.path, &self.buf)?;
        }
        self.sink.end(&self.path)
    }
}

impl<E> std::fmt::Write for Out<'_, E> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

/// Writes a whole file at once.
pub(crate) fn whole<E>(sink: &mut dyn Sink<E>, path: &str, contents: &str) -> Result<(), E> {
    let mut out = Out::new(sink, path);
    out.push_str(contents);
    out.finish()
}

/// What `render` writes into one file, as a string (for tests).
#[cfg(test)]
pub(crate) fn to_string(
    render: impl FnOnce(Out<'_, std::convert::Infallible>) -> Result<(), std::convert::Infallible>,
) -> String {
    let mut files = Files::default();
    let Ok(()) = render(Out::new(&mut files, "f"));
    files.0.pop().map(|f| f.contents).unwrap_or_default()
}

/// The files written into memory: what [`super::render`] returns.
#[derive(Default)]
pub(crate) struct Files(pub(crate) Vec<super::ReportFile>);

impl Sink<std::convert::Infallible> for Files {
    fn write(&mut self, path: &str, data: &str) -> Result<(), std::convert::Infallible> {
        match self.0.last_mut() {
            Some(f) if f.path == path => f.contents.push_str(data),
            _ => self.0.push(super::ReportFile {
                path: path.to_string(),
                contents: data.to_string(),
            }),
        }
        Ok(())
    }

    fn end(&mut self, path: &str) -> Result<(), std::convert::Infallible> {
        if self.0.last().is_none_or(|f| f.path != path) {
            self.0.push(super::ReportFile {
                path: path.to_string(),
                contents: String::new(),
            });
        }
        Ok(())
    }
}

/// Pretty JSON (as `serde_json::to_string_pretty` writes it) whose large arrays and objects
/// are written an element at a time. The document is rendered with a marker string in place
/// of each streamed value; [`Pretty::split`] cuts it there.
pub(crate) mod pretty {
    use serde_json::Value;

    /// The marker standing for streamed value `i`. A control character, so that it is written
    /// escaped (`\u0001`) and no string from a repository can look like it once written.
    pub(crate) fn marker(i: usize) -> Value {
        Value::String(format!("\u{1}fleetscan-stream-{i}\u{1}"))
    }

    /// Cuts a pretty document at its markers, in order: the text around them, and for each
    /// marker the indentation of the line it is on.
    pub(crate) fn split(doc: &str, markers: usize) -> Vec<(String, usize)> {
        let mut parts = Vec::new();
        let mut rest = doc;
        for i in 0..markers {
            let m = serde_json::to_string(&marker(i)).expect("a string");
            let at = rest.find(&m).expect("the marker is in the document");
            let line_start = rest[..at].rfind('\n').map_or(0, |n| n + 1);
            let indent = rest[line_start..]
                .bytes()
                .take_while(|b| *b == b' ')
                .count();
            parts.push((rest[..at].to_string(), indent));
            rest = &rest[at + m.len()..];
        }
        parts.push((rest.to_string(), 0));
        parts
    }

    /// A value written as an element of a container whose members sit at `indent` + 2:
    /// its first line as is, the following ones indented.
    pub(crate) fn nested(v: &Value, indent: usize) -> String {
        let s = serde_json::to_string_pretty(v).expect("json");
        let pad = " ".repeat(indent + 2);
        s.replace('\n', &format!("\n{pad}"))
    }

    /// Writes the members of a container at `indent` one by one: `open` (`[` or `{`), each
    /// member on its own line, and the close, as the pretty printer does (`[]` when empty).
    pub(crate) struct Members {
        indent: usize,
        close: char,
        first: bool,
    }

    impl Members {
        pub(crate) fn open(out: &mut impl std::fmt::Write, array: bool, indent: usize) -> Self {
            let _ = out.write_char(if array { '[' } else { '{' });
            Members {
                indent,
                close: if array { ']' } else { '}' },
                first: true,
            }
        }

        /// An array element.
        pub(crate) fn element(&mut self, out: &mut impl std::fmt::Write, v: &Value) {
            self.sep(out);
            let _ = out.write_str(&nested(v, self.indent));
        }

        /// An object member.
        pub(crate) fn member(&mut self, out: &mut impl std::fmt::Write, key: &str, v: &Value) {
            self.sep(out);
            let key = serde_json::to_string(key).expect("a string");
            let _ = write!(out, "{key}: {}", nested(v, self.indent));
        }

        fn sep(&mut self, out: &mut impl std::fmt::Write) {
            let _ = out.write_str(if self.first { "\n" } else { ",\n" });
            self.first = false;
            let _ = out.write_str(&" ".repeat(self.indent + 2));
        }

        pub(crate) fn close(self, out: &mut impl std::fmt::Write) {
            if !self.first {
                let _ = write!(out, "\n{}", " ".repeat(self.indent));
            }
            let _ = out.write_char(self.close);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use serde_json::json;

        #[test]
        fn streamed_members_are_what_the_pretty_printer_writes() {
            let items = vec![json!({"a": [1, {"b": "x\ny"}]}), json!(2), json!([])];
            let map = json!({"k1": {"uri": "u"}, "k\"2": []});
            for (items, map) in [(items.clone(), map.clone()), (vec![], json!({}))] {
                let whole = json!({"first": items, "m": {"deep": map}, "z": 1});
                let doc = json!({"first": marker(0), "m": {"deep": marker(1)}, "z": 1});
                let parts = split(&serde_json::to_string_pretty(&doc).unwrap(), 2);
                let mut out = parts[0].0.clone();
                let mut m = Members::open(&mut out, true, parts[0].1);
                for v in &items {
                    m.element(&mut out, v);
                }
                m.close(&mut out);
                out.push_str(&parts[1].0);
                let mut m = Members::open(&mut out, false, parts[1].1);
                for (k, v) in map.as_object().unwrap() {
                    m.member(&mut out, k, v);
                }
                m.close(&mut out);
                out.push_str(&parts[2].0);
                assert_eq!(out, serde_json::to_string_pretty(&whole).unwrap());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    struct Pieces(Vec<String>);

    impl Sink<Infallible> for Pieces {
        fn write(&mut self, _: &str, data: &str) -> Result<(), Infallible> {
            self.0.push(data.to_string());
            Ok(())
        }
        fn end(&mut self, _: &str) -> Result<(), Infallible> {
            Ok(())
        }
    }

    #[test]
    fn trailing_newlines_stay_until_the_end() {
        let mut sink = Pieces(Vec::new());
        let mut out = Out::new(&mut sink, "f");
        out.push_str(&"x".repeat(FLUSH));
        out.push_str("\n\n\n");
        out.push_str(&"y".repeat(FLUSH - 1));
        out.push_str("\n\n");
        assert!(out.ends_with("\n\n"));
        while out.ends_with("\n\n") {
            out.pop();
        }
        out.finish().unwrap();
        let all = sink.0.concat();
        assert_eq!(
            all,
            format!("{}\n\n\n{}\n", "x".repeat(FLUSH), "y".repeat(FLUSH - 1))
        );
        assert!(sink.0.len() >= 2, "written in pieces");
    }
}

/// An outline rendered with its results read back one at a time gives the bytes of the fleet
/// held whole, in every format.
#[cfg(test)]
mod outline_tests {
    use std::collections::BTreeMap;
    use std::convert::Infallible;

    use super::*;
    use crate::governance::Governance;
    use crate::link::LinkOptions;
    use crate::profile::Profile;
    use crate::report::{render, render_to, Fleet, FleetBuilder, Format, ScanInfo};
    use crate::result::RepoStatus;

    const GOV: &str = "
Compute:
  deliverables:
    nova:
      repos: [openstack/nova, openstack/nova-client]
'a|b <script>':
  deliverables:
    gone:
      repos: [openstack/gone]
Ansible SIG:
  - repo: openstack/ansible-x
";

    fn result(name: &str, status: RepoStatus, occ: &[(&str, u32, &str)]) -> RepoResult {
        let mut r = RepoResult::new(RepoName::parse(name).unwrap(), format!("git://h/{name}"));
        r.status = status;
        if status == RepoStatus::Scanned {
            r.branch = Some("master".into());
            r.commit = Some("c0ffee".into());
            r.commit_time = Some(1_787_346_108);
        } else {
            r.reason = Some("not <found>".into());
        }
        r.occurrences = crate::report::fixture::occurrences(occ);
        r.stats.files_scanned = 3 + occ.len() as u64;
        r
    }

    fn results() -> Vec<RepoResult> {
        let mut nova = result(
            "openstack/nova",
            RepoStatus::Scanned,
            &[
                ("nova/cmd/api.py", 3, "eventlet.monkey_patch()"),
                ("nova/tests/test_a.py", 1, "import eventlet"),
                ("doc/source/a.rst", 1, "eventlet is used"),
                ("nova/caf\u{fffd}.py", 2, "import eventlet"),
                ("requirements.txt", 4, "eventlet>=0.30"),
                (
                    "nova/a.py",
                    9,
                    "eventlet.sleep(0)  # `](javascript:x) <img>",
                ),
            ],
        );
        nova.stats
            .raw_paths
            .insert("nova/caf\u{fffd}.py".into(), b"nova/caf\xe9.py".to_vec());
        nova.truncated = Some("nova/a.py line 9".into());
        nova.code = code_facts();
        let mut client = result(
            "openstack/nova-client",
            RepoStatus::Scanned,
            &[("novaclient/x.py", 1, "import eventlet")],
        );
        client.stats.skipped_too_large = 2;
        client.stats.too_large = vec!["big.bin".into(), "huge.py".into()];
        let mut unread = result("openstack/unread", RepoStatus::Scanned, &[]);
        unread.stats.skipped_too_large = 1;
        unread.stats.too_large = vec!["big.txt".into()];
        vec![
            result("openstack/gone", RepoStatus::Failed, &[]),
            result(
                "openstack/ansible-x",
                RepoStatus::Scanned,
                &[
                    ("tasks/main.yml", 7, "- eventlet"),
                    ("tasks/main.yml", 7, "- eventlet"),
                ],
            ),
            nova,
            client,
            unread,
            result("openstack/clean", RepoStatus::Scanned, &[]),
            result("openstack/skipped", RepoStatus::Skipped, &[]),
            result(
                "x/stray",
                RepoStatus::Scanned,
                &[("a\"b.py", 1, "=HYPERLINK(\"eventlet\")")],
            ),
        ]
    }

    /// A patch call behind a switch, a service, an optional import: what the verdict and
    /// summary.json's switches come from.
    fn code_facts() -> crate::code::facts::CodeFacts {
        use crate::code::facts::{
            CodeFacts, Line, Patch, Service, ServicePatching, Switch, SwitchKind,
        };
        let line = |path: &str, line: u32, text: &str| Line {
            path: path.into(),
            line,
            text: text.into(),
        };
        CodeFacts {
            patches: vec![Patch {
                site: line("nova/cmd/api.py", 3, "eventlet.monkey_patch()"),
                function: Some("main".into()),
                guarded: true,
                script: false,
                switches: vec![Switch {
                    kind: SwitchKind::Env,
                    name: "NOVA_EVENTLET".into(),
                    read: line("nova/cmd/api.py", 2, "if os.environ.get('NOVA_EVENTLET'):"),
                    default: Some("''".into()),
                    defined: None,
                    choices: None,
                }],
                guards: vec![line(
                    "nova/cmd/api.py",
                    2,
                    "if os.environ.get('NOVA_EVENTLET'):",
                )],
                callers: vec![line("nova/cmd/__init__.py", 5, "api.main()")],
                unguarded_path: vec![],
            }],
            optional_imports: vec![line("nova/a.py", 1, "import eventlet")],
            services: vec![Service {
                name: "nova-api".into(),
                group: "console_scripts".into(),
                target: "nova.cmd.api:main".into(),
                declared: line("setup.cfg", 4, "nova-api = nova.cmd.api:main"),
                patching: ServicePatching::Switchable,
                via: None,
            }],
            adaptive: vec!["nova/a.py".into()],
            unparsed: vec!["nova/bad.py".into()],
            truncated: false,
        }
    }

    fn info() -> ScanInfo {
        ScanInfo {
            git_base: "git://h/".into(),
            governance: vec!["gov.yaml".into()],
            started: 1_787_346_108,
            duration_ms: 5,
            ..crate::report::fixture::info("eventlet")
        }
    }

    /// Results read back by name, as a store would give them; counts what was read.
    struct Store {
        by_name: BTreeMap<RepoName, RepoResult>,
        read: usize,
    }

    impl Results<Infallible> for Store {
        fn each(
            &mut self,
            repos: &[RepoName],
            f: &mut dyn FnMut(RepoResult) -> Result<(), Infallible>,
        ) -> Result<(), Infallible> {
            for r in repos {
                self.read += 1;
                f(self.by_name[r].clone())?;
            }
            Ok(())
        }
    }

    /// The default formats of `outline`, its projects read back from a store of `results`;
    /// with how many were read.
    fn render_from_store(outline: &Fleet, results: Vec<RepoResult>) -> (Files, usize) {
        let mut store = Store {
            by_name: results.into_iter().map(|r| (r.repo.clone(), r)).collect(),
            read: 0,
        };
        let mut files = Files::default();
        let Ok(()) = render_to(
            outline,
            &info(),
            &Format::defaults(),
            &mut store,
            &mut files,
        );
        (files, store.read)
    }

    #[test]
    fn an_outline_renders_the_bytes_of_the_whole_fleet() {
        let (gov, _) = Governance::from_documents([("gov.yaml", GOV)]).unwrap();
        for profile in [Some(Profile::eventlet()), None] {
            let whole = Fleet::build(results(), &gov, LinkOptions::default(), profile.clone());
            let mut b = FleetBuilder::new(&gov, LinkOptions::default(), profile.clone()).outline();
            for r in results().into_iter().rev() {
                b.add(r);
            }
            let outline = b.finish();
            assert!(outline.is_outline());
            assert!(outline
                .projects()
                .all(|(_, p)| p.result.occurrences.is_empty()));
            let (files, read) = render_from_store(&outline, results());
            if profile.is_some() {
                let file = |p: &str| &files.0.iter().find(|f| f.path == p).unwrap().contents;
                let team = file("teams/Compute.md");
                assert!(
                    team.contains("NOVA_EVENTLET") && team.contains("nova-api"),
                    "{team}"
                );
                assert!(file("summary.json").contains("NOVA_EVENTLET"));
            }
            let expected = render(&whole, &info(), &Format::defaults());
            let names = |f: &[crate::report::ReportFile]| -> Vec<String> {
                f.iter().map(|f| f.path.clone()).collect()
            };
            assert_eq!(names(&files.0), names(&expected));
            for (got, want) in files.0.iter().zip(&expected) {
                assert_eq!(got.contents, want.contents, "{}", got.path);
            }
            assert!(read > 0, "occurrences were read back");
        }
    }

    #[test]
    fn an_outline_with_history_points_renders_the_bytes_of_the_whole_fleet() {
        let (gov, _) = Governance::from_documents([("gov.yaml", GOV)]).unwrap();
        let days: Vec<crate::history::Day> = ["2025-01-01", "2025-04-01"]
            .map(|d| d.parse().unwrap())
            .to_vec();
        // Each scanned repository at two points: the first with its first occurrence only
        // (the client did not exist yet), the second as at its head.
        let with_points = || -> Vec<RepoResult> {
            let mut all = results();
            for r in &mut all {
                if r.status != RepoStatus::Scanned {
                    continue;
                }
                let at = |i: usize, commit: Option<&str>, occ: &[crate::result::Occurrence]| {
                    let mut p = crate::result::PointResult::absent(days[i]);
                    p.commit = commit.map(String::from);
                    p.commit_time = commit.map(|_| 1_700_000_000 + i as i64);
                    p.occurrences = occ.to_vec();
                    p.code = r.code.clone();
                    p
                };
                let first = if r.repo.to_string() == "openstack/nova-client" {
                    at(0, None, &[])
                } else {
                    at(0, Some("old"), &r.occurrences[..r.occurrences.len().min(1)])
                };
                r.history = vec![first, at(1, Some("new"), &r.occurrences)];
            }
            all
        };
        let profile = Some(Profile::eventlet());
        let mut b =
            FleetBuilder::new(&gov, LinkOptions::default(), profile.clone()).with_points(&days);
        for r in with_points() {
            b.add(r);
        }
        let whole = b.finish();
        let mut b = FleetBuilder::new(&gov, LinkOptions::default(), profile)
            .outline()
            .with_points(&days);
        for r in with_points().into_iter().rev() {
            b.add(r);
        }
        let outline = b.finish();
        assert_eq!(outline.history.len(), 2);
        for m in &outline.history {
            assert!(m.fleet.is_outline());
            assert!(m
                .fleet
                .projects()
                .all(|(_, p)| p.result.occurrences.is_empty()));
        }
        assert!(outline.projects().all(|(_, p)| p.result.history.is_empty()));
        let (files, _) = render_from_store(&outline, with_points());
        let expected = render(&whole, &info(), &Format::defaults());
        let names = |f: &[crate::report::ReportFile]| -> Vec<String> {
            f.iter().map(|f| f.path.clone()).collect()
        };
        assert_eq!(names(&files.0), names(&expected));
        assert!(names(&expected).contains(&"history/2025-01-01/occurrences.ndjson".to_string()));
        for (got, want) in files.0.iter().zip(&expected) {
            assert_eq!(got.contents, want.contents, "{}", got.path);
        }
        let first = &expected
            .iter()
            .find(|f| f.path == "history/2025-01-01/occurrences.ndjson")
            .unwrap()
            .contents;
        // One line per repository (each has its first occurrence then), none of the client's.
        assert_eq!(first.lines().count(), 3, "{first}");
        assert!(
            first.lines().all(|l| l.contains("\"commit\":\"old\"")),
            "{first}"
        );
        assert!(!first.contains("nova-client"), "{first}");
    }
}
