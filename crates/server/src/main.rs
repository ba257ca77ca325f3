use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = didpool::cli::Cli::parse();
    if !cli.serves() {
        restore_sigpipe();
    }
    didpool::cli::init_tracing(cli.log_format);
    match cli.run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A command whose output is piped into `head` ends quietly when the pipe closes, as Unix tools
/// do (Rust ignores SIGPIPE, which makes `println!` panic there). Sockets are unaffected: Rust
/// sends with `MSG_NOSIGNAL`. `serve` keeps ignoring it.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: only the process's disposition of SIGPIPE changes; nothing in a command relies on
    // it being ignored.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
