//! Server-Sent Events and WebSocket echo, for testing streaming protocols.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::ws::{Message, WebSocket, WebSocketUpgrade},
    http::Uri,
    response::{
        sse::{Event, Sse},
        IntoResponse,
    },
};
use serde_json::{json, Value};

use crate::{
    error::{parse_param, query_map, ApiError},
    timefmt,
};

const MAX_EVENTS: u64 = 10_000;
const MAX_INTERVAL_MS: u64 = 10_000;

pub async fn sse(uri: Uri) -> Result<impl IntoResponse, ApiError> {
    let params = query_map(&uri)?;
    let events: u64 = parse_param(&params, "events")?
        .unwrap_or(10)
        .min(MAX_EVENTS);
    let interval: u64 = parse_param(&params, "interval_ms")?
        .unwrap_or(100)
        .min(MAX_INTERVAL_MS);
    let stream = futures_util::stream::unfold(0u64, move |i| async move {
        if i >= events {
            return None;
        }
        if i > 0 && interval > 0 {
            tokio::time::sleep(Duration::from_millis(interval)).await;
        }
        let data = json!({
            "id": i + 1,
            "message": format!("event {} of {events}", i + 1),
            "timestamp": timefmt::now_rfc3339(),
        });
        let event = Event::default()
            .id((i + 1).to_string())
            .data(data.to_string());
        Some((Ok::<_, Infallible>(event), i + 1))
    });
    Ok(Sse::new(stream))
}

pub async fn ws_echo(ws: WebSocketUpgrade) -> impl IntoResponse {
    ws.on_upgrade(echo)
}

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        let reply = match msg {
            Message::Text(text) => Message::Text(reply_to(text.as_str()).into()),
            Message::Binary(b) => Message::Binary(b),
            Message::Close(_) => break,
            // Pings are answered by the protocol layer itself.
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if socket.send(reply).await.is_err() {
            break;
        }
    }
}

/// `{"type":"ping","data":X}` gets a pong carrying X back; anything else is echoed verbatim.
fn reply_to(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(obj)) if obj.get("type").and_then(Value::as_str) == Some("ping") => {
            json!({
                "type": "pong",
                "data": obj.get("data").cloned().unwrap_or(Value::Null),
                "timestamp": timefmt::now_rfc3339(),
            })
            .to_string()
        }
        _ => text.to_owned(),
    }
}
