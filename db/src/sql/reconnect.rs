//! Waiting for a lost server to come back: reconnecting with backoff, bounded in time.

/// After a lost connection: tries `open` with backoff (0.5s, doubling, at most 10s apart)
/// until it succeeds, it fails with an error `retriable` rejects, or `limit` has passed since
/// the loss; then the last error. Logs each try, so a restarting server is visible.
pub async fn reconnect<T, E, F, Fut>(
    url: &str,
    limit: std::time::Duration,
    retriable: impl Fn(&E) -> bool,
    mut open: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let start = std::time::Instant::now();
    let mut wait = std::time::Duration::from_millis(500);
    loop {
        match open().await {
            Ok(c) => {
                tracing::info!(
                    "{url}: reconnected after {:.1}s",
                    start.elapsed().as_secs_f64()
                );
                return Ok(c);
            }
            Err(e) if retriable(&e) && start.elapsed() + wait <= limit => {
                tracing::warn!(
                    "{url}: cannot reconnect yet ({e}); trying again in {:.1}s (giving up after {}s)",
                    wait.as_secs_f64(),
                    limit.as_secs()
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(10));
            }
            Err(e) => return Err(e),
        }
    }
}
