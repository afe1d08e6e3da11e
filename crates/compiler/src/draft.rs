//! The compiled scenario before rendering: every string here is already template source
//! (recorded text escaped with `Template::literal`, correlated slots as `{{ var }}`), so
//! the emitter only lays it out.

use throng_ir::Extractor;

#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub name: String,
    pub header_comments: Vec<String>,
    pub vars: Vec<VarDef>,
    pub secrets: Vec<String>,
    pub default_headers: Vec<(String, String)>,
    pub steps: Vec<DraftStep>,
}

#[derive(Debug, Clone)]
pub struct VarDef {
    pub name: String,
    /// A JSON value whose strings are template source.
    pub value: serde_json::Value,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DraftStep {
    pub name: String,
    pub har: String,
    pub entry: usize,
    pub method: String,
    pub url: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: DraftBody,
    pub extract: Vec<DraftExtract>,
    pub status: u16,
    pub think_ms: Option<u64>,
    pub follow_redirects: Option<bool>,
    /// Comment lines shown above the step (suggestions, warnings).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub enum DraftBody {
    #[default]
    None,
    Json(serde_json::Value),
    Text(String),
    Form(Vec<(String, String)>),
    Multipart(Vec<(String, DraftPart)>),
}

#[derive(Debug, Clone)]
pub enum DraftPart {
    Text(String),
    File {
        content: String,
        filename: String,
        content_type: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct DraftExtract {
    pub var: String,
    pub extractor: Extractor,
    pub comment: String,
}
