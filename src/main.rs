//! `gpx_natsmicro`: the backend executable Grafana starts for the NATS micro data source.

use std::process::ExitCode;

fn main() -> ExitCode {
    tune_allocator();
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

/// One glibc arena, and large blocks always mapped (so freed at once): by default glibc gives
/// each thread that contends for memory an arena of its own and raises the mapping threshold to
/// the largest block freed, and both keep freed memory in the process. Under peers that flood
/// every round, one arena and a fixed threshold keep the peak RSS near what is in use (see
/// BENCHMARKS.md, "Hostile peers").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only sets allocator parameters; it runs before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}
