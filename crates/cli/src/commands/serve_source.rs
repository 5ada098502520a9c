//! `graphetl serve-source`: the service-calls API on 127.0.0.1, serving generated records,
//! so a spec with an `http` source can be extracted locally. Serves until interrupted.

use std::process::ExitCode;

use graphetl_extract::source::{InjectedFailure, ServeOptions, serve_generated};

/// Arguments of `graphetl serve-source`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Records to serve (spread over the window).
    #[arg(long, default_value_t = 10_000)]
    records: u64,
    #[command(flatten)]
    generator: super::generate::GeneratorArgs,
    /// Port on 127.0.0.1 (0 picks a free one; the URL is printed). 8099 is the shipped spec's.
    #[arg(long, default_value_t = 8099)]
    port: u16,
    /// Records per page.
    #[arg(long, default_value_t = 1000)]
    page_size: usize,
    /// Answer every Nth request with 429 (Retry-After: 1) to exercise retries (0 = never).
    #[arg(long, default_value_t = 0)]
    throttle_every: u64,
}

/// Runs the command until interrupted.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let config = args.generator.config(args.records)?;
    let options = ServeOptions {
        page_size: args.page_size.max(1),
        fail_every: args.throttle_every,
        failure: InjectedFailure::TooManyRequests { retry_after_seconds: 1 },
        require_header: None,
    };
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let source = serve_generated(&config, options, ([127, 0, 0, 1], args.port).into()).await?;
        println!("{}", source.url_template());
        println!("serving {} records of {} (Ctrl-C stops)", args.records, config.window);
        std::future::pending::<()>().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
