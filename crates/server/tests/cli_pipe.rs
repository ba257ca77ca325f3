//! A command whose output is piped into `head` ends quietly when `head` has read enough, as Unix
//! tools do: no panic, no backtrace (Rust ignores SIGPIPE; the command line restores it).

use std::process::Command;

#[test]
fn events_list_into_head_ends_quietly() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}/didpool.db", dir.path().display());
    let didpool = env!("CARGO_BIN_EXE_didpool");
    let run = |args: &[&str]| {
        let out = Command::new(didpool)
            .args(["--database-url", &url])
            .args(args)
            .env("DIDPOOL_LOG", "error")
            .output()
            .expect("didpool runs");
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    run(&["migrate"]);
    // 2,000 stocked events: far more output than the pipe holds once `head` has gone.
    run(&["inventory", "generate", "--count", "2000"]);
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{didpool}' --database-url '{url}' events list --limit 2000 | head -c 1 >/dev/null"
        ))
        .env("DIDPOOL_LOG", "error")
        .output()
        .expect("sh runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{out:?}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
}
