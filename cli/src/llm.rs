//! `--llm-url`: an optional narrative per analysed project, written by a language model from
//! the grounded findings. The prompt and the checks on the reply are pure and live in
//! `fleetscan_core::narrative`; this module only talks HTTP.
//!
//! Two APIs: Ollama (`POST <url>/api/generate` with `{model, prompt, stream: false}`, answer
//! in `response`) and OpenAI-compatible servers (`POST <url>/chat/completions`, answer in
//! `choices[0].message.content`). `--llm-api auto` takes a URL whose path ends in `/v1` or
//! `/chat/completions` as OpenAI-compatible and any other as Ollama.
//!
//! A model is slow and may be down, and the reports must not depend on it: each request has
//! a time limit (`--llm-timeout`) and is retried with jittered exponential backoff after
//! timeouts, connection errors, 429 and 5xx (`--llm-retries`). Any other failure, or the last
//! retry failing, logs a warning and leaves that project without a narrative; the reports are
//! complete without it and the exit code does not change. Requests run on `--llm-jobs` plain
//! threads, as the scan is done by then.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use clap::builder::RangedU64ValueParser;
use clap::{Args, ValueEnum};
use fleetscan_core::narrative::{Narrative, Template};
use fleetscan_core::report::Fleet;
use serde_json::{json, Value};
use tracing::{info, warn};

/// First wait before a retry; doubled each retry, plus jitter.
const BACKOFF: Duration = Duration::from_millis(500);

/// The `--llm-*` flags of `fleetscan scan`.
#[derive(Debug, Clone, Args)]
pub struct LlmArgs {
    /// Model server for an optional narrative per analysed project, shown after the grounded
    /// analysis and marked as generated: an Ollama base URL (http://127.0.0.1:11434) or an
    /// OpenAI-compatible one ending in /v1. Default: none, no model is asked.
    #[arg(
        long,
        value_name = "URL",
        env = "FLEETSCAN_LLM_URL",
        requires = "llm_model",
        value_parser = parse_url
    )]
    pub llm_url: Option<String>,
    /// Model name, such as llama3.1:8b. Required with --llm-url.
    #[arg(long, value_name = "NAME", env = "FLEETSCAN_LLM_MODEL")]
    pub llm_model: Option<String>,
    /// Prompt template file, with placeholders such as {findings} and {project} (see the
    /// README). Default: the built-in core/profiles/narrative-prompt.txt.
    #[arg(long, value_name = "FILE", env = "FLEETSCAN_LLM_PROMPT", value_parser = parse_prompt)]
    pub llm_prompt: Option<Template>,
    /// API of the model server: auto (OpenAI-compatible when the URL path ends in /v1 or
    /// /chat/completions, Ollama otherwise), ollama or openai.
    #[arg(long, value_enum, default_value = "auto", env = "FLEETSCAN_LLM_API")]
    pub llm_api: LlmApi,
    /// Time limit of one request to the model, seconds.
    #[arg(
        long,
        default_value_t = 120,
        value_name = "SECS",
        env = "FLEETSCAN_LLM_TIMEOUT"
    )]
    pub llm_timeout: u64,
    /// Retries of a request after a timeout, a connection error, 429 or 5xx.
    #[arg(
        long,
        default_value_t = 2,
        value_name = "N",
        env = "FLEETSCAN_LLM_RETRIES"
    )]
    pub llm_retries: u32,
    /// Requests to the model in parallel.
    #[arg(
        long,
        default_value_t = 2,
        value_name = "N",
        env = "FLEETSCAN_LLM_JOBS",
        value_parser = RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub llm_jobs: usize,
    /// Bearer token, for OpenAI-compatible servers that want one.
    #[arg(
        long,
        value_name = "KEY",
        env = "FLEETSCAN_LLM_API_KEY",
        hide_env_values = true
    )]
    pub llm_api_key: Option<String>,
}

/// `--llm-api`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LlmApi {
    /// By the URL.
    Auto,
    /// Ollama's `/api/generate`.
    Ollama,
    /// OpenAI-compatible `/chat/completions`.
    Openai,
}

fn parse_url(s: &str) -> Result<String, String> {
    if s.starts_with("http://") || s.starts_with("https://") {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not an http:// or https:// URL (for Ollama: http://127.0.0.1:11434)"
        ))
    }
}

/// Reads and checks the template while the arguments are parsed, so a bad file is an input
/// error before the scan starts, not after it.
fn parse_prompt(path: &str) -> Result<Template, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    Template::parse(path, &text).map_err(|e| e.to_string())
}

impl LlmArgs {
    /// Adds a narrative to every analysed project with occurrences, when `--llm-url` is
    /// given. Failures are logged and leave that project without one.
    pub fn narrate(&self, fleet: &mut Fleet) {
        let (Some(url), Some(model)) = (&self.llm_url, &self.llm_model) else {
            return;
        };
        let template = self.llm_prompt.clone().unwrap_or_default();
        let mut work = Vec::new();
        for (ti, team) in fleet.teams.iter().enumerate() {
            for (pi, p) in team.projects.iter().enumerate() {
                if let Some(prompt) = template.render(fleet, team, p) {
                    work.push((ti, pi, prompt));
                }
            }
        }
        if work.is_empty() {
            return;
        }
        let client = Client::new(self, url, model);
        info!(projects = work.len(), model = %model, endpoint = %client.endpoint, "asking for narratives");
        let replies = map_parallel(&work, self.llm_jobs, |(_, _, prompt)| client.ask(prompt));
        let mut failed = 0;
        for ((ti, pi, _), reply) in work.iter().zip(replies) {
            let result = &fleet.teams[*ti].projects[*pi].result;
            let narrative = reply.and_then(|r| {
                Narrative::from_reply(model, &r, &fleet.links, result)
                    .ok_or_else(|| "the reply is empty".to_string())
            });
            match narrative {
                Ok(n) => fleet.teams[*ti].projects[*pi].narrative = Some(n),
                Err(why) => {
                    failed += 1;
                    warn!(repo = %result.repo, model = %model, error = %why, "no narrative");
                }
            }
        }
        if failed > 0 {
            warn!(
                failed,
                projects = work.len(),
                "some projects have no narrative; their reports are complete without it"
            );
        }
    }
}

/// Which API a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Ollama,
    OpenAi,
}

/// The API and the endpoint to post to, from `--llm-url` and `--llm-api`.
fn endpoint(url: &str, api: LlmApi) -> (Api, String) {
    let base = url.trim_end_matches('/');
    let path = base
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("");
    let api = match api {
        LlmApi::Ollama => Api::Ollama,
        LlmApi::Openai => Api::OpenAi,
        LlmApi::Auto if path.ends_with("/v1") || path.ends_with("/chat/completions") => Api::OpenAi,
        LlmApi::Auto => Api::Ollama,
    };
    let endpoint = match api {
        Api::Ollama if base.ends_with("/api/generate") => base.to_string(),
        Api::Ollama => format!("{base}/api/generate"),
        Api::OpenAi if base.ends_with("/chat/completions") => base.to_string(),
        Api::OpenAi if base.ends_with("/v1") => format!("{base}/chat/completions"),
        Api::OpenAi => format!("{base}/v1/chat/completions"),
    };
    (api, endpoint)
}

/// Why one attempt failed, and whether another may succeed.
enum Failure {
    Retry(String),
    Final(String),
}

struct Client {
    agent: ureq::Agent,
    api: Api,
    endpoint: String,
    model: String,
    api_key: Option<String>,
    retries: u32,
}

impl Client {
    fn new(args: &LlmArgs, url: &str, model: &str) -> Client {
        let (api, endpoint) = endpoint(url, args.llm_api);
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(args.llm_timeout.max(1))))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Client {
            agent,
            api,
            endpoint,
            model: model.to_string(),
            api_key: args.llm_api_key.clone(),
            retries: args.llm_retries,
        }
    }

    /// The model's answer to `prompt`, retrying what may pass on a second try.
    fn ask(&self, prompt: &str) -> Result<String, String> {
        let mut attempt = 0;
        loop {
            match self.attempt(prompt) {
                Ok(text) => return Ok(text),
                Err(Failure::Retry(why)) if attempt < self.retries => {
                    attempt += 1;
                    info!(attempt, error = %why, "model request failed, retrying");
                    std::thread::sleep(fleetscan_worker::job::backoff(BACKOFF, attempt));
                }
                Err(Failure::Retry(why) | Failure::Final(why)) => {
                    return Err(format!(
                        "{why} (attempt {} of {})",
                        attempt + 1,
                        self.retries + 1
                    ))
                }
            }
        }
    }

    fn attempt(&self, prompt: &str) -> Result<String, Failure> {
        // Temperature 0 (and a fixed seed where the API has one): the same findings should
        // give the same narrative as far as the server allows.
        let (body, answer) = match self.api {
            Api::Ollama => (
                json!({
                    "model": self.model,
                    "prompt": prompt,
                    "stream": false,
                    "options": {"temperature": 0, "seed": 0},
                }),
                "/response",
            ),
            Api::OpenAi => (
                json!({
                    "model": self.model,
                    "messages": [{"role": "user", "content": prompt}],
                    "stream": false,
                    "temperature": 0,
                }),
                "/choices/0/message/content",
            ),
        };
        let mut request = self.agent.post(&self.endpoint);
        if let Some(key) = &self.api_key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        let mut response = request
            .send_json(&body)
            .map_err(|e| Failure::Retry(format!("{}: {e}", self.endpoint)))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| Failure::Retry(format!("{}: reading the reply: {e}", self.endpoint)))?;
        if !(200..300).contains(&status) {
            let why = format!("{}: HTTP {status}: {}", self.endpoint, server_error(&text));
            return Err(if status == 429 || status >= 500 {
                Failure::Retry(why)
            } else {
                Failure::Final(why)
            });
        }
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| Failure::Final(format!("{}: reply is not JSON: {e}", self.endpoint)))?;
        v.pointer(answer)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Failure::Final(format!("{}: reply has no {answer}", self.endpoint)))
    }
}

/// The server's own error message (Ollama and OpenAI put it in `error`), or the start of
/// the body.
fn server_error(body: &str) -> String {
    let v: Option<Value> = serde_json::from_str(body).ok();
    let msg = v.as_ref().and_then(|v| {
        v["error"]
            .as_str()
            .or_else(|| v["error"]["message"].as_str())
    });
    let msg = msg.unwrap_or(body).trim();
    msg.chars().take(200).collect()
}

/// `f` over `items` on up to `threads` threads, results in item order.
fn map_parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, items.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                *slots[i].lock().expect("slot lock") = Some(r);
            });
        }
    });
    slots
        .into_iter()
        .map(|m| m.into_inner().expect("slot lock").expect("every item ran"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_the_url_or_the_flag() {
        use Api::{Ollama, OpenAi};
        use LlmApi::{Auto, Openai};
        let ollama_flag = LlmApi::Ollama;
        for (url, flag, api, want) in [
            (
                "http://127.0.0.1:11434",
                Auto,
                Ollama,
                "http://127.0.0.1:11434/api/generate",
            ),
            (
                "http://h/o/api/generate",
                Auto,
                Ollama,
                "http://h/o/api/generate",
            ),
            (
                "http://h:8000/v1/",
                Auto,
                OpenAi,
                "http://h:8000/v1/chat/completions",
            ),
            (
                "https://h/v1/chat/completions",
                Auto,
                OpenAi,
                "https://h/v1/chat/completions",
            ),
            (
                "http://h:8080",
                Openai,
                OpenAi,
                "http://h:8080/v1/chat/completions",
            ),
            (
                "http://h:8000/v1",
                ollama_flag,
                Ollama,
                "http://h:8000/v1/api/generate",
            ),
            // A host named v1 is not a path.
            ("http://v1", Auto, Ollama, "http://v1/api/generate"),
        ] {
            assert_eq!(endpoint(url, flag), (api, want.to_string()), "{url}");
        }
    }

    #[test]
    fn server_errors_are_short() {
        assert_eq!(
            server_error(r#"{"error":"model 'x' not found"}"#),
            "model 'x' not found"
        );
        assert_eq!(
            server_error(r#"{"error":{"message":"bad key"}}"#),
            "bad key"
        );
        assert_eq!(server_error(&"x".repeat(500)).len(), 200);
    }

    #[test]
    fn map_parallel_keeps_order() {
        let items: Vec<u32> = (0..50).collect();
        assert_eq!(
            map_parallel(&items, 4, |i| i * 2),
            (0..50).map(|i| i * 2).collect::<Vec<_>>()
        );
        assert!(map_parallel(&[] as &[u32], 4, |i| *i).is_empty());
    }
}
