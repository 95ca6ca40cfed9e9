//! `occurrences.ndjson`: one JSON object per occurrence, for tools.

use serde_json::json;

use super::stream::Out;
use super::{Fleet, Results};

pub(super) fn render<E>(
    fleet: &Fleet,
    results: &mut dyn Results<E>,
    mut out: Out<'_, E>,
) -> Result<(), E> {
    let found: Vec<_> = fleet.projects().filter(|(_, p)| p.count > 0).collect();
    fleet.each_full(&found, results, true, &mut |team, p| {
        let r = &p.result;
        for (i, o) in r.occurrences.iter().enumerate() {
            let mut v = json!({
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
            if let (Some(a), Some(prof)) = (&p.analysis, &fleet.profile) {
                let c = &a.classified[i];
                v["path_class"] = json!(prof.classes[c.class].id);
                v["categories"] = json!(prof.categories_of(c));
                v["subpatterns"] = json!(prof.subpatterns_of(c));
                if let Some(role) = c.role {
                    v["role"] = json!(role.as_str());
                }
                v["status"] = json!(p.deliverable_status);
            }
            out.push_str(&v.to_string());
            out.push('\n');
        }
        Ok(())
    })?;
    out.finish()
}
