//! The services a Python package declares: console scripts and WSGI scripts, from
//! `setup.cfg` (`[entry_points]`, pbr style) and `pyproject.toml` (`[project.scripts]`,
//! `[project.entry-points.wsgi_scripts]`). Read line by line: these sections are simple, and
//! a file that is not valid INI or TOML elsewhere still yields its scripts.

use super::facts::Line;

/// One declared script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// Script name.
    pub name: String,
    /// `console_scripts` or `wsgi_scripts`.
    pub group: String,
    /// `module:function`.
    pub target: String,
    /// The declaring line.
    pub at: Line,
}

impl Declared {
    /// The module part of the target (`nova.cmd.compute`).
    pub fn module(&self) -> &str {
        self.target.split(':').next().unwrap_or("").trim()
    }

    /// The function part of the target (`main`), if any.
    pub fn function(&self) -> Option<&str> {
        self.target
            .split_once(':')
            .map(|(_, f)| f.trim().split('.').next_back().unwrap_or("").trim())
    }
}

const GROUPS: [&str; 2] = ["console_scripts", "wsgi_scripts"];

/// Scripts declared in a `setup.cfg` at `path`.
pub fn from_setup_cfg(path: &str, text: &str) -> Vec<Declared> {
    let mut out = Vec::new();
    let mut in_entry_points = false;
    let mut group: Option<&str> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') {
            in_entry_points = line == "[entry_points]";
            group = None;
            continue;
        }
        if !in_entry_points || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        if !indented {
            // `console_scripts =` opens a group; any other key closes it.
            let key = line.split('=').next().unwrap_or("").trim();
            group = GROUPS.iter().copied().find(|g| *g == key);
            let value = line.split_once('=').map_or("", |(_, v)| v.trim());
            if let (Some(g), false) = (group, value.is_empty()) {
                push(&mut out, path, i, raw, g, value);
            }
            continue;
        }
        if let Some(g) = group {
            push(&mut out, path, i, raw, g, line);
        }
    }
    out
}

/// Scripts declared in a `pyproject.toml` at `path`.
pub fn from_pyproject(path: &str, text: &str) -> Vec<Declared> {
    let mut out = Vec::new();
    let mut group: Option<&str> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') {
            let t: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            group = match t.as_str() {
                "[project.scripts]" => Some("console_scripts"),
                "[project.entry-points.wsgi_scripts]"
                | "[project.entry-points.\"wsgi_scripts\"]" => Some("wsgi_scripts"),
                _ => None,
            };
            continue;
        }
        if let Some(g) = group {
            if !line.is_empty() && !line.starts_with('#') {
                push(&mut out, path, i, raw, g, line);
            }
        }
    }
    out
}

fn push(out: &mut Vec<Declared>, path: &str, i: usize, raw: &str, group: &str, entry: &str) {
    let Some((name, target)) = entry.split_once('=') else {
        return;
    };
    let unquote = |s: &str| s.trim().trim_matches(['"', '\'']).trim().to_string();
    let (name, target) = (unquote(name), unquote(target));
    if name.is_empty() || target.is_empty() {
        return;
    }
    out.push(Declared {
        name,
        group: group.to_string(),
        target,
        at: Line {
            path: path.to_string(),
            line: i as u32 + 1,
            text: raw.trim().to_string(),
        },
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_from_a_setup_cfg() {
        let cfg = "[metadata]\nname = svc\n\n[entry_points]\nconsole_scripts =\n    svc-api = svc.cmd.api:main\n    svc-worker = svc.cmd.worker:main\nwsgi_scripts =\n    svc-wsgi = svc.wsgi.app:init_application\noslo.config.opts =\n    svc = svc.opts:list_opts\n";
        let s = from_setup_cfg("setup.cfg", cfg);
        let names: Vec<(&str, &str, &str)> = s
            .iter()
            .map(|d| (d.name.as_str(), d.group.as_str(), d.module()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("svc-api", "console_scripts", "svc.cmd.api"),
                ("svc-worker", "console_scripts", "svc.cmd.worker"),
                ("svc-wsgi", "wsgi_scripts", "svc.wsgi.app"),
            ]
        );
        assert_eq!(s[0].at.line, 6);
        assert_eq!(s[2].function(), Some("init_application"));
    }

    #[test]
    fn services_from_a_pyproject() {
        let t = "[project]\nname = \"svc\"\n\n[project.scripts]\nsvc-api = \"svc.cmd.api:main\"\n\n[project.entry-points.wsgi_scripts]\nsvc-wsgi = \"svc.wsgi:app\"\n\n[tool.x]\na = \"b:c\"\n";
        let s = from_pyproject("pyproject.toml", t);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].target, "svc.cmd.api:main");
        assert_eq!(s[1].group, "wsgi_scripts");
    }
}
