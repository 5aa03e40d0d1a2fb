//! Checkpoints in the history stream: the sampling process publishes its whole history now and then on `<stream>.<target>.checkpoint` (in chunks, the first rolling older checkpoints up), and a fresh process loads the newest complete one instead of reading the whole window.
//!
//! Each chunk carries the header `Natsmicro-Checkpoint: <index> <count> <first>`, where
//! `<first>` is the stream sequence of chunk 0 (0 in chunk 0 itself). A reader looks at the last
//! message of the subject: when it is the last chunk of its checkpoint, the chunks are read from
//! `<first>` on; otherwise a checkpoint is being written (or was cut short) and the reader reads
//! the window from the rounds instead.

use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use async_nats::jetstream::publish::PublishAck;
use async_nats::HeaderMap;
use bytes::Bytes;
use futures::StreamExt;

use super::SharedHistory;

const HEADER: &str = "Natsmicro-Checkpoint";

/// Where a chunk belongs: its index, the chunk count, and the stream sequence of chunk 0.
fn parse(headers: Option<&HeaderMap>) -> Option<(u64, u64, u64)> {
    let value = headers?.get(HEADER)?.as_str().to_string();
    let mut parts = value.split(' ').map(|p| p.parse::<u64>().ok());
    let (index, count, first) = (parts.next()??, parts.next()??, parts.next()??);
    (count > 0 && index < count && parts.next().is_none()).then_some((index, count, first))
}

impl SharedHistory {
    /// The headers of chunk `index` of `count`, sealed; the first chunk may roll older
    /// checkpoints up.
    fn chunk_headers(
        &self,
        subject: &str,
        (index, count, first): (usize, usize, u64),
        rollup: bool,
        payload: &[u8],
    ) -> HeaderMap {
        let place = format!("{index} {count} {first}");
        let mut headers = self.sealed_headers(subject, place.as_bytes(), payload);
        headers.insert(HEADER, place.as_str());
        if rollup {
            headers.insert(async_nats::header::NATS_ROLLUP, "sub");
        }
        headers
    }

    /// Whether a checkpoint chunk carries this identity's seal.
    fn chunk_sealed(&self, subject: &str, m: &async_nats::Message) -> bool {
        let place = m
            .headers
            .as_ref()
            .and_then(|h| h.get(HEADER))
            .map(|v| v.as_str().to_string())
            .unwrap_or_default();
        self.is_sealed(subject, place.as_bytes(), &m.payload, m.headers.as_ref())
    }

    fn checkpoint_subject(&self) -> String {
        format!("{}.checkpoint", self.subject)
    }

    /// Publish one checkpoint body; waits for the stream's acknowledgement of every chunk.
    pub async fn publish_checkpoint(&self, body: &[u8]) -> Result<(), String> {
        let subject = self.checkpoint_subject();
        let chunks: Vec<&[u8]> = body.chunks(self.chunk_bytes.max(1)).collect();
        let count = chunks.len();
        let mut first = 0u64;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let rollup = i == 0 && self.rollup.load(Ordering::Relaxed);
            let payload = Bytes::copy_from_slice(chunk);
            let ack = match self
                .send(
                    &subject,
                    self.chunk_headers(&subject, (i, count, first), rollup, chunk),
                    payload.clone(),
                )
                .await
            {
                // A stream created elsewhere may not allow rollups: older checkpoints then stay
                // until MaxAge removes them.
                Err(e) if rollup && e.to_ascii_lowercase().contains("rollup") => {
                    self.rollup.store(false, Ordering::Relaxed);
                    tracing::info!(stream = %self.stream, "the history stream does not allow rollups: older checkpoints stay until MaxAge");
                    self.send(
                        &subject,
                        self.chunk_headers(&subject, (i, count, first), false, chunk),
                        payload,
                    )
                    .await?
                }
                other => other?,
            };
            if i == 0 {
                first = ack.sequence;
            }
        }
        Ok(())
    }

    /// Publish one chunk and wait for the stream's acknowledgement.
    async fn send(&self, subject: &str, headers: HeaderMap, payload: Bytes) -> Result<PublishAck, String> {
        match self
            .js
            .publish_with_headers(subject.to_string(), headers, payload)
            .await
        {
            Ok(ack) => ack.await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The newest complete checkpoint's body, `None` when there is none (or one is being
    /// written), or an error; never more than `max_bytes` is held.
    /// With the body, the stream sequence of its first chunk (the checkpoint must stand before it).
    pub async fn load_checkpoint(&self, max_bytes: usize, wait: Duration) -> Result<Option<(Vec<u8>, u64)>, String> {
        let stream = self.stream().await?;
        let subject = self.checkpoint_subject();
        let consumer = |deliver_policy| pull::OrderedConfig {
            filter_subject: subject.clone(),
            deliver_policy,
            ..Default::default()
        };
        let last = stream
            .create_consumer(consumer(DeliverPolicy::LastPerSubject))
            .await
            .map_err(|e| e.to_string())?;
        if last.cached_info().num_pending == 0 {
            return Ok(None);
        }
        let mut messages = last.messages().await.map_err(|e| e.to_string())?;
        let message = match tokio::time::timeout(wait, messages.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(None) | Err(_) => return Err("no answer for the newest checkpoint".to_string()),
        };
        if !self.chunk_sealed(&subject, &message) {
            self.reject("unsealed");
            return Err("the newest checkpoint is not sealed with this data source's credentials".to_string());
        }
        let Some((index, count, first)) = parse(message.headers.as_ref()) else {
            return Err("the newest checkpoint message has no valid Natsmicro-Checkpoint header".to_string());
        };
        if index + 1 != count {
            return Ok(None);
        }
        if count == 1 {
            let at = message.info().map(|i| i.stream_sequence).unwrap_or(0);
            return Ok((message.payload.len() <= max_bytes).then(|| (message.payload.to_vec(), at)));
        }
        drop(messages);
        let chunks = stream
            .create_consumer(consumer(DeliverPolicy::ByStartSequence { start_sequence: first }))
            .await
            .map_err(|e| e.to_string())?;
        let mut messages = chunks.messages().await.map_err(|e| e.to_string())?;
        let mut body = Vec::new();
        for expect in 0..count {
            let m = match tokio::time::timeout(wait, messages.next()).await {
                Ok(Some(Ok(m))) => m,
                Ok(Some(Err(e))) => return Err(e.to_string()),
                Ok(None) | Err(_) => return Err("a checkpoint chunk did not come".to_string()),
            };
            if !self.chunk_sealed(&subject, &m) {
                self.reject("unsealed");
                return Err("a checkpoint chunk is not sealed with this data source's credentials".to_string());
            }
            let (i, n, f) = parse(m.headers.as_ref()).ok_or("a checkpoint chunk has no valid header")?;
            let first_here = if i == 0 {
                m.info().map(|info| info.stream_sequence).unwrap_or(0)
            } else {
                f
            };
            if i != expect || n != count || first_here != first {
                return Ok(None);
            }
            if body.len() + m.payload.len() > max_bytes {
                return Err(format!("the checkpoint is larger than {max_bytes} bytes"));
            }
            body.extend_from_slice(&m.payload);
        }
        Ok(Some((body, first)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER, v);
        h
    }

    #[test]
    fn chunk_headers_parse_only_when_whole() {
        assert_eq!(parse(Some(&headers("0 3 0"))), Some((0, 3, 0)));
        assert_eq!(parse(Some(&headers("2 3 17"))), Some((2, 3, 17)));
        for bad in ["3 3 17", "0 0 0", "1 2", "1 2 3 4", "a 2 3", ""] {
            assert_eq!(parse(Some(&headers(bad))), None, "{bad}");
        }
        assert_eq!(parse(None), None);
    }
}
