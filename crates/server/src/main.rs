use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = didpool::cli::Cli::parse();
    didpool::cli::init_tracing(cli.log_format);
    match cli.run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
