//! An HTTP request as a scenario writes it: method, URL, query, headers and at most one
//! body kind, every string a template. Steps of every kind (`request`, `sse`, `ws`) carry
//! one.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::template::{JsonTemplate, Template};

/// An HTTP request; every string is a template.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "RawRequest", into = "RawRequest")]
#[schemars(with = "RawRequest")]
pub struct Request {
    pub method: Method,
    pub url: Template,
    pub query: IndexMap<String, Template>,
    pub headers: IndexMap<String, Template>,
    pub body: Option<Body>,
}

/// The request body, at most one kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// JSON; strings are templates, a lone `{{ expr }}` keeps its native type.
    Json(JsonTemplate),
    /// Raw text sent as is after rendering.
    Text(Template),
    /// `application/x-www-form-urlencoded` fields, in order.
    Form(IndexMap<String, Template>),
    /// `multipart/form-data` parts, in order.
    Multipart(IndexMap<String, Part>),
}

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Part {
    Text(Template),
    File {
        /// The part's content (a template), sent as a file upload.
        content: Template,
        filename: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
    },
}

/// An HTTP method, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[schemars(transparent)]
pub struct Method(String);

impl Method {
    pub fn parse(text: &str) -> Result<Method, String> {
        let upper = text.trim().to_ascii_uppercase();
        if upper.is_empty() || !upper.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
            return Err(format!("invalid HTTP method `{text}`"));
        }
        Ok(Method(upper))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Method {
    fn default() -> Self {
        Method("GET".into())
    }
}

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Method::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The request as written: body kinds as sibling keys, at most one present.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    /// HTTP method (default GET).
    #[serde(default)]
    pub method: Method,
    pub url: Template,
    /// Query parameters appended to the URL.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub query: IndexMap<String, Template>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, Template>,
    /// A JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<JsonTemplate>,
    /// A raw text body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Template>,
    /// A form-urlencoded body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<IndexMap<String, Template>>,
    /// A multipart/form-data body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<IndexMap<String, Part>>,
}

impl TryFrom<RawRequest> for Request {
    type Error = String;
    fn try_from(raw: RawRequest) -> Result<Self, String> {
        let kinds: Vec<&str> = [
            raw.json.as_ref().map(|_| "json"),
            raw.body.as_ref().map(|_| "body"),
            raw.form.as_ref().map(|_| "form"),
            raw.multipart.as_ref().map(|_| "multipart"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if kinds.len() > 1 {
            return Err(format!(
                "a request has at most one body kind, found {}",
                kinds
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ));
        }
        let body = if let Some(j) = raw.json {
            Some(Body::Json(j))
        } else if let Some(t) = raw.body {
            Some(Body::Text(t))
        } else if let Some(f) = raw.form {
            Some(Body::Form(f))
        } else {
            raw.multipart.map(Body::Multipart)
        };
        Ok(Request {
            method: raw.method,
            url: raw.url,
            query: raw.query,
            headers: raw.headers,
            body,
        })
    }
}

impl From<Request> for RawRequest {
    fn from(r: Request) -> Self {
        let mut raw = RawRequest {
            method: r.method,
            url: r.url,
            query: r.query,
            headers: r.headers,
            json: None,
            body: None,
            form: None,
            multipart: None,
        };
        match r.body {
            Some(Body::Json(j)) => raw.json = Some(j),
            Some(Body::Text(t)) => raw.body = Some(t),
            Some(Body::Form(f)) => raw.form = Some(f),
            Some(Body::Multipart(m)) => raw.multipart = Some(m),
            None => {}
        }
        raw
    }
}

impl Request {
    /// Every template in the request, for validation and compilation.
    pub fn templates(&self) -> Vec<&Template> {
        let mut out = vec![&self.url];
        out.extend(self.query.values());
        out.extend(self.headers.values());
        match &self.body {
            Some(Body::Json(j)) => out.extend(j.templates()),
            Some(Body::Text(t)) => out.push(t),
            Some(Body::Form(f)) => out.extend(f.values()),
            Some(Body::Multipart(m)) => out.extend(m.values().map(|p| match p {
                Part::Text(t) => t,
                Part::File { content, .. } => content,
            })),
            None => {}
        }
        out
    }
}
