//! Code facts on the wire. A role the receiver does not know is an error, not a default, so
//! that a newer worker's facts are never silently misread.

use fleetscan_core::code::roles as core;

use crate::v1;

impl From<core::Role> for v1::CodeRole {
    fn from(r: core::Role) -> Self {
        match r {
            core::Role::Mock => v1::CodeRole::Mock,
            core::Role::Import => v1::CodeRole::Import,
            core::Role::Decorator => v1::CodeRole::Decorator,
            core::Role::Call => v1::CodeRole::Call,
            core::Role::Attribute => v1::CodeRole::Attribute,
            core::Role::Option => v1::CodeRole::Option,
            core::Role::LoggerName => v1::CodeRole::LoggerName,
            core::Role::Value => v1::CodeRole::Value,
            core::Role::Docstring => v1::CodeRole::Docstring,
            core::Role::Message => v1::CodeRole::Message,
            core::Role::Comment => v1::CodeRole::Comment,
            core::Role::Other => v1::CodeRole::Other,
        }
    }
}

impl TryFrom<v1::CodeRole> for core::Role {
    type Error = String;
    fn try_from(r: v1::CodeRole) -> Result<Self, String> {
        Ok(match r {
            v1::CodeRole::Mock => core::Role::Mock,
            v1::CodeRole::Import => core::Role::Import,
            v1::CodeRole::Decorator => core::Role::Decorator,
            v1::CodeRole::Call => core::Role::Call,
            v1::CodeRole::Attribute => core::Role::Attribute,
            v1::CodeRole::Option => core::Role::Option,
            v1::CodeRole::LoggerName => core::Role::LoggerName,
            v1::CodeRole::Value => core::Role::Value,
            v1::CodeRole::Docstring => core::Role::Docstring,
            v1::CodeRole::Message => core::Role::Message,
            v1::CodeRole::Comment => core::Role::Comment,
            v1::CodeRole::Other => core::Role::Other,
            v1::CodeRole::Unspecified => return Err("a code fact has no role".into()),
        })
    }
}

impl From<&core::CodeFacts> for v1::CodeFacts {
    fn from(f: &core::CodeFacts) -> Self {
        v1::CodeFacts {
            files: f.files.iter().map(file_to_wire).collect(),
        }
    }
}

fn file_to_wire(f: &core::FileFacts) -> v1::FileFacts {
    v1::FileFacts {
        path: f.path.clone(),
        parsed: f.parsed,
        lines: f
            .lines
            .iter()
            .map(|l| v1::LineFacts {
                line: l.line,
                role: v1::CodeRole::from(l.role) as i32,
                names: l.names.clone(),
                serves: l.serves.clone(),
                mocked: l.mocked,
                roles: l
                    .roles
                    .iter()
                    .map(|&r| v1::CodeRole::from(r) as i32)
                    .collect(),
            })
            .collect(),
        related: f
            .related
            .iter()
            .map(|s| v1::Site {
                line: s.line,
                text: s.text.clone(),
                names: s.names.clone(),
            })
            .collect(),
    }
}

impl TryFrom<v1::CodeFacts> for core::CodeFacts {
    type Error = String;
    fn try_from(f: v1::CodeFacts) -> Result<Self, String> {
        let mut facts = core::CodeFacts {
            files: f
                .files
                .into_iter()
                .map(file_from_wire)
                .collect::<Result<_, _>>()?,
        };
        facts.sort();
        Ok(facts)
    }
}

fn file_from_wire(f: v1::FileFacts) -> Result<core::FileFacts, String> {
    let lines = f
        .lines
        .into_iter()
        .map(|l| {
            let role_of = |r: i32| -> Result<core::Role, String> {
                v1::CodeRole::try_from(r)
                    .map_err(|_| format!("{}:{}: unknown code role {r}", f.path, l.line))?
                    .try_into()
            };
            Ok(core::LineFacts {
                line: l.line,
                role: role_of(l.role)?,
                names: l.names,
                serves: l.serves,
                mocked: l.mocked,
                roles: l
                    .roles
                    .iter()
                    .map(|&r| role_of(r))
                    .collect::<Result<_, _>>()?,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(core::FileFacts {
        path: f.path,
        parsed: f.parsed,
        lines,
        related: f
            .related
            .into_iter()
            .map(|s| core::Site {
                line: s.line,
                text: s.text,
                names: s.names,
            })
            .collect(),
    })
}
