//! One request, one answer: route it, read the body within its bounds,
//! read the [`ProbeRequest`], admit the probe, run it against the address
//! the connection came from, and answer JSON: a [`ProbeReply`] or a
//! [`ProbeRefusal`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;

use super::limits::{Gate, Refusal, Source};
use super::probe::probe;
use super::{Counters, outcome_name};
use crate::check::messages::{PROBE_PATH, ProbeRefusal, ProbeReply, ProbeRequest};

/// The body of every answer.
pub(crate) type Body = Full<Bytes>;

/// What every connection's requests share.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pub gate: Arc<Gate>,
    pub counters: Counters,
}

/// A request refused: the status, the stable error name, the message, and
/// when to try again.
#[derive(Debug)]
struct Refused {
    status: StatusCode,
    error: &'static str,
    message: String,
    retry_after: Option<u64>,
    allow: bool,
}

impl Refused {
    fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Refused {
        Refused {
            status,
            error,
            message: message.into(),
            retry_after: None,
            allow: false,
        }
    }

    fn bad_request(message: impl Into<String>) -> Refused {
        Refused::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn too_large(max: usize) -> Refused {
        Refused::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body is larger than {max} bytes; a probe request is a small JSON object"),
        )
    }

    fn response(self) -> Response<Body> {
        let body = ProbeRefusal {
            error: self.error.to_string(),
            message: self.message,
        };
        let mut r = json(self.status, &body);
        if let Some(secs) = self.retry_after {
            r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.allow {
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("POST"));
        }
        r
    }
}

/// `value` as a JSON answer with `status`.
fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    // These types serialize without fail; an empty object would do if not.
    let text = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = Response::new(Full::new(Bytes::from(text)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Answer `req`, which came over a connection from `peer`.
pub(crate) async fn answer(
    req: Request<Incoming>,
    peer: SocketAddr,
    shared: &Shared,
) -> Response<Body> {
    match run(req, peer, shared).await {
        Ok(reply) => json(StatusCode::OK, &reply),
        Err(refused) => {
            shared.counters.refused(refused.status);
            log::debug!(
                "{} refused: {} {}",
                peer.ip().to_canonical(),
                refused.status.as_u16(),
                refused.error
            );
            refused.response()
        }
    }
}

async fn run(
    req: Request<Incoming>,
    peer: SocketAddr,
    shared: &Shared,
) -> Result<ProbeReply, Refused> {
    let limits = shared.gate.limits();
    if req.uri().path() != PROBE_PATH {
        return Err(Refused::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("nothing here: the probe server answers only POST {PROBE_PATH}"),
        ));
    }
    if req.method() != Method::POST {
        return Err(Refused {
            allow: true,
            ..Refused::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{PROBE_PATH} takes POST with a JSON probe request"),
            )
        });
    }
    // A declared length over the bound is refused before reading a byte.
    if req.body().size_hint().lower() > limits.max_body as u64 {
        return Err(Refused::too_large(limits.max_body));
    }
    let read = Limited::new(req.into_body(), limits.max_body).collect();
    let body = match tokio::time::timeout(limits.body_timeout, read).await {
        Err(_) => {
            return Err(Refused::new(
                StatusCode::REQUEST_TIMEOUT,
                "bad_request",
                format!(
                    "the body did not arrive within {} ms",
                    limits.body_timeout.as_millis()
                ),
            ));
        }
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(Refused::too_large(limits.max_body));
        }
        Ok(Err(e)) => {
            return Err(Refused::bad_request(format!(
                "the body could not be read: {e}"
            )));
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let request: ProbeRequest = serde_json::from_slice(&body).map_err(|e| {
        Refused::bad_request(format!(
            "not a probe request ({e}): send {{\"protocol\": \"tcp\" or \"udp\", \
             \"port\": 1-65535, \"token\": 16-64 of A-Z a-z 0-9 - _}} and nothing else"
        ))
    })?;
    if request.port == 0 {
        return Err(Refused::bad_request(
            "port 0 cannot be probed: give the public port to check, 1-65535",
        ));
    }
    let ip = peer.ip().to_canonical();
    if !may_probe(ip) {
        return Err(Refused::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "the request came from {ip}, this machine's own loopback: a probe would reach \
                 this machine, not the asker's; run the probe server where clients reach it \
                 directly, not behind a proxy on the same machine"
            ),
        ));
    }
    let _permit = shared
        .gate
        .probe(Source::of(ip))
        .map_err(|r| refusal(r, Source::of(ip)))?;
    let reply = probe(ip, request.protocol, request.port, &request.token).await;
    shared.counters.probed();
    log::info!(
        target: "pfwd_core::check::prober",
        "{ip} {} {}: {}{} in {} ms",
        reply.protocol,
        reply.port,
        outcome_name(reply.outcome),
        if reply.token_returned {
            ", token returned"
        } else {
            ""
        },
        reply.elapsed_ms
    );
    Ok(reply)
}

/// Whether the prober may probe `ip`, the address a request came from: not
/// its own loopback (where a reverse proxy on the same machine would put
/// every request, turning probes against the machine itself) and not the
/// unspecified address.
fn may_probe(ip: IpAddr) -> bool {
    !(ip.is_loopback() || ip.is_unspecified())
}

/// The answer to a probe the limits refused.
fn refusal(r: Refusal, source: Source) -> Refused {
    let (status, error, message) = match r {
        Refusal::SourceBusy => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("{source} has as many probes running as it may; wait for them to end"),
        ),
        Refusal::TooOften(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("{source} has asked for as many probes as it may this minute"),
        ),
        Refusal::Busy => (
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the probe server is running as many probes as it may".to_string(),
        ),
    };
    let retry = r.retry_after_secs();
    Refused {
        retry_after: Some(retry),
        ..Refused::new(status, error, format!("{message}; try again in {retry} s"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_unspecified_are_never_probed() {
        for a in [
            "127.0.0.1",
            "127.9.9.9",
            "::1",
            "0.0.0.0",
            "::",
            "::ffff:127.0.0.1",
        ] {
            let ip: IpAddr = a.parse().unwrap_or_else(|e| panic!("{a}: {e}"));
            assert!(!may_probe(ip.to_canonical()), "{a}");
        }
        for a in ["5.5.5.7", "192.168.1.4", "2001:db8::1"] {
            let ip: IpAddr = a.parse().unwrap_or_else(|e| panic!("{a}: {e}"));
            assert!(may_probe(ip), "{a}");
        }
    }

    #[test]
    fn refusals_say_when_to_come_back() {
        let s = Source::of([5, 5, 5, 7].into());
        let r = refusal(Refusal::TooOften(std::time::Duration::from_millis(2500)), s);
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.retry_after, Some(3));
        assert!(r.message.ends_with("try again in 3 s"), "{}", r.message);
        let resp = r.response();
        assert_eq!(resp.headers()[RETRY_AFTER], "3");
        let busy = refusal(Refusal::Busy, s);
        assert_eq!((busy.status.as_u16(), busy.error), (503, "busy"));
    }
}
