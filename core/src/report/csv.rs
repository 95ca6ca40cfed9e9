//! `occurrences.csv`: the occurrences for spreadsheets (RFC 4180 quoting). A cell a
//! spreadsheet would run as a formula is neutralised as OWASP advises ("CSV Injection"): a
//! cell starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'` and is
//! quoted, so `=HYPERLINK(...)` in a matched line or a file named `=1+1.py` stays text.

use super::stream::Out;
use super::{Fleet, Results};

pub(super) fn render<E>(
    fleet: &Fleet,
    results: &mut dyn Results<E>,
    mut out: Out<'_, E>,
) -> Result<(), E> {
    out.push_str("team,deliverable,repo,branch,commit,path,line,text,link\n");
    let found: Vec<_> = fleet.projects().filter(|(_, p)| p.count > 0).collect();
    fleet.each_full(&found, results, false, &mut |team, p| {
        let r = &p.result;
        for o in &r.occurrences {
            let fields = [
                team.name.0.as_str(),
                p.deliverable.as_deref().unwrap_or(""),
                r.repo.as_str(),
                r.branch.as_deref().unwrap_or(""),
                r.commit.as_deref().unwrap_or(""),
                &o.path,
                &o.line.to_string(),
                &o.text,
                &fleet.links.url(r, o),
            ];
            let row: Vec<String> = fields.iter().map(|f| quote(f)).collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
        Ok(())
    })?;
    out.finish()
}

pub(super) fn quote(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("\"'{}\"", s.replace('"', "\"\""))
    } else if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoting() {
        assert_eq!(super::quote("a,b \"c\""), "\"a,b \"\"c\"\"\"");
        assert_eq!(super::quote("plain"), "plain");
    }

    #[test]
    fn formulas_are_neutralised() {
        use super::quote;
        assert_eq!(
            quote("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        assert_eq!(quote("=1+1.py"), "\"'=1+1.py\"");
        assert_eq!(quote("+1"), "\"'+1\"");
        assert_eq!(quote("-2+3"), "\"'-2+3\"");
        assert_eq!(quote("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(quote("\tx"), "\"'\tx\"");
        assert_eq!(quote("\rx"), "\"'\rx\"");
        assert_eq!(quote("a=b"), "a=b");
    }
}
