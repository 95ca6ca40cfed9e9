//! `occurrences.ndjson`: one JSON object per occurrence, for tools.

use serde_json::json;

use super::Fleet;

pub(super) fn render(fleet: &Fleet) -> String {
    let mut out = String::new();
    for (team, p) in fleet.projects() {
        let r = &p.result;
        for o in &r.occurrences {
            let v = json!({
                "team": team.name,
                "deliverable": p.deliverable,
                "repo": r.repo,
                "branch": r.branch,
                "commit": r.commit,
                "path": o.path,
                "line": o.line,
                "text": o.text,
                "link": fleet.links.url(r, o),
            });
            out.push_str(&v.to_string());
            out.push('\n');
        }
    }
    out
}
