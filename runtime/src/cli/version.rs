//! `ebrun version`: the client and server blocks as `docker version` prints them (the
//! docker CLI's template, laid out by its tabwriter), `--format` through the same template
//! engine. ebrun has no daemon on the container path: the server is this library, and its
//! block is the Engine API's `/version` document (one source for both).

use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};

use super::Context;

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Format output using a custom template: 'json', or a Go template.
    #[arg(short = 'f', long)]
    format: Option<String>,
}

/// The docker CLI's `defaultVersionTemplate`, for a server whose only component is the
/// Engine.
const TEMPLATE: &str = r#"{{with .Client -}}
Client:{{with .Platform}}{{if ne .Name ""}} {{.Name}}{{end}}{{end}}
 Version:	{{.Version}}
 API version:	{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Go version:	{{.GoVersion}}
 Git commit:	{{.GitCommit}}
 Built:	{{.BuildTime}}
 OS/Arch:	{{.Os}}/{{.Arch}}
 Context:	{{.Context}}
{{- end}}

{{- with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  Version:	{{.Version}}
  API version:	{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:	{{index .Details "GoVersion"}}
  Git commit:	{{index .Details "GitCommit"}}
  Built:	{{index .Details "BuildTime"}}
  OS/Arch:	{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:	{{index .Details "Experimental"}}
 {{- end}}
{{- end}}"#;

/// `{"Client": ..., "Server": ...}` as the docker CLI's versionInfo.
pub fn document() -> Value {
    let server = ebrun::engine_api::version_document();
    json!({
        "Client": {
            "Platform": {"Name": "ebrun"},
            "Version": env!("CARGO_PKG_VERSION"),
            "ApiVersion": ebrun::engine_api::API_VERSION,
            "DefaultAPIVersion": ebrun::engine_api::API_VERSION,
            "GitCommit": server["GitCommit"],
            "GoVersion": server["GoVersion"],
            "Os": server["Os"],
            "Arch": server["Arch"],
            "BuildTime": server["BuildTime"],
            "Context": "default",
        },
        "Server": server,
    })
}

pub fn version(_ctx: &Context, args: VersionArgs) -> Result<i32> {
    let doc = document();
    let source = match args.format.as_deref() {
        None | Some("") => TEMPLATE,
        Some("json") => "{{json .}}",
        Some(t) => t,
    };
    let template = match ebrun::format::template::Template::parse(source) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("template parsing error: {e}");
            return Ok(64);
        }
    };
    // The CLI's client struct calls it APIVersion; its JSON says ApiVersion.
    let mut data = doc.clone();
    data["Client"]["APIVersion"] = doc["Client"]["ApiVersion"].clone();
    let (text, err) = match template.execute(&data) {
        Ok(t) => (t, None),
        Err(e) => (String::new(), Some(e)),
    };
    super::print_out(&ebrun::format::tabwriter::layout(
        &format!("{text}\n"),
        20,
        1,
    ))?;
    match err {
        Some(e) => {
            eprintln!("{e}");
            Ok(1)
        }
        None => Ok(0),
    }
}
