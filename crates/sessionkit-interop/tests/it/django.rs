//! Calling Django: `tests/django/driver.py` in the venv that `.ci/django-setup.sh` makes.

use std::path::PathBuf;
use std::process::Command;

use sessionkit_core::value::Map;
use sessionkit_core::{Value, json};

pub(crate) const SECRET: &str = "sessionkit-interop-secret-key";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Django series under test: `SK_DJANGO_SERIES` (as `scripts/test` sets it for each
/// tested version), default 5.2, the LTS.
fn series() -> String {
    std::env::var("SK_DJANGO_SERIES")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "5.2".to_owned())
}

/// The venv's python: `SK_DJANGO_PYTHON`, else the venv `.ci/django-setup.sh SERIES` makes.
fn python_path() -> PathBuf {
    std::env::var_os("SK_DJANGO_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(format!("target/django-{}/bin/python", series())))
}

/// The venv's python, if the series' Django is installed there.
fn python() -> Result<PathBuf, String> {
    let python = python_path();
    let setup = format!(".ci/django-setup.sh {}", series());
    if !python.exists() {
        return Err(format!("{} not found; run {setup}", python.display()));
    }
    let out = Command::new(&python)
        .args(["-c", "import django; print(django.__version__)"])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("django is not importable in the venv; run {setup}"));
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if version == series() || version.starts_with(&format!("{}.", series())) {
        Ok(python)
    } else {
        Err(format!(
            "the venv has Django {version}, not {}; run {setup}",
            series()
        ))
    }
}

/// One Django configuration (engine, database, secret...).
#[derive(Clone, Debug)]
pub(crate) struct Django {
    python: PathBuf,
    env: Vec<(String, String)>,
}

impl Django {
    /// Django with `engine`, or `None` (a visible SKIP; a failure under
    /// `SESSIONKIT_REQUIRE_SERVICES=1`) when Django is not installed.
    pub(crate) fn new(engine: &str) -> Option<Django> {
        let what = format!("Django {} ({})", series(), python_path().display());
        let python = sessionkit_testkit::require(&what, python())?;
        Some(Django {
            python,
            env: vec![
                ("SK_ENGINE".into(), engine.into()),
                ("SK_SECRET_KEY".into(), SECRET.into()),
                ("SK_FAST_HASHER".into(), "1".into()),
            ],
        })
    }

    /// Sets an environment variable of the driver.
    pub(crate) fn with(mut self, key: &str, value: &str) -> Django {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs a driver command; `Err` with Django's message when it fails.
    pub(crate) fn try_call(&self, args: &[&str]) -> Result<Map, String> {
        let out = Command::new(&self.python)
            .arg(root().join("tests/django/driver.py"))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .map_err(|e| format!("cannot run the driver: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        match json::parse(text.trim()) {
            Ok(Value::Map(m)) => Ok(m),
            other => Err(format!("unexpected driver output {text:?}: {other:?}")),
        }
    }

    /// Runs a driver command that must succeed.
    pub(crate) fn call(&self, args: &[&str]) -> Map {
        self.try_call(args)
            .unwrap_or_else(|e| panic!("driver {args:?} failed: {e}"))
    }
}

/// A string field of a driver answer.
pub(crate) fn text(m: &Map, field: &str) -> String {
    match m.get(field) {
        Some(Value::String(s)) => s.clone(),
        other => panic!("field {field}: {other:?} in {m:?}"),
    }
}

impl Django {
    /// Starts Django's development server for this configuration on `127.0.0.1:port`;
    /// killed when the returned guard drops.
    pub(crate) fn runserver(&self, port: u16) -> Server {
        let child = Command::new(&self.python)
            .current_dir(root().join("tests/django"))
            .args([
                "manage.py",
                "runserver",
                &format!("127.0.0.1:{port}"),
                "--noreload",
            ])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start Django's runserver");
        let server = Server(child);
        let addr = format!("127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while sessionkit_testkit::http::get(&addr, "/color/get", None).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "Django did not come up"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        server
    }
}

/// A child process killed on drop.
pub(crate) struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
