//! What the user asked for on the command line (`ebrun run` flags), before the image config
//! is merged in.

use std::path::PathBuf;

/// `ebrun run` options; each field is one Docker flag.
#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    /// IMAGE as typed.
    pub image: String,
    /// `--platform`: the image must be of this platform (pulled for it if not).
    pub platform: Option<crate::image::Platform>,
    /// `--name`
    pub name: Option<String>,
    /// CMD... after the image.
    pub cmd: Vec<String>,
    /// `--entrypoint` (`Some(vec![])`, from `--entrypoint ""`, clears the image's).
    pub entrypoint: Option<Vec<String>>,
    /// `-e KEY=VALUE` / `-e KEY` and `--env-file` lines, already resolved to `KEY=VALUE`.
    pub env: Vec<String>,
    /// `-w`
    pub workdir: Option<PathBuf>,
    /// `-u USER[:GROUP]`
    pub user: Option<String>,
    /// `-h`
    pub hostname: Option<String>,
    /// `-t`
    pub tty: bool,
    /// `-i`
    pub interactive: bool,
    /// `--read-only`
    pub read_only: bool,
    /// `--rm`
    pub auto_remove: bool,
    /// `-m`, `--cpus`, `--pids-limit`, ... (see the cgroups module).
    pub resources: crate::cgroups::Resources,
    /// `--net`, `-p`, `--dns`, `--add-host`, ... (see the network module).
    pub network: crate::network::NetworkSpec,
    /// `--restart`
    pub restart: super::RestartPolicy,
    /// `-d`
    pub detach: bool,
    /// `-v`, `--mount`, `--tmpfs`, `--volumes-from` (see the volumes module).
    pub mounts: crate::volumes::MountRequests,
    /// `--cap-add`, `--cap-drop`, `--privileged`, `--security-opt`, resolved.
    pub security: crate::process::SecuritySpec,
    /// `--userns=host`: no user namespace even with daemon.json's `userns-remap`.
    pub userns_host: bool,
    /// `--sysctl KEY=VALUE` (Docker's `HostConfig.Sysctls`), on top of Docker's defaults.
    pub sysctls: std::collections::BTreeMap<String, String>,
    /// `--cgroupns host|private`; None: Docker's default for this host.
    pub cgroupns: Option<crate::cgroups::CgroupnsMode>,
    /// `--label`, `--label-file`.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Docker's `ConsoleSize` (rows, columns) with `-t`.
    pub console_size: Option<(u16, u16)>,
    /// Docker's `StdinOnce` (an attached client's end of input closes the stdin).
    pub stdin_once: bool,
    /// `--health-cmd`, `--health-interval`, ..., `--no-healthcheck` (`["NONE"]`): the fields
    /// given; the others (0, no test) come from the image's HEALTHCHECK.
    pub healthcheck: Option<crate::image::HealthConfig>,
    /// `--init`, `--ulimit`, `--shm-size`, `--stop-signal`, `--group-add`, ... (see
    /// run_options).
    pub options: super::RunOptions,
}

/// `--label KEY=VALUE` (or `KEY`, with an empty value) as Docker splits it.
pub fn parse_label(entry: &str) -> (String, String) {
    let (k, v) = entry.split_once('=').unwrap_or((entry, ""));
    (k.to_string(), v.to_string())
}

/// Default PATH when neither the image nor the user sets one (Docker's).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The command as Docker assembles it: (entrypoint, cmd).
pub(super) fn command(
    spec: &RunSpec,
    image: Option<&oci_spec::image::Config>,
) -> (Vec<String>, Vec<String>) {
    let image_entrypoint = image
        .and_then(|c| c.entrypoint().clone())
        .unwrap_or_default();
    let image_cmd = image.and_then(|c| c.cmd().clone()).unwrap_or_default();
    let entrypoint = match &spec.entrypoint {
        Some(e) => e.clone(),
        None => image_entrypoint,
    };
    let cmd = if !spec.cmd.is_empty() {
        spec.cmd.clone()
    } else if spec.entrypoint.is_some() {
        // A new entrypoint drops the image's CMD, as in Docker.
        Vec::new()
    } else {
        image_cmd
    };
    (entrypoint, cmd)
}

/// The environment: image env, then the user's (same key wins), plus PATH, HOSTNAME and
/// TERM as Docker adds them.
pub(super) fn environment(
    spec: &RunSpec,
    image: Option<&oci_spec::image::Config>,
    hostname: &str,
) -> Vec<String> {
    let mut env: Vec<String> = Vec::new();
    let mut set = |entry: String| {
        let key = entry.split('=').next().unwrap_or("").to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(entry);
    };
    set(DEFAULT_PATH.to_string());
    set(format!("HOSTNAME={hostname}"));
    if spec.tty {
        set("TERM=xterm".to_string());
    }
    for e in image.and_then(|c| c.env().clone()).unwrap_or_default() {
        set(e);
    }
    for e in &spec.env {
        set(e.clone());
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::ConfigBuilder;

    fn image() -> oci_spec::image::Config {
        ConfigBuilder::default()
            .entrypoint(vec!["/entry".to_string()])
            .cmd(vec!["serve".to_string()])
            .env(vec!["PATH=/opt/bin".to_string(), "A=1".to_string()])
            .build()
            .unwrap()
    }

    #[test]
    fn docker_command_rules() {
        let img = image();
        let mut spec = RunSpec::default();
        assert_eq!(
            command(&spec, Some(&img)),
            (vec!["/entry".into()], vec!["serve".into()])
        );
        spec.cmd = vec!["other".into()];
        assert_eq!(command(&spec, Some(&img)).1, vec!["other".to_string()]);
        spec.cmd.clear();
        spec.entrypoint = Some(vec!["sh".into()]);
        assert_eq!(command(&spec, Some(&img)), (vec!["sh".into()], vec![]));
        spec.entrypoint = Some(Vec::new());
        assert_eq!(command(&spec, Some(&img)), (vec![], vec![]));
    }

    #[test]
    fn user_env_overrides_image_env() {
        let img = image();
        let spec = RunSpec {
            env: vec!["A=2".into(), "B=3".into()],
            ..Default::default()
        };
        let env = environment(&spec, Some(&img), "h");
        assert!(env.contains(&"PATH=/opt/bin".to_string()));
        assert!(env.contains(&"A=2".to_string()) && !env.contains(&"A=1".to_string()));
        assert!(env.contains(&"HOSTNAME=h".to_string()) && env.contains(&"B=3".to_string()));
    }
}
