//! `gpx_natsmicro`: the backend executable Grafana starts for the NATS micro data source.

use std::process::ExitCode;

fn main() -> ExitCode {
    natsmicro::grafana::logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gpx_natsmicro: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(natsmicro::grafana::serve::run());
    // Background work (late discovery listeners) must not delay exit.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "plugin failed");
            eprintln!("gpx_natsmicro: {e}");
            ExitCode::FAILURE
        }
    }
}
