//! `ebrun login` / `ebrun logout`: credentials checked against the registry and kept in
//! Docker's config.json (0600).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Result};
use clap::Args;

use ebrun::image::pull::client::Credentials;
use ebrun::image::pull::credentials::{self, registry_domain};

use super::Context;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Username.
    #[arg(short, long)]
    username: Option<String>,
    /// Password.
    #[arg(short, long)]
    password: Option<String>,
    /// Take the password from stdin.
    #[arg(long = "password-stdin")]
    password_stdin: bool,
    /// The registry (default: Docker Hub).
    server: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (default: Docker Hub).
    server: Option<String>,
}

fn prompt(text: &str) -> Result<String> {
    eprint!("{text}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub fn login(ctx: &Context, args: LoginArgs) -> Result<i32> {
    let domain = registry_domain(args.server.as_deref());
    if args.password.is_some() && args.password_stdin {
        bail!("--password and --password-stdin are mutually exclusive");
    }
    let password = if args.password_stdin {
        if args.username.is_none() {
            bail!("Must provide --username with --password-stdin");
        }
        let mut p = String::new();
        std::io::stdin().lock().read_line(&mut p)?;
        p.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = args.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p
    } else if std::io::stdin().is_terminal() {
        String::new()
    } else {
        bail!("Cannot perform an interactive login from a non TTY device");
    };
    let username = match args.username {
        Some(u) => u,
        None => prompt("Username: ")?,
    };
    let password = if password.is_empty() {
        prompt("Password: ")?
    } else {
        password
    };
    if username.is_empty() {
        bail!("Error: Non-null Username Required");
    }
    let creds = Credentials { username, password };
    if let Err(e) = credentials::check_login(&ctx.paths, Some(&domain), &creds) {
        eprintln!("Error response from daemon: {e}");
        return Ok(1);
    }
    let path = credentials::store(&domain, &creds)?;
    eprintln!(
        "WARNING! Your password will be stored unencrypted in {}.",
        path.display()
    );
    println!("Login Succeeded");
    Ok(0)
}

pub fn logout(_ctx: &Context, args: LogoutArgs) -> Result<i32> {
    let domain = registry_domain(args.server.as_deref());
    let key = credentials::server_key(&domain);
    if credentials::erase(&domain)? {
        println!("Removing login credentials for {key}");
    } else {
        println!("Not logged in to {key}");
    }
    Ok(0)
}
