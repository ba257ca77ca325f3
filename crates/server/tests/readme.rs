//! The README, run as a new user would: its ```sh blocks in order, on a fresh SQLite database.
//!
//! - A block `cargo run --release -- serve ARGS` starts the real `didpool serve ARGS` (on a free
//!   loopback port; a server already running is stopped first), and a new bash session in which
//!   the lines `--demo` printed are sourced, as a user pastes them.
//! - A block with a `curl` in it runs in that session, one command at a time: `curl` is a bash
//!   function that calls the real one (`-sS`, bounded, no proxy) and records each answer's status;
//!   it refuses any URL that is not the server under test. A command passes when its curls were
//!   answered below 400, or, when one of its lines ends in a comment `# → NNN`, when its last curl
//!   was answered NNN; when its exit status is 0 (`set -u -o pipefail`: a variable used before it
//!   is defined fails it); and when a `NAME=$(…)` command left `NAME` set to something other
//!   than `null`.
//! - Every other block is skipped and listed: building and testing (`cargo test`, `cargo build`,
//!   the benchmark), PostgreSQL set-up, and the `didpool` command line's examples, which name
//!   placeholder ids (`MA_…`) and files (the same operations run here on the admin API).
//!
//! Between the two demo runs it also checks what a restart promises: the credentials the first
//! run printed are refused, and the demo customer holds one live credential of each kind. At the
//! end, `didpool check` finds the database sound.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// The whole run, both servers and every example.
const DEADLINE: Duration = Duration::from_secs(300);
/// One example (the curl function bounds each request to 20 s).
const COMMAND_DEADLINE: Duration = Duration::from_secs(60);
/// How long a started server may take to print its demo lines and listen.
const STARTUP_DEADLINE: Duration = Duration::from_secs(60);
/// The address the README's prose and URLs use, replaced by the server's own.
const README_ADDRESS: &str = "http://127.0.0.1:8080";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_readme_example_works_in_order_against_the_demo() {
    if !tools_present() {
        return;
    }
    tokio::time::timeout(DEADLINE, run_readme())
        .await
        .unwrap_or_else(|_| panic!("the README's examples did not finish within {DEADLINE:?}"));
}

#[test]
fn commands_are_split_as_bash_reads_them() {
    let block = Block {
        line: 10,
        text: "# a comment line\n\
               X=$(curl -s \"$B/a\" \\\n  -d '{\"a\": 1,\n   \"b\": \"it''s # no comment\"}' | jq -r .id)\n\
               #   {\"an\": \"answer\"}\n\
               curl -s \"$B/b\"   # → 404, it is gone\n\
               O=(-H \"x: y\"); AB=z\n"
            .into(),
    };
    let commands = commands(&block);
    let shown: Vec<(usize, &str, Option<u16>, Option<&str>)> = commands
        .iter()
        .map(|c| (c.line, c.text.as_str(), c.expect, c.captures.as_deref()))
        .collect();
    assert_eq!(
        shown,
        [
            (
                11,
                "X=$(curl -s \"$B/a\" \\\n  -d '{\"a\": 1,\n   \"b\": \"it''s # no comment\"}' | jq -r .id)",
                None,
                Some("X")
            ),
            (15, "curl -s \"$B/b\"", Some(404), None),
            (16, "O=(-H \"x: y\"); AB=z", None, None),
        ]
    );
}

/// bash, curl and jq run the examples. Missing, the test is skipped (and says so), unless `CI`
/// is set, where it fails.
fn tools_present() -> bool {
    let found = std::process::Command::new("bash")
        .args(["-c", "command -v curl && command -v jq"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
        panic!("the README test needs bash, curl and jq, and CI is set");
    }
    eprintln!("SKIPPED every_readme_example_works_in_order_against_the_demo: install bash, curl and jq to run it");
    false
}

/// One ```sh block: the line of its first line in README.md, and its text.
#[derive(Debug)]
struct Block {
    line: usize,
    text: String,
}

fn sh_blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in readme.lines().enumerate() {
        match &mut open {
            None if line.trim_start().starts_with("```sh") => {
                open = Some(Block {
                    line: i + 2,
                    text: String::new(),
                })
            }
            Some(_) if line.trim_start().starts_with("```") => blocks.extend(open.take()),
            Some(b) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            None => {}
        }
    }
    assert!(open.is_none(), "README.md has an unclosed ```sh block");
    blocks
}

/// One shell command of a block, as bash reads it (continuation lines and quoted newlines
/// included, comments left out).
#[derive(Debug)]
struct ShellCommand {
    /// Its first line in README.md.
    line: usize,
    text: String,
    /// The status a trailing `# → NNN` says its last curl is answered.
    expect: Option<u16>,
    /// `NAME` when the command is `NAME=$(…)`.
    captures: Option<String>,
}

/// Splits a block into commands: a newline ends one unless it is quoted, escaped or inside
/// parentheses; `#` starting a word outside quotes starts a comment.
fn commands(block: &Block) -> Vec<ShellCommand> {
    let mut out = Vec::new();
    let (mut text, mut comments) = (String::new(), String::new());
    let (mut single, mut double, mut depth, mut comment) = (false, false, 0usize, false);
    let mut line = block.line;
    let mut start = line;
    let mut chars = block.text.chars();
    while let Some(c) = chars.next() {
        if comment {
            if c == '\n' {
                comment = false;
            } else {
                // A comment counts only once its command has begun.
                if !text.trim().is_empty() {
                    comments.push(c);
                }
                continue;
            }
        }
        match c {
            '\n' => {
                line += 1;
                if single || double || depth > 0 {
                    text.push(c);
                    continue;
                }
                let command = text.trim();
                if !command.is_empty() {
                    out.push(ShellCommand {
                        line: start,
                        text: command.to_owned(),
                        expect: expected_status(&comments),
                        captures: capture(command),
                    });
                }
                text.clear();
                comments.clear();
                continue;
            }
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '\\' if !single => {
                text.push(c);
                match chars.next() {
                    Some('\n') => {
                        line += 1;
                        text.push('\n');
                    }
                    Some(next) => text.push(next),
                    None => {}
                }
                continue;
            }
            '(' if !single && !double => depth += 1,
            ')' if !single && !double => depth = depth.saturating_sub(1),
            '#' if !single && !double && (text.is_empty() || text.ends_with([' ', '\t', ';'])) => {
                comment = true;
                continue;
            }
            _ => {}
        }
        if text.trim().is_empty() && !c.is_whitespace() {
            start = line;
        }
        text.push(c);
    }
    assert!(
        text.trim().is_empty(),
        "README.md:{start}: a command is not closed: {text}"
    );
    out
}

/// `NNN` of a `→ NNN` in a command's comments.
fn expected_status(comments: &str) -> Option<u16> {
    let (_, after) = comments.split_once('→')?;
    let digits: String = after.trim_start().chars().take(3).collect();
    Some(digits.parse().unwrap_or_else(|_| {
        panic!("`→` in a README comment must be followed by a status: {comments}")
    }))
}

/// `NAME` of a command `NAME=$(…)`.
fn capture(command: &str) -> Option<String> {
    let (name, rest) = command.split_once('=')?;
    let is_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    (is_name && rest.starts_with("$(")).then(|| name.to_owned())
}

/// What a block does in the run.
enum Step {
    /// `cargo run --release -- serve ARGS`: (re)start the server with these arguments.
    Serve(Vec<String>),
    /// Run these commands in the current session.
    Run(Vec<ShellCommand>),
    /// Not run; why.
    Skip(&'static str),
}

fn step(block: &Block) -> Step {
    let lines: Vec<&str> = block
        .text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    if let Some(args) = lines
        .iter()
        .find_map(|l| l.strip_prefix("cargo run --release -- serve"))
    {
        assert_eq!(
            lines.len(),
            1,
            "README.md:{}: a block that starts the server holds nothing else",
            block.line
        );
        return Step::Serve(args.split_whitespace().map(str::to_owned).collect());
    }
    let commands = commands(block);
    if commands.iter().any(|c| uses_curl(&c.text)) {
        return Step::Run(commands);
    }
    let first = lines.first().copied().unwrap_or_default();
    Step::Skip(
        if first.starts_with("cargo") || first.contains("didpool-bench") {
            "building, testing and benchmarking"
        } else if first.starts_with("createdb") {
            "PostgreSQL set-up"
        } else {
            "the didpool command line (placeholder ids and files)"
        },
    )
}

fn uses_curl(command: &str) -> bool {
    command
        .split(|c: char| c.is_whitespace() || "();|$".contains(c))
        .any(|w| w == "curl")
}

async fn run_readme() {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("reading README.md");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database_url = format!("sqlite://{}", dir.path().join("didpool.db").display());
    let mut server: Option<Server> = None;
    let mut session: Option<Session> = None;
    let mut ran = 0;
    let mut skipped = Vec::new();
    for block in sh_blocks(&readme) {
        match step(&block) {
            Step::Skip(why) => skipped.push(format!("README.md:{} ({why})", block.line)),
            Step::Serve(args) => {
                let before = match server.take() {
                    Some(running) => Some(running.stop().await),
                    None => None,
                };
                let started = Server::start(&database_url, dir.path(), &args).await;
                if let Some(before) = before {
                    check_restart(&before, &started).await;
                }
                session = Some(Session::start(dir.path(), &started).await);
                server = Some(started);
            }
            Step::Run(commands) => {
                let (Some(server), Some(session)) = (&server, &mut session) else {
                    panic!(
                        "README.md:{}: examples before any `cargo run --release -- serve` block",
                        block.line
                    );
                };
                for command in &commands {
                    session.run(server, command).await;
                    ran += 1;
                }
            }
        }
    }
    assert!(ran >= 50, "only {ran} README commands ran");
    eprintln!(
        "README: {ran} commands ran; skipped blocks: {}",
        skipped.join(", ")
    );
    if let Some(server) = server {
        server.stop().await;
    }
    let (sound, report) = support::didpool_check(&database_url).await;
    assert!(sound, "the examples left a broken database:\n{report}");
}

/// A `didpool serve` process and what its demo printed.
struct Server {
    child: Child,
    base: String,
    /// The lines `--demo` printed (bash).
    demo: String,
    log: PathBuf,
}

impl Server {
    async fn start(database_url: &str, dir: &Path, args: &[String]) -> Self {
        use std::io::Write as _;

        let log = dir.join("server.log");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("opening the server log");
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_didpool"));
        command
            .arg("--database-url")
            .arg(database_url)
            .arg("serve")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .env("DIDPOOL_LOG", "warn,didpool::cli=info")
            .env("NO_COLOR", "1");
        for (name, _) in std::env::vars() {
            if name.starts_with("DIDPOOL_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("starting didpool serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("a piped stdout")).lines();
        let mut stderr = BufReader::new(child.stderr.take().expect("a piped stderr")).lines();
        let started = tokio::time::timeout(STARTUP_DEADLINE, async {
            let mut demo = String::new();
            let mut addr = None;
            let mut printed = !args.iter().any(|a| a == "--demo");
            while addr.is_none() || !printed {
                tokio::select! {
                    line = stdout.next_line(), if !printed => match line {
                        Ok(Some(line)) => {
                            printed = line.starts_with("# Try:");
                            demo.push_str(&line);
                            demo.push('\n');
                        }
                        _ => return None,
                    },
                    line = stderr.next_line(), if addr.is_none() => match line {
                        Ok(Some(line)) => {
                            let _ = writeln!(file, "{line}");
                            addr = support::listening_addr(&line);
                        }
                        _ => return None,
                    },
                }
            }
            Some((demo, addr?))
        })
        .await
        .unwrap_or_else(|_| {
            panic!("didpool serve {args:?} did not start within {STARTUP_DEADLINE:?}")
        });
        let Some((demo, addr)) = started else {
            let _ = child.kill().await;
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("didpool serve {args:?} exited without listening:\n{text}");
        };
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                let _ = writeln!(file, "{line}");
            }
        });
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        Self {
            child,
            base: format!("http://{addr}"),
            demo,
            log,
        }
    }

    /// Stops it at once (every answer it gave is on disk already) and keeps what it printed.
    async fn stop(mut self) -> Printed {
        let _ = self.child.kill().await;
        Printed {
            vars: demo_vars(&self.demo),
        }
    }

    fn recent_log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(20).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

/// What a stopped server's demo printed.
struct Printed {
    vars: BTreeMap<String, String>,
}

/// The plain `NAME=value` assignments among the demo's lines.
fn demo_vars(demo: &str) -> BTreeMap<String, String> {
    demo.lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.split("; "))
        .filter_map(|a| a.split_once('='))
        .filter(|(_, v)| !v.starts_with('('))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect()
}

/// A restarted demo refuses what the last run printed and holds one live credential of each kind
/// for the demo customer: its keys do not pile up.
async fn check_restart(before: &Printed, now: &Server) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .no_proxy()
        .build()
        .expect("a reqwest client");
    let old = |name: &str| {
        before
            .vars
            .get(name)
            .unwrap_or_else(|| panic!("the demo printed no {name}"))
            .clone()
    };
    let base = &now.base;
    let refused = [
        http.get(format!("{base}/api/v1/auth/me"))
            .header("X-Auth-ID", old("A"))
            .header("X-Auth-Token", old("TOKEN")),
        http.get(format!("{base}/api/v1/auth/me"))
            .header("X-Auth-ID", old("AA"))
            .header("X-Auth-Token", old("AA_TOKEN")),
        http.get(format!("{base}/api/v1/phone-numbers/"))
            .header("X-Api-Key", old("AGNI_KEY")),
        http.get(format!("{base}/v1/phone/"))
            .bearer_auth(old("DIGA_KEY")),
    ];
    for request in refused {
        let request = request.build().expect("a request");
        let what = format!("{} {:?}", request.url(), request.headers());
        let status = http.execute(request).await.expect("an answer").status();
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "a credential of the last demo run still works after a restart: {what}"
        );
    }
    let vars = demo_vars(&now.demo);
    let keys: Value = http
        .get(format!("{base}/admin/v1/accounts/MA_DEMO000001/keys"))
        .bearer_auth(&vars["ADMIN_TOKEN"])
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("a key list");
    let mut live = BTreeMap::new();
    for k in keys["keys"].as_array().expect("keys") {
        if k["live"] == true {
            *live
                .entry(k["kind"].as_str().expect("a kind").to_owned())
                .or_insert(0) += 1;
        }
    }
    assert_eq!(
        live,
        BTreeMap::from([
            ("agni".to_owned(), 1),
            ("diga".to_owned(), 1),
            ("vobiz".to_owned(), 1)
        ]),
        "the demo customer's live credentials after a restart: {keys}"
    );
}

/// A bash session with the demo's lines sourced, as a user's shell after pasting them.
struct Session {
    _child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    /// Where the curl function writes each answer's status.
    statuses: PathBuf,
}

const MARK: &str = "__README_DONE__";

impl Session {
    async fn start(dir: &Path, server: &Server) -> Self {
        let demo = dir.join("demo.sh");
        std::fs::write(&demo, &server.demo).expect("writing the demo's lines");
        let statuses = dir.join("statuses");
        let mut child = tokio::process::Command::new("bash")
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir)
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("starting bash");
        let stdin = child.stdin.take().expect("a piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("a piped stdout")).lines();
        let mut session = Self {
            _child: child,
            stdin,
            stdout,
            statuses,
        };
        let prelude = format!(
            r#"exec 2>&1
set -u -o pipefail
__base='{base}'
__statuses='{statuses}'
__body='{body}'
curl() {{
  local a
  for a in "$@"; do
    case "$a" in
      *://*) case "$a" in "$__base"|"$__base"/*) ;; *) echo "refused: $a" >> "$__statuses"; return 0;; esac;;
    esac
  done
  local code
  code=$(command curl -sS --noproxy '*' --connect-timeout 5 --max-time 20 -o "$__body" -w '%{{http_code}}' "$@") || code="curl failed: $?"
  echo "$code" >> "$__statuses"
  cat "$__body" 2>/dev/null
  rm -f "$__body"
}}
source '{demo}'
"#,
            base = server.base,
            statuses = session.statuses.display(),
            body = dir.join("body").display(),
            demo = demo.display(),
        );
        let (rc, output, _) = session.send(&prelude, None).await;
        assert_eq!(rc, "0", "sourcing the demo's lines failed:\n{output}");
        session
    }

    /// Sends `script` and what prints its exit status (and `$capture`) after it; returns those
    /// and everything it printed.
    async fn send(&mut self, script: &str, capture: Option<&str>) -> (String, String, String) {
        let var = capture.map_or(String::new(), |v| format!("${{{v}-}}"));
        let wrapped =
            format!("{script}\n__rc=$?; printf '\\n{MARK} %s %s\\n' \"$__rc\" \"{var}\"\n");
        self.stdin
            .write_all(wrapped.as_bytes())
            .await
            .expect("writing to bash");
        self.stdin.flush().await.expect("flushing to bash");
        let mut output = String::new();
        let read = tokio::time::timeout(COMMAND_DEADLINE, async {
            loop {
                match self.stdout.next_line().await {
                    Ok(Some(line)) => match line.strip_prefix(MARK) {
                        Some(rest) => {
                            let rest = rest.trim_start();
                            let (rc, value) = rest.split_once(' ').unwrap_or((rest, ""));
                            return Some((rc.to_owned(), value.to_owned()));
                        }
                        None => {
                            output.push_str(&line);
                            output.push('\n');
                        }
                    },
                    _ => return None,
                }
            }
        })
        .await;
        match read {
            Ok(Some((rc, value))) => (rc, output, value),
            Ok(None) => (format!("bash exited ({output})"), output, String::new()),
            Err(_) => (
                format!("no end within {COMMAND_DEADLINE:?}"),
                output,
                String::new(),
            ),
        }
    }

    async fn run(&mut self, server: &Server, command: &ShellCommand) {
        std::fs::write(&self.statuses, "").expect("clearing the statuses");
        let text = command.text.replace(README_ADDRESS, &server.base);
        let (rc, output, value) = self.send(&text, command.captures.as_deref()).await;
        let statuses = std::fs::read_to_string(&self.statuses).unwrap_or_default();
        let statuses: Vec<&str> = statuses.lines().collect();
        // The transcript: shown with the failure, or with `--nocapture`.
        eprintln!(
            "README.md:{} {statuses:?} {value}\n$ {text}\n{}",
            command.line,
            output.trim_end()
        );
        macro_rules! failure {
            ($($why:tt)*) => {
                panic!(
                    "README.md:{}: {}\n$ {}\n{output}\nthe server's last log lines:\n{}",
                    command.line,
                    format!($($why)*),
                    command.text,
                    server.recent_log()
                )
            };
        }
        if rc != "0" {
            failure!("it exited with {rc}");
        }
        if uses_curl(&command.text) && statuses.is_empty() {
            failure!("its curl was not run");
        }
        let codes: Vec<u16> = statuses
            .iter()
            .map(|s| {
                s.parse()
                    .unwrap_or_else(|_| failure!("a request failed: {s}"))
            })
            .collect();
        if let Some((last, earlier)) = codes.split_last() {
            let last_ok = match command.expect {
                Some(want) => *last == want,
                None => *last < 400,
            };
            if !last_ok || earlier.iter().any(|c| *c >= 400) {
                let want = command
                    .expect
                    .map_or("below 400".to_owned(), |w| w.to_string());
                failure!("answered {codes:?}, expected {want}");
            }
        } else if let Some(want) = command.expect {
            failure!("expected {want}, but no request was made");
        }
        if let Some(name) = &command.captures {
            if value.is_empty() || value == "null" {
                failure!("it left {name} empty (\"{value}\")");
            }
        }
    }
}
