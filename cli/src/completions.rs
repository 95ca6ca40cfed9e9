//! `fleetscan completions SHELL` and `fleetscan man`: generated from the same clap definition
//! the command line parses with, so they cannot drift from the real flags.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::InputError;

/// `fleetscan completions` flags.
#[derive(Debug, Args)]
pub struct CompletionsCmd {
    /// The shell to write a completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The shells completions are written for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    /// `source <(fleetscan completions bash)`, or save under bash-completion's directory.
    Bash,
    /// Save as `_fleetscan` in a directory of `$fpath`.
    Zsh,
    /// Save as `~/.config/fish/completions/fleetscan.fish`.
    Fish,
}

/// `fleetscan man` flags.
#[derive(Debug, Args)]
pub struct ManCmd {
    /// Write `fleetscan.1` and one `fleetscan-<command>.1` per subcommand into this directory.
    /// Without it, the page of `fleetscan` itself goes to stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Writes the completion script for `shell` of `cmd` to stdout.
pub fn completions(args: CompletionsCmd, mut cmd: clap::Command) -> Result<ExitCode> {
    let mut out = Vec::new();
    script(args.shell, &mut cmd, &mut out);
    std::io::stdout().write_all(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn script(shell: Shell, cmd: &mut clap::Command, out: &mut Vec<u8>) {
    use clap_complete::{generate, shells};
    let name = cmd.get_name().to_string();
    match shell {
        Shell::Bash => generate(shells::Bash, cmd, name, out),
        Shell::Zsh => generate(shells::Zsh, cmd, name, out),
        Shell::Fish => generate(shells::Fish, cmd, name, out),
    }
}

/// Writes the man pages of `cmd`: the top page to stdout, or every page into `--out`.
pub fn man(args: ManCmd, cmd: clap::Command) -> Result<ExitCode> {
    match args.out {
        Some(dir) => {
            let bad = |e: std::io::Error| {
                InputError(format!(
                    "cannot write man pages to --out {}: {e}: choose a writable directory",
                    dir.display()
                ))
            };
            std::fs::create_dir_all(&dir).map_err(bad)?;
            clap_mangen::generate_to(cmd, &dir).map_err(bad)?;
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            std::io::stdout().write_all(&out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::Cli;

    fn subcommands() -> Vec<String> {
        Cli::command()
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect()
    }

    #[test]
    fn every_script_names_every_subcommand() {
        let subs = subcommands();
        assert!(subs.len() >= 12, "{subs:?}");
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut out = Vec::new();
            script(shell, &mut Cli::command(), &mut out);
            let text = String::from_utf8(out).unwrap();
            for s in &subs {
                assert!(text.contains(s.as_str()), "{shell:?} lacks {s}");
            }
            // A flag of a nested command, to show they are not only the top level.
            assert!(text.contains("ignore-comments"), "{shell:?}");
        }
    }
}
