//! `ws` steps: a WebSocket on a connection of its own (tokio-tungstenite over the VU's
//! TCP connect), on which each message is sent and its reply awaited before the next, so
//! every message has a round-trip time. The session is closed at the end of the step.

use std::time::Instant;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::Uri;
use minijinja::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::stream::{Head, Session};
use super::Failure;
use super::{head_size, request_size, Env, StepResult, User};
use crate::client::{classify_io, tcp_connect, Origin, MAX_BODY_BYTES};
use crate::plan::{append_query, StepPlan, WsPlan};
use crate::report::metrics::Category;

/// How long closing the socket may take before it is simply dropped.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) async fn step(
    user: &mut User,
    env: &Env<'_>,
    step: &StepPlan,
    ws: &WsPlan,
    ctx: &Value,
) -> StepResult {
    let mut s = Session::new(step);
    if let Err(e) = session(user, env, step, ws, ctx, &mut s).await {
        s.broke(e);
    }
    s.finish(user, env, ctx)
}

/// The socket's URL: the rendered URL with its query, `http`/`https` read as `ws`/`wss`
/// (so `{{ base_url }}/ws` works), and the origin to connect to.
fn ws_uri(
    step: &StepPlan,
    ctx: &Value,
) -> Result<(Uri, Origin, Option<http::HeaderValue>), Failure> {
    let template =
        |e: String| Failure::new(Category::Template, format!("cannot build the request: {e}"));
    let mut url = step.url.render(ctx).map_err(template)?;
    for (k, v) in &step.query {
        append_query(&mut url, k, &v.render(ctx).map_err(template)?);
    }
    let trimmed = url.trim();
    let (scheme_len, ws) = match trimmed.split_once("://") {
        Some((s, _)) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("ws") => {
            (s.len(), "ws")
        }
        Some((s, _)) if s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("wss") => {
            (s.len(), "wss")
        }
        _ => {
            return Err(Failure::new(
                Category::Protocol,
                format!("`{url}` is not a ws:// (or http://) URL"),
            ))
        }
    };
    let rest = &trimmed[scheme_len..];
    let bad = |e: http::uri::InvalidUri| {
        Failure::new(Category::Protocol, format!("invalid URL `{url}`: {e}"))
    };
    let uri: Uri = format!("{ws}{rest}").parse().map_err(bad)?;
    let (uri, auth) = crate::client::split_userinfo(uri).map_err(template)?;
    let http: Uri = format!(
        "{}://{}",
        if ws == "ws" { "http" } else { "https" },
        uri.authority().map_or("", |a| a.as_str())
    )
    .parse()
    .map_err(bad)?;
    Ok((uri, Origin::of(&http)?, auth))
}

fn classify(e: &WsError) -> Category {
    match e {
        WsError::Io(io) => classify_io(io).into(),
        WsError::ConnectionClosed | WsError::AlreadyClosed => Category::StreamClosed,
        WsError::Capacity(_) => Category::BodyTooLarge,
        WsError::Tls(_) => Category::Tls,
        _ => Category::Protocol,
    }
}

async fn session(
    user: &mut User,
    env: &Env<'_>,
    step: &StepPlan,
    plan: &WsPlan,
    ctx: &Value,
    s: &mut Session<'_>,
) -> Result<(), Failure> {
    let deadline = s.deadline();
    let timeout = throng_ir::format_duration(step.timeout);
    let (uri, origin, auth) = ws_uri(step, ctx)?;
    if origin.https {
        return Err(Failure::new(
            Category::Tls,
            "wss is not supported by this build of throng",
        ));
    }
    let mut head = step
        .render_headers(ctx)
        .map_err(|e| Failure::new(Category::Template, format!("cannot build the request: {e}")))?;
    crate::client::add_basic_auth(&mut head, auth);
    user.agent.finish_head(&uri, &origin, &mut head);
    let mut request = (&uri)
        .into_client_request()
        .map_err(|e| Failure::new(Category::Protocol, e.to_string()))?;
    // The handshake's own headers (key, version, upgrade) stay; the step's are added.
    for (k, v) in head.iter() {
        if !request.headers().contains_key(k) {
            request.headers_mut().insert(k.clone(), v.clone());
        }
    }
    let pq = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
    // Counted once a connection takes the handshake: bytes that reached no socket are not sent.
    let handshake_size = request_size(&http::Method::GET, &pq, request.headers(), 0) as u64;
    if env.trace.is_some() {
        s.traced = Some((uri.to_string(), request.headers().clone()));
    }
    let timed_out =
        |what: &str| Failure::new(Category::Timeout, format!("{what} within {timeout}"));
    let tcp = tokio::time::timeout_at(deadline, tcp_connect(&origin))
        .await
        .map_err(|_| timed_out("no connection"))??;
    s.usage.opened += 1;
    s.sent += handshake_size;
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_BODY_BYTES))
        .max_frame_size(Some(MAX_BODY_BYTES));
    let handshake = tokio_tungstenite::client_async_with_config(request, tcp, Some(config));
    let (mut socket, response) = match tokio::time::timeout_at(deadline, handshake).await {
        Err(_) => return Err(timed_out("no handshake")),
        Ok(Ok(pair)) => pair,
        Ok(Err(WsError::Http(resp))) => {
            // Refused: judge the response like any other, with its body for the message.
            let latency = s.start().elapsed();
            let (parts, body) = (*resp).into_parts();
            s.received += head_size(&parts.headers) as u64;
            let body = body.map(Bytes::from);
            s.received += body.as_ref().map_or(0, |b| b.len() as u64);
            let status = parts.status.as_u16();
            let head = Head {
                status,
                headers: parts.headers,
                latency,
                host: origin.host.clone(),
            };
            if s.head(head, body.as_ref(), ctx) {
                return Err(Failure::new(
                    Category::Protocol,
                    format!("the server answered {status} instead of switching protocols"),
                ));
            }
            return Ok(());
        }
        Ok(Err(e)) => return Err(Failure::new(classify(&e), format!("handshake: {e}"))),
    };
    let latency = s.start().elapsed();
    let (parts, _) = response.into_parts();
    s.received += head_size(&parts.headers) as u64;
    user.agent.store_cookies(
        parts
            .headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .map(|v| v.as_bytes()),
        &origin,
        uri.path(),
    );
    let head = Head {
        status: parts.status.as_u16(),
        headers: parts.headers,
        latency,
        host: origin.host.clone(),
    };
    if !s.head(head, None, ctx) {
        let _ = tokio::time::timeout(CLOSE_WAIT, socket.close(None)).await;
        return Ok(());
    }

    let result = exchange(&mut socket, env, plan, ctx, s, deadline, &timeout).await;
    if result.is_ok()
        || result
            .as_ref()
            .is_err_and(|e| e.category == Category::Template)
    {
        let _ = tokio::time::timeout(CLOSE_WAIT, socket.close(None)).await;
    }
    result
}

/// Sends each message and awaits its reply.
async fn exchange<S>(
    socket: &mut tokio_tungstenite::WebSocketStream<S>,
    env: &Env<'_>,
    plan: &WsPlan,
    ctx: &Value,
    s: &mut Session<'_>,
    deadline: tokio::time::Instant,
    timeout: &str,
) -> Result<(), Failure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let count = plan.count;
    let mut replies: u64 = 0;
    for i in 0..count {
        let seq = i + 1;
        let message = &plan.messages[(i % plan.messages.len() as u64) as usize];
        let text = if message.is_fixed() {
            message.render(ctx)
        } else {
            message.render(&minijinja::context! { seq => seq, ..ctx.clone() })
        }
        .map_err(|e| Failure::new(Category::Template, format!("message {seq}: {e}")))?;
        let len = text.len() as u64;
        // The text is needed again only to compare it with an echo.
        let echo_of = plan.echo.then(|| text.clone());
        let sent_at = Instant::now();
        match tokio::time::timeout_at(deadline, socket.send(Message::text(text))).await {
            Err(_) => {
                return Err(Failure::new(
                    Category::Timeout,
                    format!("message {seq} not sent within {timeout}"),
                ))
            }
            Ok(Err(e)) => {
                return Err(Failure::new(
                    classify(&e),
                    format!("sending message {seq}: {e}"),
                ))
            }
            Ok(Ok(())) => {}
        }
        s.batch.sent += 1;
        s.sent += len + 6;
        let reply: Bytes = loop {
            let next = match tokio::time::timeout_at(deadline, socket.next()).await {
                Err(_) => {
                    return Err(Failure::new(
                        Category::Timeout,
                        format!("{replies} of {count} replies within {timeout}"),
                    ))
                }
                Ok(None) => Err(WsError::ConnectionClosed),
                Ok(Some(r)) => r,
            };
            match next {
                Ok(Message::Text(t)) => break Bytes::from(t),
                Ok(Message::Binary(b)) => break b,
                // Pings are answered by tungstenite itself; neither is a reply.
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
                Ok(Message::Close(_)) | Err(WsError::ConnectionClosed) => {
                    return Err(Failure::new(
                        Category::StreamClosed,
                        format!(
                            "the server closed the WebSocket after {replies} of {count} replies"
                        ),
                    ))
                }
                Err(e) => {
                    return Err(Failure::new(
                        classify(&e),
                        format!("reading reply {seq}: {e}"),
                    ))
                }
            }
        };
        let now = Instant::now();
        replies += 1;
        s.received += reply.len() as u64 + 2;
        s.arrived(env, Some(sent_at), now);
        if let Some(sent) = echo_of {
            if reply.as_ref() != sent.as_bytes() {
                s.not_an_echo(seq, &sent, &reply);
            }
        }
        s.message(seq, "reply", reply, ctx);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_context_sees_seq_and_the_step_variables() {
        let ctx = minijinja::Value::from(minijinja::value::Serde(
            serde_json::json!({"vu": 3, "seq": "shadowed"}),
        ));
        let merged = minijinja::context! { seq => 7, ..ctx };
        let env = minijinja::Environment::new();
        let out = env.render_str("{{ seq }}/{{ vu }}", merged).unwrap();
        assert_eq!(out, "7/3");
    }
}
