use clap::Parser;

/// mimalloc instead of the system allocator: a page of the owned list makes ~1,000 small
/// allocations, and glibc's malloc and free were ~20% of the server's CPU serving it
/// (BENCHMARKS.md, issue 17 round 4).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
