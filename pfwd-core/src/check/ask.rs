//! Asking the prober: one `POST /v1/probe` over plain HTTP/1.1.

use std::time::Duration;

use http_body_util::BodyExt;

use super::messages::{PROBE_PATH, ProbeRefusal, ProbeReply, ProbeRequest};
use super::options::ProberUrl;
use crate::error::{Error, Result};

/// The largest answer pfwd reads from a prober: 16 KiB.
const MAX_ANSWER: usize = 16 * 1024;

/// Send `request` to the prober at `url` and read its reply, within `limit`.
///
/// # Errors
///
/// [`Error::Prober`] when the prober cannot be reached, refuses (with its
/// message), answers what is not a probe reply, or takes longer than `limit`.
pub async fn ask(url: &ProberUrl, request: &ProbeRequest, limit: Duration) -> Result<ProbeReply> {
    let prober_error = |detail: String| Error::Prober {
        url: url.to_string(),
        detail,
    };
    let uri: hyper::Uri = format!("{url}{PROBE_PATH}")
        .parse()
        .map_err(|e| prober_error(format!("is not a valid address: {e}")))?;
    let body = serde_json::to_vec(request)
        .map_err(|e| prober_error(format!("could not be asked: {e}")))?;
    let http = hyper::Request::post(uri)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(
            hyper::header::USER_AGENT,
            concat!("pfwd/", env!("CARGO_PKG_VERSION")),
        )
        .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
        .map_err(|e| prober_error(format!("could not be asked: {e}")))?;
    let exchange = async {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Full<hyper::body::Bytes>>();
        let response = client
            .request(http)
            .await
            .map_err(|e| prober_error(format!("could not be reached: {}", error_chain(&e))))?;
        let status = response.status();
        let bytes = http_body_util::Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| prober_error(format!("sent an answer that could not be read: {e}")))?
            .to_bytes();
        if !status.is_success() {
            let why = serde_json::from_slice::<ProbeRefusal>(&bytes)
                .map(|r| format!("{} ({})", r.message, r.error))
                .unwrap_or_else(|_| format!("HTTP {status}"));
            return Err(prober_error(format!("refused the probe: {why}")));
        }
        serde_json::from_slice::<ProbeReply>(&bytes).map_err(|e| {
            prober_error(format!(
                "answered something that is not a probe reply ({e}); is it `pfwd probe-server`?"
            ))
        })
    };
    tokio::time::timeout(limit, exchange)
        .await
        .map_err(|_| prober_error(format!("did not answer within {} s", limit.as_secs())))?
}

/// An error and its sources on one line ("client error (Connect): tcp
/// connect error: Connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
