//! Raw scatter-gather, the baseline of the discovery benchmarks: a bare async-nats client that knows N, in a process of its own, doing one `$SRV.PING` round each time it is asked, so that its rounds can be taken in turns with the plugin's and both see the same machine.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The argument that makes a benchmark program serve raw rounds ([`serve`]) instead of running.
pub const RAW_SCATTER_ARG: &str = "--raw-scatter";

/// One raw round: the time (ms) until the `n`-th reply.
pub async fn raw_round(c: &async_nats::Client, n: usize) -> Result<f64> {
    let t0 = Instant::now();
    let inbox = c.new_inbox();
    let mut sub = c.subscribe(inbox.clone()).await?;
    c.publish_with_reply("$SRV.PING", inbox, "".into()).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    for got in 0..n {
        if !matches!(tokio::time::timeout_at(deadline, sub.next()).await, Ok(Some(_))) {
            return Err(anyhow!("raw scatter: {got} of {n} replies"));
        }
    }
    Ok(t0.elapsed().as_secs_f64() * 1e3)
}

/// The child's side (`<program> --raw-scatter <url> <n>`): one round per line read from stdin,
/// its time in ms written as a line to stdout; ends at the end of stdin.
pub async fn serve(args: &[String]) -> Result<()> {
    let (url, n) = match args {
        [url, n, ..] => (url, n.parse::<usize>()?),
        _ => return Err(anyhow!("usage: {RAW_SCATTER_ARG} <url> <n>")),
    };
    let c = super::connect(url).await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut out = tokio::io::stdout();
    while lines.next_line().await?.is_some() {
        let ms = raw_round(&c, n).await?;
        out.write_all(format!("{ms}\n").as_bytes()).await?;
        out.flush().await?;
    }
    Ok(())
}

/// The parent's side: a child process of this very program serving raw rounds.
pub struct RawScatter {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl RawScatter {
    /// Start the child against the server at `url`, for a fleet of `n` instances.
    pub async fn start(url: &str, n: usize) -> Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args([RAW_SCATTER_ARG, url, &n.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().context("raw scatter: no stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("raw scatter: no stdout")?).lines();
        Ok(Self { child, stdin, stdout })
    }

    /// One round in the child: its time in ms.
    pub async fn round(&mut self) -> Result<f64> {
        self.stdin.write_all(b"\n").await?;
        self.stdin.flush().await?;
        let line = self
            .stdout
            .next_line()
            .await?
            .ok_or_else(|| anyhow!("raw scatter: the child ended (see its stderr)"))?;
        Ok(line.trim().parse()?)
    }
}

impl Drop for RawScatter {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
